"""`show`, `history` and `stats --by published` on a real crawl of the sample site, whose second
generation edits one article (two versions) and which syndicates one article (a duplicate)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from archives import copy_archive, record, store_records
from support import newsarchive, records_of
from warcio.archiveiterator import ArchiveIterator


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_twice: Path) -> Path:
    return copy_archive(crawled_twice, tmp_path_factory.mktemp("show"))


@pytest.fixture(scope="module")
def records(archive: Path) -> list[dict[str, Any]]:
    return records_of(archive)


def edited(records: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    second = next(r for r in records if r["version"] == 2)
    first = next(r for r in records if r["id"] == second["previous"])
    return first, second


def cli_json(*args: str | Path) -> dict[str, Any]:
    done = newsarchive(*args, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_show_by_id_gives_the_record_its_versions_and_its_warc_record(
    archive: Path, records: list[dict[str, Any]]
) -> None:
    first, second = edited(records)
    shown = newsarchive("show", "--archive-dir", archive, first["id"])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"id: {first['id']}  version 1 of 2"
    assert f"title: {first['title']}" in lines
    assert first["text"].split("\n")[0] in lines
    assert any(line.startswith(f"  2  {second['id']}  fetched") for line in lines)
    view = cli_json("show", "--archive-dir", archive, first["id"])
    assert view["record"] == first
    assert [v["id"] for v in view["versions"]] == [first["id"], second["id"]]
    warc = first["warc"]
    with Path(view["warc_path"]).open("rb") as stream:
        stream.seek(warc["offset"])
        found = next(iter(ArchiveIterator(stream)))
        assert found.rec_headers.get_header("WARC-Record-ID") == warc["record_id"]
        assert found.rec_headers.get_header("WARC-Target-URI") == first["final_url"]


def test_show_by_url_gives_the_latest_version(archive: Path, records: list[dict[str, Any]]) -> None:
    first, second = edited(records)
    assert cli_json("show", "--archive-dir", archive, first["url"])["record"] == second


def test_show_names_duplicates_both_ways(archive: Path, records: list[dict[str, Any]]) -> None:
    copy = next(r for r in records if r["duplicate_of"])
    owner = cli_json("show", "--archive-dir", archive, copy["duplicate_of"])
    assert [d["id"] for d in owner["duplicates"]] == [copy["id"]]
    assert owner["duplicate_of"] is None
    shown = newsarchive("show", "--archive-dir", archive, copy["id"]).stdout
    assert f"duplicate of: {copy['duplicate_of']}" in shown


def test_show_of_nothing_archived_is_one_line(archive: Path) -> None:
    done = newsarchive("show", "--archive-dir", archive, "https://nowhere.example/x")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "newsarchive: error: no archived record has the id or URL 'https://nowhere.example/x'"
    )


def test_history_shows_a_word_diff_between_versions(
    archive: Path, records: list[dict[str, Any]]
) -> None:
    first, second = edited(records)
    shown = newsarchive("history", "--archive-dir", archive, first["url"])
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.index(f"version 1  {first['id']}") < text.index(f"version 2  {second['id']}")
    assert "stood at [-38-]{+36+} per cent of capacity on [-Tuesday,-]{+Wednesday,+}" in text
    history = cli_json("history", "--archive-dir", archive, second["id"])
    assert [v["id"] for v in history["versions"]] == [first["id"], second["id"]]
    changes = history["versions"][1]["changes"]
    assert list(changes) == ["text"]  # the title and metadata did not change
    for op, words in changes["text"]:
        assert op in "=…" or words in (first["text"] if op == "-" else second["text"])
    assert {op for op, _ in changes["text"]} == {"=", "-", "+", "…"}


def test_history_escapes_control_characters_and_diffs_metadata(tmp_path: Path) -> None:
    url = "https://news.example/1.html"
    versions = [
        record(1, title="Calm title", tags=["news"]),
        record(1, id="r0002", version=2, previous="r0001", title="Calm\x1b[2J title", tags=[]),
    ]
    layout = store_records(tmp_path, versions)
    shown = newsarchive("history", "--archive-dir", layout.root, url).stdout
    assert "\x1b" not in shown
    assert "  title: [-Calm-]{+Calm\\x1b[2J+} title" in shown
    assert "  tags: [-news-]" in shown
    second = shown.split("version 2")[1]
    assert "  text:" not in second and "published:" not in second


def test_stats_by_published_day(archive: Path, records: list[dict[str, Any]]) -> None:
    stats = cli_json("stats", "--archive-dir", archive, "--by", "published")
    days = Counter((r["published"] or "")[:10] or None for r in records)
    by_day = Counter()
    for row in stats["per_day"]:
        by_day[row["day"]] += row["records"]
    assert by_day == days
    table = newsarchive("stats", "--archive-dir", archive, "--by", "published").stdout
    assert table.splitlines()[1].split()[0] == "published"
