"""A typed, columnar (Parquet) twin of each closed day of records, so SQL need not parse JSON.

This module owns `<archive>/indexes/records/`: one `YYYY-MM-DD.parquet` per records file
`records/YYYY/MM/YYYY-MM-DD.jsonl` whose day is over (UTC), holding every complete line with the
types of `RECORD_COLUMNS` (published and fetched_at as UTC TIMESTAMPTZ, NULL when not a time;
lists; the warc struct), zstd-compressed; and one `YYYY-MM.parquet` per month that is over, the
rows of its day twins in one file: a scan of three years then opens 36 files instead of 1,100,
which is most of the cost of a query. The day twins stay, for reads of part of a month.
A twin is written to a temporary name, synced and renamed, so a twin that exists is complete.
It is derived data: a twin older than any of its JSONL files (a line appended after midnight, a
repaired tail) is not used and is rewritten by the next `compact_archive`, which the crawl and
`reindex` call under the archive lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from archive.records import RecordStore

RECORD_COLUMNS = {
    "id": "VARCHAR",
    "version": "INTEGER",
    "previous": "VARCHAR",
    "source": "VARCHAR",
    "feed_url": "VARCHAR",
    "url": "VARCHAR",
    "final_url": "VARCHAR",
    "canonical_url": "VARCHAR",
    "title": "VARCHAR",
    "authors": "VARCHAR[]",
    "published": "VARCHAR",
    "fetched_at": "VARCHAR",
    "language": "VARCHAR",
    "description": "VARCHAR",
    "tags": "VARCHAR[]",
    "text": "VARCHAR",
    "content_hash": "VARCHAR",
    "duplicate_of": "VARCHAR",
    "warc": 'STRUCT(filename VARCHAR, "offset" BIGINT, length BIGINT, record_id VARCHAR, '
    "payload_digest VARCHAR)",
}
TIME_COLUMNS = ("published", "fetched_at")
ROW_GROUP_ROWS = 100_000
# A row group is also closed at this size in memory: 100,000 whole articles would be ~300 MB,
# and the Parquet writer holds a few groups at once (about 900 MB of memory at 100,000 rows).
ROW_GROUP_BYTES = "128MB"
PARQUET_OPTIONS = (
    f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
    f"ROW_GROUP_SIZE_BYTES '{ROW_GROUP_BYTES}'"
)


def twins_dir(layout: ArchiveLayout) -> Path:
    """Where the Parquet twins of the records files live."""
    return layout.indexes_dir / "records"


def twin_path(layout: ArchiveLayout, day_file: Path) -> Path:
    """The Parquet twin of one records file (whether or not it exists)."""
    return twins_dir(layout) / f"{day_file.stem}.parquet"


def fresh_twin(layout: ArchiveLayout, day_file: Path) -> Path | None:
    """The twin of `day_file` if it exists and was written after the file last changed."""
    twin = twin_path(layout, day_file)
    try:
        return twin if twin.stat().st_mtime_ns >= day_file.stat().st_mtime_ns else None
    except FileNotFoundError:
        return None


def typed_records(files: Sequence[Path], locate: Callable[[Path], str] = str) -> str:
    """A SELECT of the complete lines of JSONL `files` with the columns of `RECORD_COLUMNS`.

    Times become TIMESTAMPTZ. A line that is not valid JSON (a torn tail) is skipped. `locate`
    turns a file into the path or URL DuckDB reads it by.
    """
    columns = ", ".join(
        f"TRY_CAST({name} AS TIMESTAMPTZ) AS {name}" if name in TIME_COLUMNS else name
        for name in RECORD_COLUMNS
    )
    if not files:
        empty = ", ".join(
            f"CAST(NULL AS {kind}) AS {name}" for name, kind in RECORD_COLUMNS.items()
        )
        return f"SELECT {columns} FROM (SELECT {empty}) WHERE false"
    paths = ", ".join(sql_literal(locate(path)) for path in files)
    types = ", ".join(
        f"{sql_literal(name)}: {sql_literal(kind)}" for name, kind in RECORD_COLUMNS.items()
    )
    return (
        f"SELECT {columns} FROM read_json([{paths}], format = 'newline_delimited', "
        f"columns = {{{types}}}, ignore_errors = true) WHERE id IS NOT NULL"
    )


def sql_literal(text: str) -> str:
    """`text` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def month_of(day_file: Path) -> str:
    """The month ("YYYY-MM") of a records file."""
    return day_file.stem[:7]


