"""The catalog: SQLite (WAL) lookups that make a crawl incremental.

It holds what the crawl must find fast: which canonical URLs are archived (and their latest
version), which texts and payloads are already stored, the validators of every feed, and a row per
run. It is a cache: everything in it can be rebuilt from the WARC files and the JSON records.

The lookups dedup needs (seen URL, content hash, payload digest, feed validators) form the
`DedupState` protocol, so another backend (Redis, for several crawler machines) can stand in.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from archive.errors import ArchiveError
from archive.fulltext import utc_timestamp
from archive.urls import canonical_url
from archive.warcwriter import WarcLocation

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    canonical_url TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    first_fetched TEXT NOT NULL,
    last_checked TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
);
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    canonical_url TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS texts (
    content_hash TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    canonical_url TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS text_sources (
    record_id TEXT PRIMARY KEY,
    canonical_url TEXT NOT NULL,
    published TEXT,
    names TEXT
);
CREATE TABLE IF NOT EXISTS payloads (
    payload_digest TEXT PRIMARY KEY,
    target_uri TEXT NOT NULL,
    date TEXT NOT NULL,
    record_id TEXT NOT NULL,
    filename TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
    url TEXT PRIMARY KEY,
    payload_digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_polled TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retries (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    listing TEXT NOT NULL,
    entry_url TEXT NOT NULL,
    title TEXT,
    published TEXT,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    last_attempt TEXT NOT NULL,
    next_attempt TEXT
);
CREATE INDEX IF NOT EXISTS retries_due ON retries (next_attempt);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    sources TEXT NOT NULL,
    summary TEXT
);
"""


@dataclass(frozen=True)
class Validators:
    """HTTP validators remembered for a conditional GET."""

    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class ArchivedArticle:
    """The latest archived version of one canonical URL."""

    canonical_url: str
    record_id: str
    version: int
    content_hash: str
    payload_digest: str
    first_fetched: datetime
    validators: Validators


@dataclass(frozen=True)
class TextOwner:
    """The record holding one text, with what decides whether a copy found later is the original.

    `published` is ISO 8601 UTC; `names` is the other site's URL it names as its source
    (canonicalised); both None when unknown (a catalog rebuilt from records knows no `names`).
    `latest` says whether it is still the latest version of its article.
    """

    record_id: str
    canonical_url: str
    published: str | None
    names: str | None
    latest: bool


@dataclass(frozen=True)
class Retry:
    """An article whose fetch failed: when it is tried again, or that it was given up."""

    url: str
    """The canonical URL requested."""
    source: str
    listing: str
    entry_url: str
    title: str | None
    published: str | None
    attempts: int
    last_error: str
    next_attempt: datetime | None
    """None once given up: it is not fetched again."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed article is tried, and how long between tries: `first_wait` after the
    first failure, twice as long after each further one, until `attempts` tries have failed."""

    attempts: int
    first_wait: timedelta

    def next_attempt(self, attempts: int, failed_at: datetime) -> datetime | None:
        """When to try again after `attempts` failed tries; None: give up."""
        if attempts >= self.attempts:
            return None
        return failed_at + self.first_wait * 2 ** (attempts - 1)


@dataclass(frozen=True)
class ShardLocation(WarcLocation):
    """A record another shard of the collection holds: found through the collection's index,
    named by its file (WARC file names carry their worker's name, so they are unique across the
    collection), not readable from this shard."""

    shard: str = ""


class DedupState(Protocol):
    """The lookups that decide what to fetch and what to store; one backend per archive."""

    def feed_validators(self, url: str) -> Validators | None: ...
    def article(self, canonical_url: str) -> ArchivedArticle | None: ...
    def canonical_for(self, url: str) -> str | None: ...
    def text_owner(self, content_hash: str) -> TextOwner | None: ...
    def capture_for_payload(self, payload_digest: str) -> WarcLocation | None: ...
    def capture_for_url(self, url: str) -> WarcLocation | None: ...


