"""Find archived articles through the catalog's search index, and read their records back.

What `query` and `export` select is decided here, once:
- default: the latest version of each canonical URL, duplicates hidden;
  `include_duplicates` shows records whose text duplicates another URL's, `all_versions` shows
  every version;
- `since`/`until` compare the published time, or the fetch time when a record has none;
- `search` is what people type, read by `archive.search` (words, "a phrase", -word, OR,
  prefix*, title:, or FTS5's own syntax after `fts:`); one restricted to the title as a whole
  is answered from the titles-only index, ten times faster, and ranked by bm25 over the titles
  alone (a short title holding the word first) rather than over title + text;
- order: best match first when searching (bm25), then published (falling back to fetched)
  newest first, then id, so the same archive always gives the same order;
- a broad search (more than `RANK_WINDOW` matches: a common word matches most of the archive,
  and bm25 over it takes seconds) puts title matches first instead of ranking, and with a
  limit considers only the most recently archived `rank_window(limit)` matches.

The catalog is opened read-only and in WAL mode, so a running crawl is never blocked, and every
indexed record is already complete on disk (the crawl commits the index after the JSON line).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from archive.catalog import connect_read_only
from archive.errors import ArchiveError, UsageError
from archive.layout import ArchiveLayout
from archive.records import RecordLocation
from archive.search import RAW_PREFIX, Search, compile_search

# The columns of a hit, in the order `Hit` takes them; also the CSV header of `query`.
HIT_COLUMNS = (
    "id",
    "version",
    "latest",
    "duplicate",
    "source",
    "published",
    "fetched_at",
    "language",
    "title",
    "url",
    "canonical_url",
)
# A search with more matches than this is broad: not ranked by bm25 (see `find`).
RANK_WINDOW = 5_000
# The columns `query` prints as a table: what a reader scans a result list by.
TABLE_COLUMNS = ("published", "source", "language", "version", "title", "url")


@dataclass(frozen=True)
class Filters:
    """Which records a query selects; times are "YYYY-MM-DDTHH:MM:SSZ" (see `time_bound`)."""

    sources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None  # exclusive
    search: str | None = None
    languages: tuple[str, ...] = ()
    include_duplicates: bool = False
    all_versions: bool = False
    limit: int | None = None
    newest_first: bool = False
    """A search's matches newest first rather than best first."""


@dataclass(frozen=True)
class Hit:
    """One selected record as the index knows it, and where its full JSON line lives."""

    id: str
    version: int
    latest: bool
    duplicate: bool
    source: str
    published: str | None
    fetched_at: str
    language: str | None
    title: str | None
    url: str | None
    canonical_url: str
    location: RecordLocation
    shard: int = 0
    """Which shard of a collection holds it (`archive.collection`); 0 in a single archive."""
    order: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    """Its place in the result order, for merging the results of several shards."""

    def row(self) -> tuple[object, ...]:
        """The values of `HIT_COLUMNS`."""
        return tuple(getattr(self, name) for name in HIT_COLUMNS)

    def brief(self) -> dict[str, Any]:
        """What a list of results shows of a hit, as JSON."""
        names = ("id", "version", "latest", "duplicate", "source", "published", "fetched_at")
        return {name: getattr(self, name) for name in (*names, "title", "url")}

    def table_row(self) -> tuple[object, ...]:
        """The values of `TABLE_COLUMNS`, the time to the minute."""
        published = self.published[:16].replace("T", " ") if self.published else None
        return (published, self.source, self.language, self.version, self.title, self.url)


