"""Readers over a collection: two shards crawled with the real CLI, read as one archive.

The sample site's outlets are crawled into two shards (daily + herald, wire + gazette) and, for
comparison, all into one archive; every reader run over the two shards must give what it gives
over the one archive.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from archives import record, store_records
from support import newsarchive, records_of, write_config
from test_serve import _get, _serving
from test_sql_readonly import fingerprint, writing_forms
from warcio.archiveiterator import ArchiveIterator

from archive.collection import Collection
from archive.columnar import compact_archive
from archive.records import RecordStore
from archive.sql import open_views
from archive.warcwriter import HttpExchange, WarcLocation, WarcWriter
from crawler.sample_server import SampleSite

SHARD_SOURCES = {"shard-a": ("daily", "herald"), "shard-b": ("wire", "gazette")}


@dataclass(frozen=True)
class Shards:
    root: Path
    config: Path  # [archive] dir = whole, [collection] shards = shard-a, shard-b
    whole: Path

    @property
    def dirs(self) -> list[Path]:
        return [self.root / name for name in SHARD_SOURCES]

    def args(self) -> list[str | Path]:
        """`--archive-dir` repeated, once per shard."""
        return [arg for shard in self.dirs for arg in ("--archive-dir", shard)]


@pytest.fixture(scope="module")
def shards(site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Shards:
    root = tmp_path_factory.mktemp("collection")
    config = write_config(root / "sources.toml", site, root / "whole")
    with config.open("a", encoding="utf-8") as file:
        file.write('\n[collection]\nshards = ["shard-a", "shard-b"]\n')
    done = newsarchive("crawl", "--config", config, "--json")
    assert done.returncode == 0, done.stderr
    for shard, sources in SHARD_SOURCES.items():
        picked = [arg for source in sources for arg in ("--source", source)]
        done = newsarchive("crawl", "--config", config, "--archive-dir", root / shard, *picked)
        assert done.returncode == 0, done.stderr
    return Shards(root, config, root / "whole")


def ids(*args: str | Path) -> list[str]:
    """The record ids `query ... --format jsonl` prints, in its order."""
    done = newsarchive("query", *args, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line)["id"] for line in done.stdout.splitlines()]


def records(*args: str | Path) -> Iterator[dict[str, object]]:
    done = newsarchive("query", *args, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return (json.loads(line) for line in done.stdout.splitlines())


everything = ["--include-duplicates", "--limit", "0"]


def test_query_merges_the_shards_in_one_archives_order(shards: Shards) -> None:
    whole = ids("--archive-dir", shards.whole, *everything)
    assert len(whole) > 10
    assert ids("--config", shards.config, *everything) == whole
    assert ids(*shards.args(), *everything) == whole
    assert ids(*shards.args(), "--include-duplicates", "--limit", "4") == whole[:4]
    sources = {r["source"] for r in records(*shards.args(), "--limit", "0")}
    assert sources == {"daily", "herald", "wire", "gazette"}


def test_query_filters_and_searches_across_shards(shards: Shards) -> None:
    wire = ["--source", "wire", "--include-duplicates", "--limit", "0"]
    assert ids(*shards.args(), *wire) == ids("--archive-dir", shards.whole, *wire) != []
    search = ["--search", "the", "--include-duplicates", "--limit", "0"]
    found = ids(*shards.args(), *search)
    # The one archive indexes a syndicated copy's title only (its text is null there).
    copies = {
        r["id"] for r in records("--archive-dir", shards.whole, *everything) if r["duplicate_of"]
    }
    assert set(found) - copies == set(ids("--archive-dir", shards.whole, *search)) - copies
    for shard in shards.dirs:  # merged: each shard's own order kept
        own = ids("--archive-dir", shard, *search)
        assert [i for i in found if i in own] == own
    assert len(ids(*shards.args(), *search[:-1], "3")) == 3
    unknown = newsarchive("query", *shards.args(), "--source", "nope")
    assert unknown.returncode == 2
    assert "no source named 'nope' in this collection; its sources: daily, gazette" in (
        unknown.stderr
    )


def test_stats_sum_the_shards(shards: Shards) -> None:
    def stats(*args: str | Path) -> dict[str, object]:
        done = newsarchive("stats", *args, "--json")
        assert done.returncode == 0, done.stderr
        figures: dict[str, object] = json.loads(done.stdout)
        return figures

    parts = [stats("--archive-dir", shard) for shard in shards.dirs]
    both = stats("--config", shards.config)
    for key in ("records", "runs", "warc_files", "warc_bytes", "new_versions"):
        assert both[key] == sum(part[key] for part in parts), key  # type: ignore[misc]
    assert both["records"] == stats("--archive-dir", shards.whole)["records"]
    assert {day["source"] for day in both["per_day"]} == {  # type: ignore[attr-defined]
        "daily",
        "herald",
        "wire",
        "gazette",
    }


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two shards of chosen records (closed days, so with Parquet twins): version 1 of story 1
    among the first's newest, its version 2 in the second, older than the first's records."""
    root = tmp_path_factory.mktemp("versions")
    newer = record(
        1,
        id="r0001b",
        version=2,
        previous="r0001",
        text="Body of story 1, corrected.",
        content_hash="sha256:" + "b" * 64,
        fetched_at="2024-08-30T10:00:00Z",
        published="2024-07-01T09:00:00Z",
    )
    older = record(3, published="2024-06-01T09:00:00Z")
    shards = [root / "x", root / "y"]
    first = [record(27), record(1), record(28)]
    for shard, chosen in zip(shards, (first, [newer, older]), strict=True):
        assert compact_archive(store_records(shard, chosen))
    return shards