# Column order of WarcLocation's fields, so a row builds one directly.
_LOCATION = "filename, offset, length, record_id, payload_digest, target_uri, date"


_RETRY = "url, source, listing, entry_url, title, published, attempts, last_error, next_attempt"


def _retry(row: tuple[Any, ...]) -> Retry:
    url, source, listing, entry_url, title, published, attempts, error, next_attempt = row
    when = _parse_ts(next_attempt) if next_attempt else None
    return Retry(url, source, listing, entry_url, title, published, attempts, error, when)


def retry_counts(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """Per source: articles waiting for another try, and articles given up (`db` may be a
    read-only connection; a catalog from before the retry list has none)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'retries'").fetchone():
        return {}
    rows = db.execute(
        "SELECT source, count(next_attempt), count(*) - count(next_attempt) FROM retries "
        "GROUP BY source"
    )
    return {source: (waiting, given_up) for source, waiting, given_up in rows}


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the catalog at `path`, whatever characters the path holds
    (a `#`, `?` or `%` in a plain "file:" URI would name another file)."""
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)


class _CatalogConnection(sqlite3.Connection):
    """A connection whose statements fail with ArchiveError when the disk or the file does (full,
    unreadable, corrupt), the error that stops a crawl cleanly, wherever they run: in the
    catalog's methods or in the search index kept in its transaction. Bugs (bad SQL, a broken
    constraint) still raise as themselves."""

    path = ""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with _disk_errors(self.path):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        with _disk_errors(self.path):
            return super().executemany(sql, parameters)


# SQLite's primary result codes for a file or disk that failed, not a statement: full, I/O
# error, corrupt or not a database, cannot open, read-only or no permission, held by another.
_FILE_FAILURES = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    }
)


