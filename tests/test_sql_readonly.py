"""`sql` and `export` cannot change a byte of the archive, whatever DuckDB syntax is typed.

Two walls are tested apart: the statement check (DuckDB's parser: only a plain SELECT runs),
and, behind it, the connection itself, which has no way to write the archive even when handed a
writing statement directly.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import duckdb
import pytest
from archives import copy_archive, record, store_records
from support import newsarchive

from archive.columnar import compact_archive
from archive.errors import UsageError
from archive.layout import ArchiveLayout
from archive.readonlyfs import ReadOnlyFileSystem, readonly_url
from archive.sql import open_views, run_sql


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_once: Path) -> Path:
    """A crawled archive plus records of closed days, so Parquet twins exist too."""
    root = copy_archive(crawled_once, tmp_path_factory.mktemp("readonly"))
    store_records(root, [record(n, id=f"old{n}") for n in range(1, 4)])
    assert compact_archive(ArchiveLayout(root)), "expected Parquet twins of the closed days"
    return root


def fingerprint(root: Path) -> dict[str, str]:
    """Every file below `root` (the lock and the catalog's WAL aside) with its sha256."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


def writing_forms(archive: Path, outside: Path) -> list[str]:
    """Every statement DuckDB documents that writes a file or changes the session, aimed at
    the archive (a records file, a twin, the folders) and at a file outside it."""
    day = next((archive / "records").rglob("*.jsonl"))
    twin = next((archive / "indexes" / "records").glob("*.parquet"))
    targets = [day, twin, archive / "records" / "new.jsonl", outside]
    forms = []
    for target in targets:
        for url in (str(target), f"narchive://{target}"):
            copy = f"COPY (SELECT 1 AS x) TO '{url}' (FORMAT csv)"
            forms += [
                copy,
                f"EXPLAIN {copy}",
                f"EXPLAIN ANALYZE {copy}",
                f"COPY articles TO '{url}' (FORMAT json)",
                f"SELECT 1; {copy}",
                f"/* a comment */ {copy}",
                f"SELECT * FROM query('{copy.replace(chr(39), chr(39) * 2)}')",
                f"ATTACH '{url}' AS x",
                f"ATTACH '{url}' AS x (TYPE sqlite)",
                f"SET profile_output = '{url}'",
                f"PRAGMA profile_output = '{url}'",
            ]
    for folder in (archive / "records", archive / "indexes" / "records", outside.parent):
        forms += [f"EXPORT DATABASE '{folder}'", f"EXPORT DATABASE 'narchive://{folder}'"]
    forms += [
        f"CREATE TABLE t AS SELECT * FROM read_text('{day}')",
        "CREATE VIEW v AS SELECT 1",
        "CREATE MACRO m() AS 1",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "SET enable_external_access = true",
        f"SET allowed_directories = ['{archive}']",
        "SET disabled_filesystems = ''",
        "PRAGMA enable_profiling",
        "CALL pragma_version()",
        "CHECKPOINT",
        "VACUUM",
        "INSERT INTO articles SELECT * FROM articles",
        "DELETE FROM articles",
        "UPDATE articles SET title = 'x'",
        "DROP VIEW articles",
        "PIVOT (SELECT 1 AS a) ON a",
    ]
    return forms


def test_no_writing_form_passes_the_statement_check(archive: Path, tmp_path: Path) -> None:
    before = fingerprint(archive)
    outside = tmp_path / "out.csv"
    with open_views(ArchiveLayout(archive)) as con:
        for form in writing_forms(archive, outside):
            with pytest.raises(UsageError, match=r"^sql: "):
                result = run_sql(con, form)
                list(result.rows)
    assert fingerprint(archive) == before
    assert not outside.exists()


def test_the_connection_itself_cannot_write_the_archive(archive: Path, tmp_path: Path) -> None:
    """Even a writing statement handed straight to DuckDB, past the check, writes nothing."""
    before = fingerprint(archive)
    outside = tmp_path / "out.csv"
    with open_views(ArchiveLayout(archive)) as con:
        for form in writing_forms(archive, outside):
            # Some run, harmlessly, in memory (a macro, a view dropped): the files decide.
            with contextlib.suppress(duckdb.Error):
                con.execute(form).fetchall()
    assert fingerprint(archive) == before
    assert not outside.exists()


def test_reading_outside_the_records_is_refused(archive: Path) -> None:
    with open_views(ArchiveLayout(archive)) as con:
        for path in (
            "/etc/passwd",
            f"narchive://{archive}/records/../catalog.sqlite",
            f"narchive://{archive}/records/../../../etc/passwd",
            f"narchive://{archive}/catalog.sqlite",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(f"SELECT * FROM read_text('{path}')").fetchall()


def test_the_cli_refuses_explain_analyze_copy_into_the_records(archive: Path) -> None:
    """The reported attack: exit 0 and a day's records replaced by two CSV lines."""
    before = fingerprint(archive)
    day = next((archive / "records").rglob("*.jsonl"))
    done = newsarchive(
        "sql",
        "--archive-dir",
        archive,
        f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{day}' (FORMAT csv)",
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "only a SELECT" in done.stderr
    assert fingerprint(archive) == before


@pytest.mark.parametrize("command", ["sql", "export"])
def test_output_inside_the_archive_is_refused(archive: Path, tmp_path: Path, command: str) -> None:
    before = fingerprint(archive)
    day = next((archive / "records").rglob("*.jsonl"))
    link = tmp_path / "innocent.jsonl"
    link.symlink_to(day)
    folder_link = tmp_path / "folder"
    folder_link.symlink_to(archive / "records")
    for target in (day, archive / "fresh.jsonl", link, folder_link / "x.jsonl"):
        if command == "sql":
            args = ["sql", "SELECT id FROM articles", "--format", "jsonl", "--output", target]
        else:
            args = ["export", "--format", "jsonl", target]
        done = newsarchive(*args, "--archive-dir", archive)
        assert done.returncode == 2, done.stdout
        assert "inside the archive" in done.stderr and "Traceback" not in done.stderr
    assert fingerprint(archive) == before
    assert os.readlink(link) == str(day)


def test_output_outside_the_archive_still_works(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "ids.csv"
    done = newsarchive(
        "sql", "SELECT id FROM latest", "--format", "csv", "--output", out, "--archive-dir", archive
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("id\n")


def test_threads_reading_one_file_through_the_read_only_file_system_agree(tmp_path: Path) -> None:
    """DuckDB reads one file from several threads, each seeking then reading on one handle: a
    shared position mixed their reads ("ZSTD Decompression failure" on `latest` at 1M records)."""
    twin = tmp_path / "twin.parquet"
    duckdb.execute(
        f"COPY (SELECT i AS id, repeat('x', 200) || i AS text FROM range(300000) t(i)) "
        f"TO '{twin}' (FORMAT parquet, ROW_GROUP_SIZE 5000, COMPRESSION zstd)"
    )
    query = (
        "SELECT count(*), sum(length(a.text)) FROM read_parquet('{0}') a "
        "ANTI JOIN (SELECT id + 7 AS id FROM read_parquet('{0}')) b USING (id)"
    )
    expected = duckdb.execute(query.format(twin)).fetchall()
    for _ in range(6):
        con = duckdb.connect(config={"threads": 4})
        con.register_filesystem(ReadOnlyFileSystem([tmp_path]))
        assert con.execute(query.format(readonly_url(twin))).fetchall() == expected
        con.close()
