"""`newsarchive export`: the records `query` selects, as typed Parquet, JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from archives import SEED_TITLE, crawl_archive, expected
from support import newsarchive, records_of

from crawler.sample_server import SampleSite


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, site: SampleSite) -> Path:
    return crawl_archive(tmp_path_factory.mktemp("export"), site)


def export(archive: Path, out: Path, fmt: str, *filters: str) -> None:
    done = newsarchive("export", "--archive-dir", archive, "--format", fmt, out, *filters)
    assert done.returncode == 0, done.stderr


def test_parquet_has_types_rows_and_order(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "latest.parquet"
    export(archive, out, "parquet")
    want = expected(records_of(archive))
    described = duckdb.execute(f"DESCRIBE SELECT * FROM '{out}'").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types["published"] == types["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["authors"] == types["tags"] == "VARCHAR[]"
    assert types["version"] == "INTEGER" and types["warc"].startswith("STRUCT(")
    rows = duckdb.execute(f"SELECT id, tags, warc.payload_digest FROM '{out}'").fetchall()
    assert [row[0] for row in rows] == [r["id"] for r in want]
    assert [(row[1], row[2]) for row in rows] == [
        (r["tags"], r["warc"]["payload_digest"]) for r in want
    ]
    meta = duckdb.execute(f"SELECT DISTINCT compression FROM parquet_metadata('{out}')").fetchall()
    assert meta == [("ZSTD",)]


def test_filters_as_in_query(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "seed.jsonl"
    export(archive, out, "jsonl", "--search", '"DDoS attack"')
    assert [json.loads(line)["title"] for line in out.read_text().splitlines()] == [SEED_TITLE]
    out = tmp_path / "daily.parquet"
    export(archive, out, "parquet", "--source", "daily", "--include-duplicates")
    want = [r for r in expected(records_of(archive), include_duplicates=True)]
    want = [r for r in want if r["source"] == "daily"]
    assert duckdb.execute(f"SELECT count(*) FROM '{out}'").fetchone() == (len(want),)


def test_jsonl_is_the_records_themselves(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    export(archive, out, "jsonl", "--all-versions", "--include-duplicates")
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(exported, key=lambda r: r["id"]) == sorted(
        records_of(archive), key=lambda r: r["id"]
    )


def test_csv_one_column_per_field(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "latest.csv"
    export(archive, out, "csv")
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    want = expected(records_of(archive))
    assert [row["id"] for row in rows] == [r["id"] for r in want]
    assert [json.loads(row["authors"]) for row in rows] == [r["authors"] for r in want]
    assert [row["published"] for row in rows] == [r["published"] for r in want]
    assert [row["text"] for row in rows] == [r["text"] for r in want]
    assert rows[0]["warc_filename"] == want[0]["warc"]["filename"]


def test_a_failed_export_leaves_no_file(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad.parquet"
    done = newsarchive(
        "export", "--archive-dir", archive, "--format", "parquet", out, "--since", "nope"
    )
    assert done.returncode == 2 and "bad date" in done.stderr
    assert list(tmp_path.iterdir()) == []