@contextmanager
def _disk_errors(path: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if (exc.sqlite_errorcode & 0xFF) not in _FILE_FAILURES:  # extended codes keep it low
            raise
        raise ArchiveError(f"{path}: cannot use catalog: {exc}") from exc


def _create(path: Path) -> None:
    """Create the catalog's tables under another name, then put the file in place, so that a
    reader never finds a catalog without its tables."""
    scratch = path.with_name(path.name + ".new")
    scratch.unlink(missing_ok=True)
    db = sqlite3.connect(scratch)
    try:
        db.executescript(SCHEMA)
        db.commit()
    finally:
        db.close()
    os.replace(scratch, path)


class Catalog:
    """SQLite catalog of one archive. One writer (the crawl); readers never block it (WAL).

    Changes are grouped into the transaction the caller ends with `commit()`, so a crash loses
    at most the uncommitted tail, which the next run re-derives from the feeds.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open (creating if need be) the catalog at `path`; `read_only` opens an existing one
        without changing anything, as verify does while a crawl may be running."""
        self.path = path
        try:
            if read_only:
                self._db = connect_read_only(path)
                return
            if not path.exists():
                _create(path)
            self._db = sqlite3.connect(path, isolation_level="DEFERRED", factory=_CatalogConnection)
            self._db.path = str(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(f"{path}: cannot open catalog: {exc}") from exc

    def close(self) -> None:
        self.commit()
        self._db.close()

    def commit(self) -> None:
        try:
            self._db.commit()
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.path}: cannot write catalog: {exc}") from exc

    def rollback(self) -> None:
        """Drop the open transaction: what a failed group commit must not leave behind."""
        try:
            self._db.rollback()
        except sqlite3.Error as exc:
            raise ArchiveError(f"{self.path}: cannot roll back catalog: {exc}") from exc

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection, for indexes kept in this catalog's transaction (see `commit`)."""
        return self._db

    def _one(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
        return row

    # feeds
    def feed_validators(self, url: str) -> Validators | None:
        row = self._one("SELECT etag, last_modified FROM feeds WHERE url = ?", url)
        return Validators(row[0], row[1]) if row else None

    def set_feed_validators(self, url: str, validators: Validators, polled_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO feeds (url, etag, last_modified, last_polled) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, last_polled = excluded.last_polled",
            (url, validators.etag, validators.last_modified, _ts(polled_at)),
        )

    def forget_feed_validators(self, since: datetime) -> int:
        """Forget validators stored since `since`: the next poll of those feeds is a full GET.

        A run that did not finish may have stored a feed's validators before archiving its
        entries; a 304 next time would hide those entries for good.
        """
        cur = self._db.execute("DELETE FROM feeds WHERE last_polled >= ?", (_ts(since),))
        return cur.rowcount

    # the retry list
    def retry(self, url: str) -> Retry | None:
        """The retry list's row for the canonical URL `url`, if its fetch failed before."""
        row = self._one(f"SELECT {_RETRY} FROM retries WHERE url = ?", url)
        return _retry(row) if row else None

    def due_retries(self, sources: list[str], now: datetime) -> list[Retry]:
        """The retries of `sources` due by `now`, the earliest first."""
        marks = ", ".join("?" * len(sources))
        rows = self._db.execute(
            f"SELECT {_RETRY} FROM retries WHERE next_attempt <= ? AND source IN ({marks}) "
            "ORDER BY next_attempt",
            (_ts(now), *sources),
        )
        return [_retry(row) for row in rows]

    def failed(self, retry: Retry, failed_at: datetime, policy: RetryPolicy) -> Retry:
        """Count one more failed try of `retry.url` (`retry.attempts` is ignored); return its
        row: when to try again, or given up once `policy.attempts` tries failed."""
        known = self.retry(retry.url)
        attempts = (known.attempts if known else 0) + 1
        failure = replace(
            retry, attempts=attempts, next_attempt=policy.next_attempt(attempts, failed_at)
        )
        next_attempt = failure.next_attempt and _ts(failure.next_attempt)
        self._db.execute(
            f"INSERT OR REPLACE INTO retries ({_RETRY}, last_attempt) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*astuple(failure)[:-1], next_attempt, _ts(failed_at)),
        )
        return failure

    def succeeded(self, url: str) -> None:
        """`url` was fetched at last: off the retry list."""
        self._db.execute("DELETE FROM retries WHERE url = ?", (url,))

    # articles
    def article(self, canonical_url: str) -> ArchivedArticle | None:
        row = self._one(
            "SELECT canonical_url, record_id, version, content_hash, payload_digest, "
            "first_fetched, etag, last_modified FROM articles WHERE canonical_url = ?",
            canonical_url,
        )
        if row is None:
            return None
        url, record_id, version, content_hash, payload, first, etag, modified = row
        return ArchivedArticle(
            url,
            record_id,
            version,
            content_hash,
            payload,
            _parse_ts(first),
            Validators(etag, modified),
        )

    def canonical_for(self, url: str) -> str | None:
        """The article's canonical URL for any URL it was fetched or listed under."""
        row = self._one("SELECT canonical_url FROM urls WHERE url = ?", url)
        return row[0] if row else None

    def text_owner(self, content_hash: str) -> TextOwner | None:
        """The record holding this exact text, if any: the first archived, unless a copy of it
        later named another record as the original (`record_version`)."""
        row = self._one(
            "SELECT t.record_id, t.canonical_url, s.published, s.names, "
            "coalesce(a.record_id = t.record_id, 0) FROM texts t "
            "LEFT JOIN text_sources s ON s.record_id = t.record_id "
            "LEFT JOIN articles a ON a.canonical_url = t.canonical_url "
            "WHERE t.content_hash = ?",
            content_hash,
        )
        if row is None:
            return None
        record_id, canonical, published, names, latest = row
        return TextOwner(record_id, canonical, published, names, bool(latest))

    def remember_urls(self, canonical_url: str, urls: AbstractSet[str]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO urls (url, canonical_url) VALUES (?, ?)",
            [(u, canonical_url) for u in {*urls, canonical_url}],
        )

    def record_version(
        self,
        record: Mapping[str, Any],
        fetched_at: datetime,
        validators: Validators,
        names: str | None = None,
    ) -> None:
        """Remember a stored JSON record as the latest version of its canonical URL, and who
        holds its text: a record with text holds it unless one already does; a duplicate
        names the holder, which so takes over (an original found after its copy)."""
        canonical = record["canonical_url"]
        now = _ts(fetched_at)
        self._db.execute(
            "INSERT INTO articles (canonical_url, record_id, version, content_hash, "
            "payload_digest, first_fetched, last_checked, etag, last_modified) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(canonical_url) DO UPDATE SET record_id = excluded.record_id, "
            "version = excluded.version, content_hash = excluded.content_hash, "
            "payload_digest = excluded.payload_digest, "
            "last_checked = excluded.last_checked, etag = excluded.etag, "
            "last_modified = excluded.last_modified",
            (
                canonical,
                record["id"],
                record["version"],
                record["content_hash"],
                record["warc"]["payload_digest"],
                now,
                now,
                validators.etag,
                validators.last_modified,
            ),
        )
        if record.get("duplicate_of") is not None:
            self._db.execute(
                "UPDATE texts SET record_id = s.record_id, canonical_url = s.canonical_url "
                "FROM text_sources s WHERE s.record_id = ? AND texts.content_hash = ?",
                (record["duplicate_of"], record["content_hash"]),
            )
            return
        self._db.execute(
            "INSERT OR IGNORE INTO texts (content_hash, record_id, canonical_url) VALUES (?, ?, ?)",
            (record["content_hash"], record["id"], canonical),
        )
        self._db.execute(
            "INSERT OR IGNORE INTO text_sources (record_id, canonical_url, published, names) "
            "VALUES (?, ?, ?, ?)",
            (record["id"], canonical, utc_timestamp(record.get("published")), names),
        )

    def remember_record(
        self,
        record: Mapping[str, Any],
        validators: Validators,
        aliases: AbstractSet[str] | None = None,
        names: str | None = None,
    ) -> None:
        """Remember a stored JSON record: its version, its text and the URLs it was found under.

        The one way a record enters the catalog, whether the crawl just wrote it or a rebuild
        reads it back, so both leave the same rows. `aliases` are the canonical forms of the
        record's `url` and `final_url` when the caller has them already (the crawl's workers do);
        `names`, the other site's URL the page names as its source, only the crawl knows.
        """
        canonical = record["canonical_url"]
        if aliases is None:
            aliases = {canonical_url(record["url"]), canonical_url(record["final_url"])}
        fetched_at = datetime.fromisoformat(record["fetched_at"])
        self.record_version(record, fetched_at, validators, names)
        self.remember_urls(canonical, aliases)

    def latest_versions(self) -> dict[str, tuple[int, str]]:
        """Every archived article's canonical URL -> (latest version, its record id)."""
        rows = self._db.execute("SELECT canonical_url, version, record_id FROM articles")
        return {canonical: (version, record_id) for canonical, version, record_id in rows}

    def mark_checked(
        self, canonical_url: str, checked_at: datetime, validators: Validators
    ) -> None:
        """An unchanged recheck: keep the version, refresh the validators."""
        self._db.execute(
            "UPDATE articles SET last_checked = ?, etag = COALESCE(?, etag), "
            "last_modified = COALESCE(?, last_modified) WHERE canonical_url = ?",
            (_ts(checked_at), validators.etag, validators.last_modified, canonical_url),
        )

    # WARC payloads
    def capture_for_payload(self, payload_digest: str) -> WarcLocation | None:
        row = self._one(
            f"SELECT {_LOCATION} FROM payloads WHERE payload_digest = ?", payload_digest
        )
        return WarcLocation(*row) if row else None

    def capture_for_url(self, url: str) -> WarcLocation | None:
        """The latest full capture of a URL, which a server-not-modified revisit refers to."""
        row = self._one(
            f"SELECT {_LOCATION} FROM captures c JOIN payloads p USING (payload_digest) "
            "WHERE c.url = ?",
            url,
        )
        return WarcLocation(*row) if row else None

    def remember_capture(self, location: WarcLocation) -> None:
        """Call only after the response record is written: a digest never points at nothing."""
        self._db.execute(
            f"INSERT OR IGNORE INTO payloads ({_LOCATION}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                location.filename,
                location.offset,
                location.length,
                location.record_id,
                location.payload_digest,
                location.target_uri,
                location.date,
            ),
        )
        self._db.execute(
            "INSERT OR REPLACE INTO captures (url, payload_digest) VALUES (?, ?)",
            (location.target_uri, location.payload_digest),
        )

    def forget_payload(self, payload_digest: str) -> None:
        """Forget a payload whose record no longer reads back: nothing may refer to it."""
        self._db.execute("DELETE FROM payloads WHERE payload_digest = ?", (payload_digest,))
        self._db.execute("DELETE FROM captures WHERE payload_digest = ?", (payload_digest,))

    def forget_captures_past(self, file_sizes: Mapping[str, int]) -> int:
        """Forget payloads whose record does not lie wholly within its file's size on disk.

        `file_sizes` maps a WARC filename to its size (a missing name means the file is gone). A
        crash can commit a digest whose record was then cut off the file; a revisit must never
        refer to it. Returns how many payloads were forgotten.
        """
        self._db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS warc_sizes (filename TEXT PRIMARY KEY, size INTEGER)"
        )
        self._db.execute("DELETE FROM warc_sizes")
        self._db.executemany("INSERT INTO warc_sizes VALUES (?, ?)", file_sizes.items())
        gone = self._db.execute(
            "SELECT p.payload_digest FROM payloads p LEFT JOIN warc_sizes w USING (filename) "
            "WHERE w.size IS NULL OR p.offset + p.length > w.size"
        ).fetchall()  # the cut-off tail only: memory does not grow with the archive
        self._db.executemany("DELETE FROM payloads WHERE payload_digest = ?", gone)
        self._db.executemany("DELETE FROM captures WHERE payload_digest = ?", gone)
        return len(gone)

    # runs
    def start_run(self, sources: list[str], started_at: datetime) -> int:
        cur = self._db.execute(
            "INSERT INTO runs (started_at, sources) VALUES (?, ?)",
            (_ts(started_at), json.dumps(sources)),
        )
        self.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, finished_at: datetime, summary: Mapping[str, Any]) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
            (_ts(finished_at), json.dumps(dict(summary)), run_id),
        )
        self.commit()

    def last_clean_run_start(self) -> datetime | None:
        """When the latest run that finished (and so committed everything it wrote) started."""
        row = self._one(
            "SELECT started_at FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        return _parse_ts(row[0]) if row else None

    def unfinished_run_start(self) -> datetime | None:
        """When the earliest run since the last clean one started, if one never finished."""
        row = self._one(
            "SELECT MIN(started_at) FROM runs WHERE finished_at IS NULL AND id > "
            "(SELECT COALESCE(MAX(id), 0) FROM runs WHERE finished_at IS NOT NULL)"
        )
        return _parse_ts(row[0]) if row and row[0] else None

    def history(self) -> dict[str, list[tuple[Any, ...]]]:
        """The rows no file can rebuild, by table: the runs (oldest first) and the retry list,
        so a rebuilt catalog keeps them."""
        return {table: self._db.execute(f"SELECT * FROM {table}").fetchall() for table in _KEPT}

    def restore_history(self, tables: Mapping[str, list[tuple[Any, ...]]]) -> None:
        """Put back rows `history` returned (into a rebuilt catalog)."""
        for table, rows in tables.items():
            if rows and table in _KEPT:
                marks = ", ".join("?" * len(rows[0]))
                self._db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)


_KEPT = ("runs", "retries")
"""The catalog's tables that hold history rather than what the WARC files and records say."""
