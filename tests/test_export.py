"""`newsarchive export`: the records `query` selects, as typed Parquet, JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import duckdb
import pytest
from archives import SEED_TITLE, bulk_records, copy_archive, expected, record
from support import newsarchive, records_of

import archive.export as export_module
import archive.sql as sql_module
from archive.columnar import ROW_GROUP_BYTES, compact_archive
from archive.query import Filters


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_once: Path) -> Path:
    return copy_archive(crawled_once, tmp_path_factory.mktemp("export"))


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


def test_a_bad_filter_writes_nothing(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad.parquet"
    done = newsarchive(
        "export", "--archive-dir", archive, "--format", "parquet", out, "--since", "nope"
    )
    assert done.returncode == 2 and "bad date" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_export_that_fills_the_disk_leaves_no_file(
    archive: Path, tmp_path: Path, fmt: str
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs (root needed)")
    try:
        done = newsarchive("export", "--archive-dir", archive, "--format", fmt, disk / f"all.{fmt}")
        assert done.returncode == 1, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        # One line naming the file asked for, not the scratch file written first.
        out = disk / f"all.{fmt}"
        assert done.stderr.strip().endswith(f"cannot write {out}: No space left on device")
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def test_an_export_larger_than_duckdbs_memory_keeps_order_and_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole records are sorted a slice at a time, so an export fits in a memory limit far below
    its size (sorting all of them at once ran out of memory at a million records)."""
    padding = "x" * 500_000
    records = [
        record(n, description=f"{n} {padding}", fetched_at=f"2024-08-{n % 25 + 1:02d}T10:00:00Z")
        for n in range(1, 101)
    ]
    layout = bulk_records(tmp_path / "archive", records)
    compact_archive(layout)  # day and month twins, as a crawl leaves them
    monkeypatch.setattr(export_module, "SLICE_ROWS", 4)
    monkeypatch.setattr(export_module, "MEMORY_LIMIT", "32MB")  # the records are 50 MB
    small_groups = sql_module.PARQUET_OPTIONS.replace(ROW_GROUP_BYTES, "4MB")
    monkeypatch.setattr(sql_module, "PARQUET_OPTIONS", small_groups)
    out = tmp_path / "big.parquet"
    assert export_module.export_records(layout, Filters(), "parquet", out) == len(records)
    rows = duckdb.execute(f"SELECT id, published, length(description) FROM '{out}'").fetchall()
    want = expected(records)
    assert [row[0] for row in rows] == [r["id"] for r in want]
    assert [row[1].isoformat() for row in rows] == [r["published"][:-1] + "+00:00" for r in want]
    assert {row[2] for row in rows} == {len(r["description"]) for r in want}
    groups = duckdb.execute(f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{out}')")
    assert groups.fetchone()[0] > 1  # type: ignore[index]