def time_bound(text: str, *, end: bool = False) -> str:
    """Parse a --since/--until value: a date (YYYY-MM-DD) or an ISO 8601 time (naive = UTC).

    With `end`, a bare date means the end of that day, so `--until 2024-08-13` includes the 13th.
    Anything else is a UsageError naming the value.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"bad date {text!r}: use YYYY-MM-DD or an ISO 8601 time like 2024-08-13T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_catalog(layout: ArchiveLayout) -> sqlite3.Connection:
    """A read-only connection to the catalog that has a search index, or an ArchiveError."""
    path = layout.catalog_path
    if not path.exists():
        raise ArchiveError(f"{path}: no catalog: nothing has been archived in {layout.root} yet")
    try:
        db = connect_read_only(path)
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE name IN ('search_docs', 'search_text')"
        ).fetchall()
    except sqlite3.Error as exc:
        raise ArchiveError(f"{path}: cannot read catalog: {exc}") from exc
    if len(found) < 2:
        db.close()
        raise ArchiveError(f"{path}: the catalog has no search index: run `newsarchive reindex`")
    return db


@contextmanager
def reading_catalog(layout: ArchiveLayout) -> Iterator[sqlite3.Connection]:
    """`open_catalog` for the length of a block, closed however it ends."""
    db = open_catalog(layout)
    try:
        yield db
    finally:
        db.close()


def find(db: sqlite3.Connection, filters: Filters, *, shard: int | None = None) -> Iterator[Hit]:
    """The selected records in result order; a bad search is a UsageError saying what is wrong.

    A broad search (more than `RANK_WINDOW` matches) is not ranked by bm25, whose cost grows
    with the number of records holding each search term (seconds for a common word in a big
    archive): its matches come title matches first, then newest first, and with a limit only
    the `rank_window(limit)` most recently archived matches are considered.

    With `shard` (its number in a collection), each hit carries it and its `Hit.order`, so the
    results of several shards merge in one order; the collection checks the sources over all.
    """
    try:
        if shard is None:
            check_sources([db], filters.sources)
        plan = _plan(db, filters)
        sql, params = _select(filters, plan, keyed=shard is not None)
        cursor = db.execute(sql, params)
        while batch := cursor.fetchmany(1000):
            if shard is None:
                yield from map(_hit, batch)
            else:
                yield from (_keyed_hit(row, shard) for row in batch)
    except sqlite3.OperationalError as exc:
        problem = str(exc)
        if filters.search is not None and any(mark in problem for mark in _SEARCH_MISTAKES):
            raise UsageError(
                f"bad search {filters.search!r}: {exc} (FTS5 query syntax, as {RAW_PREFIX!r} asks; "
                "without it the words are searched as typed)"
            ) from None
        raise ArchiveError(f"cannot read catalog: {exc}") from exc


def check_sources(
    dbs: Sequence[sqlite3.Connection], sources: Iterable[str], where: str = "this archive"
) -> None:
    """A UsageError naming the sources of the catalogs `dbs` if one of `sources` has no record
    in any of them."""
    for source in sources:
        if any(
            db.execute("SELECT 1 FROM search_docs WHERE source = ? LIMIT 1", (source,)).fetchone()
            for db in dbs
        ):
            continue
        known = {
            name for db in dbs for (name,) in db.execute("SELECT DISTINCT source FROM search_docs")
        }
        raise UsageError(
            f"no source named {source!r} in {where}; its sources: "
            + (", ".join(sorted(known)) or "none (nothing archived yet)")
        )


def hits_where(db: sqlite3.Connection, condition: str, params: Sequence[object]) -> list[Hit]:
    """The records of the index meeting `condition` (SQL over `search_docs`), in version order."""
    columns = ", ".join(HIT_COLUMNS)
    try:
        rows = db.execute(
            f"SELECT {columns}, file, offset, length FROM search_docs WHERE {condition} "
            "ORDER BY version, fetched_at, id",
            params,
        ).fetchall()
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot read catalog: {exc}") from exc
    return [_hit(row) for row in rows]


def rank_window(limit: int) -> int:
    """How many of the newest matches a broad search with `limit` considers."""
    return max(RANK_WINDOW, limit)


@dataclass(frozen=True)
class _Plan:
    search: Search | None  # how the search is answered, if there is one
    broad: bool  # more than RANK_WINDOW records match the search
    start: int | None  # the oldest rowid a broad search with a limit considers


def _fts_tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'search\\_%' ESCAPE '\\'")
    return {name for (name,) in rows}


def _plan(db: sqlite3.Connection, filters: Filters) -> _Plan:
    """Which index answers the search, whether it is broad, and where a broad window starts."""
    if filters.search is None:
        return _Plan(search=None, broad=False, start=None)
    search = compile_search(filters.search, _fts_tables(db))
    if not search.ranked:
        return _Plan(search=search, broad=False, start=None)
    index = search.index
    # In rowid order: FTS5 reads a doclist backwards more slowly (a third, for a narrow search).
    many = db.execute(
        f"SELECT rowid FROM {index} WHERE {index} MATCH ? LIMIT 1 OFFSET ?",
        (search.match, RANK_WINDOW),
    ).fetchone()
    if many is None or filters.limit is None:
        return _Plan(search=search, broad=many is not None, start=None)
    where, params = _conditions(filters, search)
    row = db.execute(
        f"SELECT f.rowid FROM {_search_join(index)} WHERE {' AND '.join(where)} "
        "ORDER BY f.rowid DESC LIMIT 1 OFFSET ?",
        [*params, rank_window(filters.limit) - 1],
    ).fetchone()
    return _Plan(search=search, broad=True, start=None if row is None else int(row[0]))


def _hit(row: tuple[Any, ...]) -> Hit:
    record_id, version, latest, duplicate, *described, file, offset, length = row
    source, published, fetched_at, language, title, url, canonical = described
    return Hit(
        record_id,
        version,
        bool(latest),
        bool(duplicate),
        source,
        published,
        fetched_at,
        language,
        title,
        url,
        canonical,
        RecordLocation(file, offset, length),
    )


class _Newest(str):
    """A time that sorts newest first."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


