"""`newsarchive sql`: DuckDB views over the records, read-only, one-line errors."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import duckdb
import pytest
from archives import copy_archive, expected, record, sql, store_records
from support import newsarchive, records_of


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_once: Path) -> Path:
    return copy_archive(crawled_once, tmp_path_factory.mktemp("sql"))


def fingerprint(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_views_follow_the_dedup_rules(archive: Path) -> None:
    records = records_of(archive)
    assert any(r["duplicate_of"] for r in records)
    every = sql(archive, "SELECT id, is_duplicate FROM articles ORDER BY id")
    assert every == sorted(
        ({"id": r["id"], "is_duplicate": r["duplicate_of"] is not None} for r in records),
        key=lambda row: str(row["id"]),
    )
    latest = sql(archive, "SELECT id FROM latest ORDER BY id")
    assert [row["id"] for row in latest] == sorted(r["id"] for r in expected(records))


def test_versions_in_the_views(tmp_path: Path) -> None:
    url = "https://news.example/v.html"
    layout = store_records(
        tmp_path,
        [
            record(1, id="v1", canonical_url=url),
            record(2, id="v2", version=2, previous="v1", canonical_url=url),
            record(3, id="dup", duplicate_of="v1", text=None),
        ],
    )
    assert [r["id"] for r in sql(layout.root, "SELECT id FROM latest")] == ["v2"]
    assert sql(layout.root, "SELECT count(*) AS n FROM articles") == [{"n": 3}]


def test_types_and_aggregates(archive: Path) -> None:
    rows = sql(
        archive,
        "SELECT source, count(*) AS n, typeof(any_value(published)) AS t, "
        "typeof(any_value(tags)) AS tags FROM latest GROUP BY source ORDER BY source",
    )
    assert [row["source"] for row in rows] == ["daily", "gazette", "herald", "wire"]
    assert {row["t"] for row in rows} == {"TIMESTAMP WITH TIME ZONE"}
    assert {row["tags"] for row in rows} == {"VARCHAR[]"}


def test_output_formats(archive: Path, tmp_path: Path) -> None:
    query = "SELECT source, count(*) AS n FROM articles GROUP BY 1 ORDER BY 1"
    table = newsarchive("sql", "--archive-dir", archive, query).stdout.splitlines()
    assert table[0].split() == ["source", "n"] and table[2].split()[0] == "daily"
    done = newsarchive("sql", "--archive-dir", archive, query, "--format", "csv")
    assert next(csv.reader(io.StringIO(done.stdout))) == ["source", "n"]
    out = tmp_path / "counts.parquet"
    done = newsarchive(
        "sql", "--archive-dir", archive, query, "--format", "parquet", "--output", out
    )
    assert done.returncode == 0, done.stderr
    back = duckdb.execute(f"SELECT sum(n) FROM '{out}'").fetchone()
    assert back == (len(records_of(archive)),)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC * FROM articles", "syntax error"),
        ("SELECT nope FROM articles", "nope"),
        ("SELECT * FROM missing_table", "missing_table"),
        ("SELECT CAST('x' AS INTEGER)", "Conversion"),
        ("DELETE FROM articles", "read-only"),
        ("COPY articles TO 'records/x.csv'", "read-only"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * FROM read_text('/etc/hostname')", "disabled"),
    ],
)
def test_bad_or_writing_sql_is_a_one_line_error_and_changes_nothing(
    archive: Path, query: str, message: str
) -> None:
    before = fingerprint(archive)
    done = newsarchive("sql", "--archive-dir", archive, query)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert fingerprint(archive) == before


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1), record(2)])
    day_file = next(layout.records_dir.rglob("*.jsonl"))
    with day_file.open("a", encoding="utf-8") as file:
        file.write('{"id": "torn", "version": 1, "source": "al')
    assert sql(layout.root, "SELECT id FROM articles ORDER BY id") == [
        {"id": "r0001"},
        {"id": "r0002"},
    ]


def test_parquet_needs_an_output_file(archive: Path) -> None:
    done = newsarchive("sql", "--archive-dir", archive, "SELECT 1", "--format", "parquet")
    assert done.returncode == 2 and "--output" in done.stderr
