"""The search index in the catalog: SQLite FTS5 over title + text, plus the columns filters need.

Three tables live in `catalog.sqlite` next to the crawl's own:
- `search_docs`: one row per JSON record, with what `query` filters and sorts on (source, times,
  language, duplicate flag, version and whether it is the latest version of its canonical URL) and
  where the full record lives (records file, byte offset, length), so a result is read back with
  one seek instead of a scan of the JSONL.
- `search_text`: a contentless FTS5 table (title, text) whose rowid is the `search_docs` rowid.
  Contentless keeps the catalog small: the text itself stays in the records.
- `search_title`: the same over the titles alone, for searches within titles: FTS5 keeps one list
  of records per word for all columns, so `title:election` in `search_text` reads every record
  whose text says "election" (most of them). A catalog from before it existed gets it, filled
  from `search_docs`, the first time a writer opens the index.
- `search_cjk`: title + text by trigram, of the records holding Chinese, Japanese or Korean
  characters only (written without spaces, they defeat the word index; see `archive.search`).
  It keeps its text (substrings under three characters are found by scanning it). A catalog
  from before it lacks it until `reindex`, since the catalog alone cannot fill it.

The crawl adds each record inside the catalog transaction that stores it, so a committed catalog
never indexes a record that is not on disk. `reindex` rebuilds both tables from the records with
`rebuild()`. Times are stored as ISO 8601 UTC strings ("YYYY-MM-DDTHH:MM:SSZ"), which sort as time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from archive.errors import ArchiveError
from archive.records import RecordLocation, RecordStore, located_records
from archive.search import CJK

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS search_docs (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        canonical_url TEXT NOT NULL,
        version INTEGER NOT NULL,
        latest INTEGER NOT NULL,
        duplicate INTEGER NOT NULL,
        source TEXT NOT NULL,
        published TEXT,
        fetched_at TEXT NOT NULL,
        sort_time TEXT NOT NULL,
        language TEXT,
        title TEXT,
        url TEXT,
        file TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS search_docs_canonical ON search_docs (canonical_url, version)",
    "CREATE INDEX IF NOT EXISTS search_docs_time ON search_docs (sort_time DESC, id)",
    "CREATE INDEX IF NOT EXISTS search_docs_source ON search_docs (source, sort_time DESC, id)",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
        title, text, content='', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_title USING fts5(
        title, content='', tokenize='unicode61 remove_diacritics 2'
    )""",
)
CJK_TABLE = "CREATE VIRTUAL TABLE search_cjk USING fts5(title, text, tokenize='trigram')"
# Which record each duplicate names (`duplicate_of`), so its original finds its copies by index.
DUPLICATES_TABLE = (
    "CREATE TABLE search_duplicates (id TEXT PRIMARY KEY, duplicate_of TEXT NOT NULL)",
    "CREATE INDEX search_duplicates_of ON search_duplicates (duplicate_of)",
)