def _keyed_hit(row: tuple[Any, ...], shard: int) -> Hit:
    """A hit of a `keyed` select (`_select`): its columns, then rank and sort time."""
    *columns, rank, sort_time = row
    hit = _hit(tuple(columns))
    order = (rank, _Newest(sort_time), hit.id)
    return replace(hit, shard=shard, order=order)


_SEARCH_MISTAKES = ("fts5", "syntax error", "no such column", "unterminated", "unknown special")


def _search_join(index: str) -> str:
    return f"{index} f JOIN search_docs d ON d.rowid = f.rowid"


def _conditions(filters: Filters, search: Search | None) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if search is not None and search.match is not None:
        where.append(f"{search.index} MATCH ?")
        params.append(search.match)
    if search is not None and search.condition is not None:
        where.append(search.condition)
        params.extend(search.params)
    if not filters.all_versions:
        where.append("d.latest")
    if not filters.include_duplicates:
        where.append("NOT d.duplicate")
    for column, values in (("source", filters.sources), ("language", filters.languages)):
        if values:
            where.append(f"d.{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if filters.since is not None:
        where.append("d.sort_time >= ?")
        params.append(filters.since)
    if filters.until is not None:
        where.append("d.sort_time < ?")
        params.append(filters.until)
    return where, params


def _select(filters: Filters, plan: _Plan, *, keyed: bool = False) -> tuple[str, list[object]]:
    """The statement selecting the hits; `keyed` adds two columns, the rank (what orders the
    hits before time: bm25, or 0 for a title match of a broad search) and the sort time."""
    columns = ", ".join(f"d.{name}" for name in HIT_COLUMNS)
    search = plan.search
    where, params = _conditions(filters, search)
    source = "search_docs d"
    rank, rank_params = "0", []
    order = "d.sort_time DESC, d.id"
    order_params: list[object] = []
    if search is not None:
        source = _search_join(search.index)
        if search.ranked and not filters.newest_first:
            rank = f"bm25({search.index})"
            order = f"{rank}, {order}"
    if plan.broad and search is not None:
        in_title = f"SELECT rowid FROM {search.index} WHERE {search.index} MATCH ?"
        title_params: list[object] = [f"{{title}} : ({search.match})"]
        if plan.start is not None:
            where.append("f.rowid >= ?")
            params.append(plan.start)
            in_title += " AND rowid >= ?"
            title_params.append(plan.start)
        if not filters.newest_first:
            order = f"f.rowid IN ({in_title}) DESC, d.sort_time DESC, d.id"
            order_params += title_params
            rank, rank_params = f"f.rowid NOT IN ({in_title})", title_params
    sql = f"SELECT {columns}, d.file, d.offset, d.length FROM {source}"
    if keyed:
        sql = f"SELECT {columns}, d.file, d.offset, d.length, {rank}, d.sort_time FROM {source}"
        params = [*rank_params, *params]
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    params += order_params
    if filters.limit is not None:
        sql += " LIMIT ?"
        params.append(filters.limit)
    return sql, params


def read_lines(records_dir: Path, hits: Iterable[Hit]) -> Iterator[bytes]:
    """The full JSON line (newline included) of each hit, read by offset, in the hits' order."""
    name: str | None = None
    file: BinaryIO | None = None
    try:
        for hit in hits:
            where = hit.location
            if where.file != name or file is None:
                if file is not None:
                    file.close()
                name, file = where.file, _open_records(records_dir / where.file)
            file.seek(where.offset)
            line = file.read(where.length)
            if len(line) != where.length or not line.endswith(b"\n"):
                raise ArchiveError(
                    f"{where.file}@{where.offset}: record {hit.id} is not where the catalog "
                    "says: run `newsarchive reindex`"
                )
            yield line
    finally:
        if file is not None:
            file.close()


def _open_records(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ArchiveError(f"cannot read records file {path}: {exc.strerror}") from exc
