"""SQL over the JSON records with DuckDB, read-only.

Two views, over every complete line of every records file:
- `articles`: every record, all versions and duplicates, typed (published and fetched_at as UTC
  TIMESTAMPTZ, NULL when a page gave no usable date; authors and tags as VARCHAR[]; warc as a
  STRUCT), plus `is_duplicate` (duplicate_of is not null);
- `latest`: the records no other record of their canonical URL has a higher version of,
  without duplicates: what `query` shows by default.
A closed month or day with a fresh Parquet twin (`archive.columnar`) is read from the twin,
which is ten times faster than parsing its JSON; the other days (today, or a twin not yet
rewritten) from the JSONL. Either way the rows and types are the same.

Nothing a user types can change the archive, by two independent walls:
- DuckDB's own parser classifies the statement, and only a plain SELECT runs (no EXPLAIN, which
  can wrap and ANALYZE-execute anything; no COPY, EXPORT, CREATE, ATTACH, SET, PRAGMA, CALL);
- the archive is not on DuckDB's file allow-lists at all: it reads the records and their twins
  through `ReadOnlyFileSystem`, which has no write path. The allow-lists hold only the one output
  file we name and a private spill directory, and the configuration is locked.
A torn final line (an interrupted or ongoing write) fails to parse and is skipped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from archive.collection import Collection, as_collection
from archive.columnar import (
    PARQUET_OPTIONS,
    RECORD_COLUMNS,
    sql_literal,
    twin_sources,
    twins_dir,
    typed_records,
)
from archive.columnar import TIME_COLUMNS as TIME_COLUMNS  # for export
from archive.errors import ArchiveError, UsageError
from archive.layout import ArchiveLayout
from archive.readonlyfs import ReadOnlyFileSystem, readonly_url
from archive.records import RecordStore

MEMORY_LIMIT = "1GB"  # larger sorts and joins spill to a temporary directory instead
FORMATS = ("csv", "jsonl", "parquet")


# Only a record of version 2 or more can supersede another, and they are few: an anti-join
# against them is several times faster than ranking every canonical URL's versions.
def view_columns() -> list[tuple[str, str]]:
    """The columns of the views `articles` and `latest`, with their DuckDB types."""
    typed = [
        (name, "TIMESTAMPTZ" if name in TIME_COLUMNS else kind)
        for name, kind in RECORD_COLUMNS.items()
    ]
    return [*typed, ("is_duplicate", "BOOLEAN")]


LATEST = (
    "SELECT a.* FROM articles AS a ANTI JOIN (SELECT canonical_url, version FROM articles "
    "WHERE version > 1) AS newer ON newer.canonical_url = a.canonical_url "
    "AND newer.version > a.version WHERE NOT a.is_duplicate"
)


@dataclass
class SqlResult:
    """Column names and the rows, fetched lazily in batches."""

    columns: list[str]
    rows: Iterator[tuple[object, ...]]


@contextmanager
def open_views(
    archive: ArchiveLayout | Collection,
    *,
    files: Sequence[Path] | None = None,
    output: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the views `articles` and `latest` over `files` (default: all
    of every shard's records files; `articles` is the union of the shards', `latest` the newest
    version of each canonical URL wherever it lives).

    Every shard's records and twins are read through `ReadOnlyFileSystem`, each shard a root of
    it; only `output` (if given, and never inside a shard) and the spill directory
    (`current_setting('temp_directory')`) can be written. The settings are locked before the
    connection is handed out.
    """
    collection = as_collection(archive)
    if output is not None:
        check_output(collection, output)
    with tempfile.TemporaryDirectory(prefix="newsarchive-sql-") as spill:
        con = duckdb.connect(
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
                "allow_persistent_secrets": False,
                "memory_limit": memory_limit,
                "temp_directory": spill,
            }
        )
        try:
            readable = [
                path
                for shard in collection.shards
                for path in (shard.records_dir, twins_dir(shard))
            ]
            con.register_filesystem(ReadOnlyFileSystem(readable))
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET parquet_metadata_cache = true")  # `latest` reads the twins twice
            con.execute(f"CREATE VIEW articles AS {collection_select(collection, files)}")
            con.execute(f"CREATE VIEW latest AS {LATEST}")
            allowed = [readonly_url(path) + "/" for path in readable] + [spill + "/"]
            con.execute("SET allowed_directories = ?", [allowed])
            if output is not None:
                con.execute("SET allowed_paths = ?", [[str(output)]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            yield con
        finally:
            con.close()


def check_output(archive: ArchiveLayout | Collection, output: Path) -> None:
    """A UsageError, before anything is written, if `output` cannot be written: inside the
    archive (any shard of a collection), in a folder that does not exist or that this user may
    not write in."""
    as_collection(archive).refuse_inside(output)
    folder = output.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {output}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {output}: no permission to write in {folder}")


def collection_select(collection: Collection, files: Sequence[Path] | None = None) -> str:
    """The `articles` view over `files` (default: all) of every shard: `articles_select` of
    each shard's own, their union when there are several."""
    selects = []
    for shard in collection.shards:
        if files is None:
            own = RecordStore(shard.records_dir).files()
        else:
            own = [path for path in files if path.is_relative_to(shard.records_dir)]
        selects.append(articles_select(shard, own))
    if len(selects) == 1:
        return selects[0]
    return " UNION ALL ".join(f"SELECT * FROM ({select})" for select in selects)


def articles_select(layout: ArchiveLayout, files: Sequence[Path]) -> str:
    """The `articles` view over `files` of one archive: their fresh Parquet twins where they
    have one, else JSONL.

    Both halves have the columns and types of `RECORD_COLUMNS`, plus `is_duplicate`; both are
    read through `ReadOnlyFileSystem` (see `open_views`).
    """
    twins, lines = twin_sources(layout, files)
    select = typed_records(lines, readonly_url)
    if twins:
        paths = ", ".join(sql_literal(readonly_url(path)) for path in twins)
        columns = ", ".join(RECORD_COLUMNS)
        select = f"SELECT {columns} FROM read_parquet([{paths}]) UNION ALL {select}"
    return f"SELECT *, duplicate_of IS NOT NULL AS is_duplicate FROM ({select})"


def single_select(query: str) -> str:
    """The text of the one SELECT in `query`; anything else (or bad syntax) is a UsageError."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UsageError(f"sql: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise UsageError(f"sql: expected one statement, got {len(statements)}")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = str(statement.type).rsplit(".", 1)[-1]
        raise UsageError(f"sql: only a SELECT is allowed, not {kind}: the archive is read-only")
    return statement.query.strip().rstrip(";")


def run_sql(con: duckdb.DuckDBPyConnection, query: str) -> SqlResult:
    """Run one SELECT; its errors (syntax, unknown column, bad cast) are UsageErrors."""
    select = single_select(query)
    with duckdb_errors():
        cursor = con.execute(select)
    columns = [column[0] for column in cursor.description or ()]
    return SqlResult(columns, _batches(cursor))


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[tuple[object, ...]]:
    while True:
        with duckdb_errors():
            batch = cursor.fetchmany(2048)
        if not batch:
            return
        yield from batch


def copy_to(con: duckdb.DuckDBPyConnection, select: str, fmt: str, output: Path) -> None:
    """Write the rows of `select` to `output` as csv (with header), jsonl or zstd Parquet."""
    options = {
        "csv": "FORMAT csv, HEADER true",
        "jsonl": "FORMAT json",
        "parquet": PARQUET_OPTIONS,
    }[fmt]
    with duckdb_errors():
        con.execute(f"COPY ({select}) TO {sql_literal(str(output))} ({options})")


@contextmanager
def duckdb_errors() -> Iterator[None]:
    """DuckDB's errors as ours: unreadable files are ArchiveErrors, the rest the user's query."""
    try:
        yield
    except duckdb.IOException as exc:
        raise ArchiveError(f"sql: {_first_line(exc)}") from None
    except duckdb.Error as exc:
        raise UsageError(f"sql: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
