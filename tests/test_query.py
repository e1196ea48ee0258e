"""`newsarchive query` on a real crawl of the sample site (two generations: a new version of one
article, new articles, a syndicated duplicate), and on records chosen for the edge cases."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from archives import SEED_TITLE, copy_archive, expected, record, store_records
from support import newsarchive, records_of

from archive.catalog import Catalog


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_twice: Path) -> Path:
    return copy_archive(crawled_twice, tmp_path_factory.mktemp("query"))


def query(archive: Path, *args: str) -> list[dict[str, Any]]:
    done = newsarchive(
        "query", "--archive-dir", archive, "--format", "jsonl", "--limit", "0", *args
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


@pytest.mark.parametrize("search", ["Venezuela", '"DDoS attack"', "vene*", "venezuela"])
def test_search_finds_the_seed_article(archive: Path, search: str) -> None:
    found = query(archive, "--search", search)
    assert [r["title"] for r in found] == [SEED_TITLE]


def test_a_phrase_must_match_as_a_phrase(archive: Path) -> None:
    assert query(archive, "--search", '"attack DDoS"') == []


def test_default_is_the_latest_version_of_each_article_without_duplicates(archive: Path) -> None:
    records = records_of(archive)
    assert any(r["version"] > 1 for r in records) and any(r["duplicate_of"] for r in records)
    assert ids(query(archive)) == ids(expected(records))
    assert ids(query(archive, "--all-versions")) == ids(expected(records, all_versions=True))
    assert ids(query(archive, "--include-duplicates")) == ids(
        expected(records, include_duplicates=True)
    )


def test_jsonl_gives_the_full_records_byte_for_byte(archive: Path) -> None:
    done = newsarchive("query", "--archive-dir", archive, "--format", "jsonl", "--limit", "0")
    assert done.returncode == 0, done.stderr
    stored = {
        json.loads(line)["id"]: line
        for path in sorted((archive / "records").rglob("*.jsonl"))
        for line in path.read_bytes().splitlines(keepends=True)
    }
    wanted = [stored[id] for id in ids(expected(records_of(archive)))]
    assert wanted and done.stdout.encode().splitlines(keepends=True) == wanted


def test_filters_by_source_language_and_time(archive: Path) -> None:
    latest = expected(records_of(archive))
    assert ids(query(archive, "--source", "wire")) == ids(
        [r for r in latest if r["source"] == "wire"]
    )
    assert ids(query(archive, "--language", "ja")) == ids(
        [r for r in latest if r["language"] == "ja"]
    )
    on_the_13th = [r for r in latest if (r["published"] or "").startswith("2024-08-13")]
    assert on_the_13th
    assert ids(query(archive, "--since", "2024-08-13", "--until", "2024-08-13")) == ids(on_the_13th)


def test_csv_and_table(archive: Path) -> None:
    done = newsarchive(
        "query", "--archive-dir", archive, "--format", "csv", "--search", "Venezuela"
    )
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [row["title"] for row in rows] == [SEED_TITLE]
    assert rows[0]["source"] == "daily" and rows[0]["published"] == "2024-08-13T09:00:00Z"
    table = newsarchive("query", "--archive-dir", archive, "--limit", "3").stdout.splitlines()
    assert table[0].split()[:4] == ["published", "source", "language", "version"]
    assert len(table) == 2 + 3
    assert all(len(line) <= 80 for line in table)  # no terminal: 80 columns


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2024-13-01"], "bad date"),
        (["--until", "yesterday"], "bad date"),
        (["--search", '"unclosed'], 'a quote (") is not closed'),
        (["--search=-budget"], "not only what to exclude"),
        (["--search", "fts:covid-19"], "bad search 'fts:covid-19': no such column: 19"),
    ],
)
def test_bad_queries_are_one_line_errors(archive: Path, args: list[str], message: str) -> None:
    done = newsarchive("query", "--archive-dir", archive, *args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_published_falls_back_to_fetched_and_ties_break_on_id(tmp_path: Path) -> None:
    records = [
        record(1, id="b", published="2024-08-10T00:00:00Z"),
        record(2, id="a", published="2024-08-10T00:00:00Z"),
        record(3, id="c", published=None, fetched_at="2024-08-12T00:00:00Z"),
        record(4, id="d", published="not a date", fetched_at="2024-08-01T00:00:00Z"),
    ]
    layout = store_records(tmp_path, records)
    assert ids(query(layout.root)) == ["c", "a", "b", "d"]
    assert ids(query(layout.root, "--since", "2024-08-11")) == ["c"]


def test_versions_added_out_of_order_keep_the_highest_as_latest(tmp_path: Path) -> None:
    url = "https://news.example/x.html"
    layout = store_records(
        tmp_path,
        [
            record(1, id="v2", version=2, canonical_url=url, text="second text"),
            record(2, id="v1", version=1, canonical_url=url, text="first text"),
        ],
    )
    assert ids(query(layout.root)) == ["v2"]
    assert ids(query(layout.root, "--search", "first")) == []
    assert ids(query(layout.root, "--search", "first", "--all-versions")) == ["v1"]


def test_readers_are_not_blocked_by_a_writing_crawl(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1, title="Venezuela talks")])
    writer = sqlite3.connect(layout.catalog_path)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM search_docs")  # uncommitted: readers still see the last commit
    try:
        assert ids(query(layout.root, "--search", "Venezuela")) == ["r0001"]
    finally:
        writer.rollback()
        writer.close()


def test_an_archive_without_a_catalog_is_a_clear_error(tmp_path: Path) -> None:
    done = newsarchive("query", "--archive-dir", tmp_path)
    assert done.returncode == 1 and "no catalog" in done.stderr


def test_an_archive_whose_path_holds_uri_characters_is_read(tmp_path: Path) -> None:
    stored = [record(1, title="Venezuela talks"), record(2)]
    layout = store_records(tmp_path / "news #1 ?100%", stored)
    assert ids(query(layout.root, "--search", "Venezuela")) == ["r0001"]
    catalog = Catalog(layout.catalog_path, read_only=True)  # as verify and status open it
    try:
        (indexed,) = catalog.db.execute("SELECT count(*) FROM search_docs").fetchone()
    finally:
        catalog.close()
    assert indexed == len(stored), "the read-only catalog reads this archive's rows"