_DOC_COLUMNS = (
    "id, canonical_url, version, latest, duplicate, source, "
    "published, fetched_at, sort_time, language, title, url, file, offset, length"
)
_FTS_TABLES = ("search_text", "search_title", "search_cjk")
_INSERT = (
    f"INSERT OR IGNORE INTO search_docs ({_DOC_COLUMNS}) "
    "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Bulk adds choose the rowids themselves; a record id already indexed keeps its old row, and
# then gets no second text row.
_INSERT_NUMBERED = (
    f"INSERT OR IGNORE INTO search_docs (rowid, {_DOC_COLUMNS}) "
    "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_TEXT_IF_NEW = (
    "INSERT INTO search_text (rowid, title, text) SELECT ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM search_docs WHERE rowid = ? AND id = ?)"
)
_INSERT_TITLE_IF_NEW = (
    "INSERT INTO search_title (rowid, title) SELECT ?, ? "
    "WHERE EXISTS (SELECT 1 FROM search_docs WHERE rowid = ? AND id = ?)"
)
_FILL_TITLES = (
    "INSERT INTO search_title (rowid, title) SELECT rowid, coalesce(title, '') FROM search_docs"
)


def utc_timestamp(value: object) -> str | None:
    """An ISO 8601 date or time as "YYYY-MM-DDTHH:MM:SSZ" (naive means UTC); None if it is not one.

    Published dates come from pages, so a bad one is data: the record then sorts by fetch time.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FullTextIndex:
    """The search tables of one catalog connection; the caller owns the transaction (commit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            fill_titles = "search_title" not in tables
            for statement in SCHEMA:
                db.execute(statement)
            empty = db.execute("SELECT 1 FROM search_docs LIMIT 1").fetchone() is None
            if "search_cjk" not in tables and empty:
                db.execute(CJK_TABLE)
            self._cjk = "search_cjk" in tables or empty
            if "search_duplicates" not in tables and empty:
                for statement in DUPLICATES_TABLE:
                    db.execute(statement)
            self._duplicates = "search_duplicates" in tables or empty
            if fill_titles:  # a catalog from before `search_title`
                db.execute(_FILL_TITLES)
                db.execute("INSERT INTO search_title (search_title) VALUES ('optimize')")
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot create the search index: {exc}") from exc

    def add(self, record: Mapping[str, Any], location: RecordLocation) -> None:
        """Index one stored record; adding a record id twice is a no-op.

        The highest version of each canonical URL is marked latest, whatever the order of adds.
        Duplicates (text null) are indexed by title only, and flagged so queries can hide them.
        """
        canonical, version = record["canonical_url"], record["version"]
        cursor = self._db.execute(_INSERT, _doc_row(record, location))
        if cursor.rowcount == 0:
            return
        rowid = cursor.lastrowid
        title = record.get("title") or ""
        self._db.execute(
            "INSERT INTO search_text (rowid, title, text) VALUES (?, ?, ?)",
            (rowid, title, record.get("text") or ""),
        )
        self._db.execute("INSERT INTO search_title (rowid, title) VALUES (?, ?)", (rowid, title))
        self._add_cjk([(rowid, record)])
        self._add_duplicates([record])
        self._db.execute(
            "UPDATE search_docs SET latest = 0 WHERE canonical_url = ? AND version < ? AND latest",
            (canonical, version),
        )
        self._db.execute(
            "UPDATE search_docs SET latest = 0 WHERE rowid = ? AND EXISTS (SELECT 1 FROM "
            "search_docs WHERE canonical_url = ? AND version > ?)",
            (rowid, canonical, version),
        )

    def _add_cjk(self, numbered: Iterable[tuple[object, Mapping[str, Any]]]) -> None:
        """Index by trigram the records holding CJK characters (rowids already in search_docs)."""
        if not self._cjk:
            return
        texts = ((rowid, r.get("title") or "", r.get("text") or "") for rowid, r in numbered)
        rows = [row for row in texts if CJK.search(row[1]) or CJK.search(row[2])]
        self._db.executemany("INSERT INTO search_cjk (rowid, title, text) VALUES (?, ?, ?)", rows)

    def _add_duplicates(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Remember whose text each duplicate among `records` repeats (newly indexed records)."""
        if not self._duplicates:
            return
        rows = [(r["id"], r["duplicate_of"]) for r in records if r.get("duplicate_of")]
        self._db.executemany("INSERT OR IGNORE INTO search_duplicates VALUES (?, ?)", rows)

    def _tables(self) -> tuple[str, ...]:
        return _FTS_TABLES if self._cjk else _FTS_TABLES[:-1]

    def location(self, record_id: str) -> RecordLocation | None:
        """Where the record with this id is stored, if it is indexed."""
        row = self._db.execute(
            "SELECT file, offset, length FROM search_docs WHERE id = ?", (record_id,)
        ).fetchone()
        return RecordLocation(*row) if row else None

    def clear(self) -> None:
        """Forget every indexed record (before a rebuild), keeping the tables."""
        self._db.execute("DELETE FROM search_docs")
        for table in _FTS_TABLES[:-1]:  # contentless: no rows to delete
            self._db.execute(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
        if self._cjk:
            self._db.execute("DELETE FROM search_cjk")
        if self._duplicates:
            self._db.execute("DELETE FROM search_duplicates")

    def optimize(self) -> None:
        """Merge the FTS5 segments into one: slower to write, faster to search. After a rebuild."""
        for table in self._tables():
            self._db.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")

    def add_many(
        self, located: Iterable[tuple[Mapping[str, Any], RecordLocation]], batch: int = 2000
    ) -> int:
        """Index many records as `add` would each, in batches; return how many were read.

        For rebuilds: the latest flags are settled once at the end, over the whole index.
        """
        count = 0
        rows = iter(located)
        while chunk := list(islice(rows, batch)):
            first = self._db.execute("SELECT coalesce(max(rowid), 0) + 1 FROM search_docs")
            start = first.fetchone()[0]
            numbered = [(start + n, *pair) for n, pair in enumerate(chunk)]
            self._db.executemany(
                _INSERT_NUMBERED, [(rowid, *_doc_row(r, loc)) for rowid, r, loc in numbered]
            )
            self._db.executemany(
                _INSERT_TEXT_IF_NEW,
                [
                    (rowid, r.get("title") or "", r.get("text") or "", rowid, r["id"])
                    for rowid, r, _ in numbered
                ],
            )
            self._db.executemany(
                _INSERT_TITLE_IF_NEW,
                [(rowid, r.get("title") or "", rowid, r["id"]) for rowid, r, _ in numbered],
            )
            new = {
                row
                for (row,) in self._db.execute(
                    "SELECT rowid FROM search_docs WHERE rowid >= ?", (start,)
                )
            }
            self._add_cjk((rowid, r) for rowid, r, _ in numbered if rowid in new)
            self._add_duplicates(r for rowid, r, _ in numbered if rowid in new)
            count += len(chunk)
        self._db.execute(
            "UPDATE search_docs AS d SET latest = 0 WHERE latest AND EXISTS (SELECT 1 FROM "
            "search_docs o WHERE o.canonical_url = d.canonical_url AND o.version > d.version)"
        )
        return count

    def rebuild(self, records_dir: Path) -> int:
        """Re-index every complete line of every records file; return how many records.

        Does not commit: the caller commits once (or the rebuild is all or nothing).
        """
        files = RecordStore(records_dir).files()
        count = self.add_many(pair for path in files for pair in located_records(path, records_dir))
        self.optimize()
        return count


def _doc_row(record: Mapping[str, Any], location: RecordLocation) -> tuple[object, ...]:
    """The `search_docs` values of one record, in `_INSERT`'s order."""
    fetched_at = utc_timestamp(record["fetched_at"]) or record["fetched_at"]
    published = utc_timestamp(record.get("published"))
    return (
        record["id"],
        record["canonical_url"],
        record["version"],
        record.get("duplicate_of") is not None,
        record["source"],
        published,
        fetched_at,
        published or fetched_at,
        record.get("language"),
        record.get("title"),
        record.get("url"),
        location.file,
        location.offset,
        location.length,
    )