def shard_args(shards: list[Path]) -> list[str | Path]:
    return [arg for shard in shards for arg in ("--archive-dir", shard)]


def test_the_latest_version_is_the_newest_in_any_shard(versions: list[Path]) -> None:
    both = shard_args(versions)
    assert ids(*both) == ["r0027", "r0028", "r0001b", "r0003"]
    # The first shard's two newest hold a superseded version: it is asked for more.
    assert ids(*both, "--limit", "2") == ["r0027", "r0028"]
    done = newsarchive("query", *both, "--all-versions", "--format", "csv")
    latest = {row["id"]: row["latest"] for row in csv.DictReader(io.StringIO(done.stdout))}
    assert latest == {"r0001": "False"} | dict.fromkeys(
        ["r0001b", "r0003", "r0027", "r0028"], "True"
    )
    rows = sql_rows(both, "SELECT id FROM latest ORDER BY id")
    assert [row["id"] for row in rows] == ["r0001b", "r0003", "r0027", "r0028"]
    assert sql_rows(both, "SELECT count(*) AS n FROM articles") == [{"n": 5}]


def sql_rows(args: list[str | Path], query: str) -> list[dict[str, object]]:
    done = newsarchive("sql", *args, query, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_export_writes_every_shard_into_one_file(versions: list[Path], tmp_path: Path) -> None:
    both = shard_args(versions)
    for fmt in ("parquet", "jsonl", "csv"):
        out = tmp_path / f"all.{fmt}"
        done = newsarchive("export", *both, "--format", fmt, out, "--all-versions")
        assert done.returncode == 0, done.stderr
        assert "exported 5 records" in done.stdout
    order = ids(*both, "--all-versions")
    assert order == ["r0027", "r0001", "r0028", "r0001b", "r0003"]
    exported = duckdb.sql(f"SELECT id FROM read_parquet('{tmp_path / 'all.parquet'}')").fetchall()
    assert [row[0] for row in exported] == order
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == order
    with (tmp_path / "all.csv").open(encoding="utf-8") as file:
        assert [row["id"] for row in csv.DictReader(file)] == order
    inside = versions[1] / "export.jsonl"
    refused = newsarchive("export", *both, "--format", "jsonl", inside)
    assert refused.returncode == 2 and "inside the archive" in refused.stderr
    assert not inside.exists()


def test_sql_over_the_shards_cannot_write_any_of_them(versions: list[Path], tmp_path: Path) -> None:
    before = [fingerprint(shard) for shard in versions]
    outside = tmp_path / "out.csv"
    with open_views(Collection.of(*versions)) as con:
        for shard in versions:
            for form in writing_forms(shard, outside):
                with contextlib.suppress(duckdb.Error):
                    con.execute(form).fetchall()
    for shard in versions:
        inside = shard / "out.csv"
        done = newsarchive("sql", *shard_args(versions), "SELECT 1", "--output", inside)
        assert done.returncode == 2 and "inside the archive" in done.stderr
        copy = f"COPY (SELECT 1) TO '{inside}'"
        assert newsarchive("sql", *shard_args(versions), copy).returncode == 2
        assert not inside.exists()
    assert [fingerprint(shard) for shard in versions] == before
    assert not outside.exists()


def cross_shard(shards: Shards, root: Path) -> Path:
    """A third shard whose WARC file holds a revisit of a response that lives in shard-a, and
    whose one record is a copy (another id) of a shard-a record, pointing at shard-a's WARC
    file: what a worker writes when the collection's index finds the payload elsewhere."""
    original = next(r for r in records_of(shards.dirs[0]) if r["duplicate_of"] is None)
    pointer = original["warc"]
    target = WarcLocation(
        pointer["filename"],
        pointer["offset"],
        pointer["length"],
        pointer["record_id"],
        pointer["payload_digest"],
        original["final_url"],
        original["fetched_at"],
    )
    shard = root / "shard-c"
    (shard / "warc").mkdir(parents=True)
    exchange = HttpExchange(
        original["final_url"], "GET", (), "HTTP/1.1", 200, "OK", (), b"", datetime.now(UTC)
    )
    with WarcWriter(shard / "warc", prefix="worker-c") as writer:
        revisit = writer.write_revisit(
            exchange, profile="identical-payload-digest", refers_to=target
        )
    store = RecordStore(shard / "records")
    store.append({**original, "id": "copy-in-shard-c", "source": "copies"})
    store.close()
    assert newsarchive("reindex", "--archive-dir", shard).returncode == 0
    assert revisit.record_id != target.record_id
    return shard


def test_verify_resolves_revisits_and_pointers_across_shards(
    shards: Shards, tmp_path: Path
) -> None:
    done = newsarchive("verify", "--config", shards.config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified: no problems" in done.stdout
    third = cross_shard(shards, tmp_path)
    alone = newsarchive("verify", "--archive-dir", third)
    assert alone.returncode == 1
    assert "which is in no WARC file" in alone.stdout
    assert "does not exist" in alone.stdout
    with_target = newsarchive("verify", "--archive-dir", shards.dirs[0], "--archive-dir", third)
    assert with_target.returncode == 0, with_target.stdout
    without = newsarchive("verify", "--archive-dir", shards.dirs[1], "--archive-dir", third)
    assert without.returncode == 1
    problems = without.stdout.splitlines()
    assert len(problems) == 2 and all(p.startswith(f"{third}/") for p in problems), problems
    shown = newsarchive(
        "show", "copy-in-shard-c", "--archive-dir", third, "--archive-dir", shards.dirs[0], "--json"
    )
    assert shown.returncode == 0, shown.stderr
    pointer = records_of(third)[0]["warc"]["filename"]
    assert json.loads(shown.stdout)["warc_path"] == str(shards.dirs[0] / "warc" / pointer)


def test_wacz_packages_every_shard(shards: Shards, tmp_path: Path) -> None:
    out = tmp_path / "collection.wacz"
    done = newsarchive("wacz", out, *shards.args())
    assert done.returncode == 0, done.stderr
    warcs = {path.name for shard in shards.dirs for path in (shard / "warc").glob("*.warc.gz")}
    with zipfile.ZipFile(out) as package:
        names = set(package.namelist())
        assert {name.removeprefix("archive/") for name in names if name.startswith("archive/")} == (
            warcs
        )
        pages = package.read("pages/pages.jsonl").decode().splitlines()[1:]
        assert len(pages) == sum(len(records_of(shard)) for shard in shards.dirs)
        index = package.read("indexes/index.cdx").decode().splitlines()
        assert index == sorted(index)
        assert {json.loads(line.split(" ", 2)[2])["filename"] for line in index} == warcs
        for name in sorted(warcs):
            with package.open(f"archive/{name}") as stream:
                types = {record.rec_type for record in ArchiveIterator(stream)}
            assert "response" in types
    assert {json.loads(page)["url"] for page in pages} >= {
        r["final_url"] for shard in shards.dirs for r in records_of(shard)
    }


def test_serve_reads_every_shard(shards: Shards, tmp_path: Path) -> None:
    third = cross_shard(shards, tmp_path)
    extra = ("--archive-dir", str(shards.dirs[1]), "--archive-dir", str(third))
    with _serving(shards.dirs[0], *extra) as base:
        for shard in shards.dirs:
            chosen = next(r for r in records_of(shard) if r["duplicate_of"] is None)
            query = urllib.parse.urlencode({"q": f'"{chosen["title"]}"'})
            status, _, body = _get(f"{base}/api/search?{query}")
            assert status == 200
            assert chosen["id"] in {hit["id"] for hit in json.loads(body)["results"]}
            status, _, body = _get(f"{base}/api/articles/{chosen['id']}")
            assert status == 200 and json.loads(body)["record"]["id"] == chosen["id"]
        status, _, body = _get(f"{base}/api/sources")
        assert {row["source"] for row in json.loads(body)["sources"]} == {
            "daily",
            "herald",
            "wire",
            "gazette",
            "copies",
        }
        # The copy in the third shard points at a response in shard-a's WARC file.
        status, _, copy = _get(f"{base}/captured/copy-in-shard-c")
        source = next(
            r for r in records_of(shards.dirs[0]) if r["warc"] == records_of(third)[0]["warc"]
        )
        assert status == 200
        assert copy == _get(f"{base}/captured/{source['id']}")[2] != b""
