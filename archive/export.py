"""Export the records a query selects, for pandas, R or Spark: Parquet, JSON Lines or CSV.

The selection (filters, dedup, order) is exactly `query`'s. JSON Lines are the records' own lines,
byte for byte. Parquet and CSV are written by DuckDB from only the records files that hold a
selected record: Parquet keeps the types (TIMESTAMPTZ in UTC, lists, the warc struct) and is
zstd-compressed in row groups of `ROW_GROUP_ROWS`; CSV has one column per field, lists as JSON
arrays and the warc struct as `warc_*` columns. The file appears under its name only when complete.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

from archive.errors import ArchiveError, UsageError
from archive.layout import ArchiveLayout
from archive.query import Filters, Hit, find, open_catalog, read_lines
from archive.sql import RECORD_COLUMNS, TIME_COLUMNS, copy_to, duckdb_errors, open_views

EXPORT_FORMATS = ("parquet", "jsonl", "csv")
_BATCH = 50_000
_WARC_FIELDS = ("filename", "offset", "length", "record_id", "payload_digest")


def export_records(layout: ArchiveLayout, filters: Filters, fmt: str, out: Path) -> int:
    """Write the selected records to `out` in `fmt`; return how many. Never touches the archive."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    db = open_catalog(layout)
    try:
        with _complete_file(out) as partial:
            if fmt == "jsonl":
                return _write_lines(layout, find(db, filters), partial)
            return _write_with_duckdb(layout, db, filters, fmt, partial)
    finally:
        db.close()


@contextmanager
def _complete_file(out: Path) -> Iterator[Path]:
    partial = out.with_name(f".{out.name}.partial")
    try:
        yield partial
        os.replace(partial, out)
    except OSError as exc:
        raise ArchiveError(f"cannot write {out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def _write_lines(layout: ArchiveLayout, hits: Iterator[Hit], partial: Path) -> int:
    count = 0
    with partial.open("wb") as file:
        for line in read_lines(layout.records_dir, hits):
            file.write(line)
            count += 1
    return count


def _write_with_duckdb(
    layout: ArchiveLayout, db: sqlite3.Connection, filters: Filters, fmt: str, partial: Path
) -> int:
    """Stream the selected ids (with their rank) into DuckDB, then join them to the records.

    The selection is read twice, first for the files to read, so memory does not grow with it.
    """
    files = sorted({hit.location.file for hit in find(db, filters)})
    paths = [layout.records_dir / name for name in files]
    count = 0
    with open_views(layout, files=paths, output=partial) as con:
        with duckdb_errors():
            con.execute("CREATE TEMP TABLE wanted (id VARCHAR, rank BIGINT)")
            ids = (hit.id for hit in find(db, filters))
            while batch := list(islice(ids, _BATCH)):
                con.execute(
                    "INSERT INTO wanted SELECT unnest($ids), unnest(range($start, $end))",
                    {"ids": batch, "start": count, "end": count + len(batch)},
                )
                count += len(batch)
        select = f"SELECT {_columns(fmt)} FROM articles JOIN wanted USING (id) ORDER BY rank"
        copy_to(con, select, fmt, partial)
    return count


def _columns(fmt: str) -> str:
    if fmt == "parquet":
        return ", ".join(RECORD_COLUMNS)
    columns = []
    for name, kind in RECORD_COLUMNS.items():
        if name == "warc":
            columns += [f'warc."{field}" AS warc_{field}' for field in _WARC_FIELDS]
        elif kind.endswith("[]"):
            columns.append(f"CAST(to_json({name}) AS VARCHAR) AS {name}")
        elif name in TIME_COLUMNS:
            columns.append(f"strftime({name}, '%Y-%m-%dT%H:%M:%SZ') AS {name}")
        else:
            columns.append(name)
    return ", ".join(columns)
