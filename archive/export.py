"""Export the records a query selects, for pandas, R or Spark: Parquet, JSON Lines or CSV.

The selection (filters, dedup, order) is exactly `query`'s. JSON Lines are the records' own lines,
byte for byte. Parquet and CSV are written by DuckDB from only the records files that hold a
selected record: Parquet keeps the types (TIMESTAMPTZ in UTC, lists, the warc struct) and is
zstd-compressed in row groups of `ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES`, whichever is reached
first; CSV has one column per field, lists as JSON arrays and the warc struct as `warc_*` columns.
The file appears under its name only when complete. Memory does not grow with the selection:
DuckDB never sorts more than `SLICE_ROWS` whole records (see `_write_with_duckdb`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import duckdb

from archive.collection import Collection, as_collection
from archive.columnar import sql_literal
from archive.errors import ArchiveError, NewsarchiveError, UsageError
from archive.layout import ArchiveLayout
from archive.query import Filters, Hit
from archive.sql import (
    RECORD_COLUMNS,
    TIME_COLUMNS,
    check_output,
    collection_select,
    copy_to,
    duckdb_errors,
    open_views,
)

EXPORT_FORMATS = ("parquet", "jsonl", "csv")
# Whole records DuckDB sorts at a time (about 3 KB each), and its memory for them and for
# writing row groups: the memory of an export, whatever the size of the selection.
SLICE_ROWS = 20_000
MEMORY_LIMIT = "512MB"
_WARC_FIELDS = ("filename", "offset", "length", "record_id", "payload_digest")


def export_records(
    archive: ArchiveLayout | Collection, filters: Filters, fmt: str, out: Path
) -> int:
    """Write the selected records of the archive (or of every shard of a collection, as one)
    to `out` in `fmt`; return how many. Never touches the archive."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    collection = as_collection(archive)
    check_output(collection, out)
    hits = collection.find(filters)
    try:
        with _complete_file(out) as partial:
            if fmt == "jsonl":
                return _write_lines(collection, hits, partial)
            return _write_with_duckdb(collection, hits, fmt, partial)
    finally:
        hits.close()


@contextmanager
def _complete_file(out: Path) -> Iterator[Path]:
    partial = out.with_name(f".{out.name}.partial")
    try:
        yield partial
        os.replace(partial, out)
    except OSError as exc:
        raise ArchiveError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except NewsarchiveError as exc:  # DuckDB's, naming the scratch file: name `out` instead
        if partial.name not in str(exc):
            raise
        raise ArchiveError(f"cannot write {out}: {_reason(str(exc))}") from None
    finally:
        partial.unlink(missing_ok=True)


def _reason(message: str) -> str:
    """The system's words for why DuckDB could not write ("No space left on device")."""
    code = re.search(r'"errno"\s*:\s*"?(\d+)', message)
    return os.strerror(int(code.group(1))) if code else message.rsplit(": ", 1)[-1]


def _write_lines(collection: Collection, hits: Iterator[Hit], partial: Path) -> int:
    count = 0
    with partial.open("wb") as file:
        for line in collection.lines(hits):
            file.write(line)
            count += 1
    return count


def _write_with_duckdb(collection: Collection, hits: Iterator[Hit], fmt: str, partial: Path) -> int:
    """Fetch the selection slice by slice, in its order, then stream the slices into `partial`.

    The catalog already gives the records in order, so only narrow keys are ever ordered: each
    slice of `SLICE_ROWS` ids is joined to the records files that hold them and sorted by rank
    into a Parquet part in DuckDB's spill directory; the parts, read back in order (DuckDB keeps
    insertion order), become the output. Sorting whole records at once needs memory in
    proportion to the selection (out of memory at a million records).
    """
    count = 0
    parts: list[str] = []
    with (
        open_views(collection, files=[], output=partial, memory_limit=MEMORY_LIMIT) as con,
        duckdb_errors(),
    ):
        spill = Path(con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0])
        for chunk in _slices(hits):
            part = sql_literal(str(spill / f"slice-{len(parts):06d}.parquet"))
            _write_slice(con, collection, chunk, count, part)
            parts.append(part)
            count += len(chunk)
        copy_to(
            con, f"SELECT {_columns(fmt)} FROM read_parquet([{', '.join(parts)}])", fmt, partial
        )
    return count


def _write_slice(
    con: duckdb.DuckDBPyConnection, collection: Collection, hits: list[Hit], rank: int, part: str
) -> None:
    """Write the records of `hits`, in their order, to the Parquet file `part` (an SQL literal).

    Small row groups and a fast codec: the part is read back once, a row group at a time.
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE wanted AS "
        "SELECT unnest($ids) AS id, unnest(range($start, $end)) AS rank",
        {"ids": [hit.id for hit in hits], "start": rank, "end": rank + len(hits)},
    )
    files = sorted({collection.shards[hit.shard].records_dir / hit.location.file for hit in hits})
    con.execute(f"CREATE OR REPLACE TEMP VIEW slice AS {collection_select(collection, files)}")
    con.execute(
        f"COPY (SELECT {', '.join(RECORD_COLUMNS)} FROM slice JOIN wanted USING (id) "
        f"ORDER BY rank) TO {part} (FORMAT parquet, COMPRESSION lz4_raw, ROW_GROUP_SIZE 4096)"
    )


def _slices(hits: Iterator[Hit]) -> Iterator[list[Hit]]:
    """`hits` in lists of `SLICE_ROWS`; at least one list, empty if there are no hits."""
    batch = list(islice(hits, SLICE_ROWS))
    yield batch
    while batch := list(islice(hits, SLICE_ROWS)):
        yield batch


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