def _days_by_month(layout: ArchiveLayout) -> dict[str, list[Path]]:
    """Every records file of the archive, oldest first, grouped by month ("YYYY-MM")."""
    months: dict[str, list[Path]] = {}
    for path in RecordStore(layout.records_dir).files():
        months.setdefault(month_of(path), []).append(path)
    return months


def month_twin_path(layout: ArchiveLayout, month: str) -> Path:
    """The Parquet twin of one month ("YYYY-MM") of records (whether or not it exists)."""
    return twins_dir(layout) / f"{month}.parquet"


def fresh_month_twin(layout: ArchiveLayout, month: str, day_files: Sequence[Path]) -> Path | None:
    """The twin of `month` if it exists and was written after each of its `day_files` changed."""
    twin = month_twin_path(layout, month)
    try:
        written = twin.stat().st_mtime_ns
        return twin if all(written >= day.stat().st_mtime_ns for day in day_files) else None
    except FileNotFoundError:
        return None


def twin_sources(layout: ArchiveLayout, files: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Where to read the records of `files` from: fresh twins, and the files that have none.

    A month is read from its month twin when every records file of it is among `files`, the
    other days from their day twins, the rest (today, a stale twin) from the JSONL.
    """
    months = _days_by_month(layout)
    wanted = set(files)
    twins: list[Path] = []
    lines = sorted(wanted.difference(*months.values()))  # not a day file: read as it is
    for month, days in months.items():
        chosen = [day for day in days if day in wanted]
        whole = fresh_month_twin(layout, month, days) if chosen == days else None
        if whole is not None:
            twins.append(whole)
            continue
        for day in chosen:
            twin = fresh_twin(layout, day)
            if twin is None:
                lines.append(day)
            else:
                twins.append(twin)
    return twins, lines


def compact_day(layout: ArchiveLayout, day_file: Path) -> Path:
    """(Re)write the twin of one records file; return its path. Failures are ArchiveErrors."""
    with _converter() as con:
        return _write_twin(con, typed_records([day_file]), twin_path(layout, day_file))


def _converter() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    return con


def _write_twin(con: duckdb.DuckDBPyConnection, select: str, target: Path) -> Path:
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({select}) TO {sql_literal(str(partial))} ({PARQUET_OPTIONS})")
        descriptor = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(partial, target)
    except (OSError, duckdb.Error) as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write {target}: {exc}") from exc
    return target


def stale_days(layout: ArchiveLayout, today: date | None = None) -> list[Path]:
    """Records files of days before `today` (UTC) that have no fresh twin, oldest first."""
    today = today or datetime.now(UTC).date()
    return [
        path
        for path in RecordStore(layout.records_dir).files()
        if path.stem < today.isoformat() and fresh_twin(layout, path) is None
    ]


def stale_months(layout: ArchiveLayout, today: date | None = None) -> dict[str, list[Path]]:
    """Months before the month of `today` (UTC) without a fresh twin, with their records files."""
    current = (today or datetime.now(UTC).date()).isoformat()[:7]
    return {
        month: days
        for month, days in _days_by_month(layout).items()
        if month < current and fresh_month_twin(layout, month, days) is None
    }


def compact_archive(layout: ArchiveLayout, today: date | None = None) -> list[Path]:
    """Bring the twin of every closed day, then of every closed month, up to date.

    Returns the twins written. Call under the archive lock (nothing may append meanwhile): the
    crawl does at the end of a run, `reindex` after a rebuild.
    """
    stale = stale_days(layout, today)
    months = stale_months(layout, today)
    if not stale and not months:
        return []
    with _converter() as con:
        written = [
            _write_twin(con, typed_records([path]), twin_path(layout, path)) for path in stale
        ]
        for month, days in months.items():
            twins = ", ".join(sql_literal(str(twin_path(layout, day))) for day in days)
            select = f"SELECT * FROM read_parquet([{twins}])"
            written.append(_write_twin(con, select, month_twin_path(layout, month)))
    return written
