"""Publishing a shard's committed catalog rows to the collection's index, after each commit.

What is published is read back from the catalog, never from the crawl's memory: the rows past the
shard's watermark (per table, the last rowid published), so a worker killed between its commit
and its publish publishes the rest when it starts again (`reconcile`), and a rebuild
(`crawler.cluster.rebuild`) is the same code from rowid 0. Each batch goes in one MULTI with the
watermark's new value, so Redis never holds one without the other. Every command is idempotent:
an article's hash only moves to a later version (or the same from the same shard), a text and a
payload keep their first shard's record, a URL's capture its latest date.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.cluster.index import ClusterIndex, key, watermark_key

# The catalog tables whose new rows are published, with the query of the rows past a rowid.
# `records` are the full-text index's rows, one per JSON record ever stored: the trigger to
# publish its article (latest version) and the text it holds; the others are published as is.
_QUERIES = {
    "records": "SELECT rowid, id, canonical_url FROM search_docs WHERE rowid > ? "
    "ORDER BY rowid LIMIT ?",
    "urls": "SELECT rowid, url, canonical_url FROM urls WHERE rowid > ? ORDER BY rowid LIMIT ?",
    "payloads": "SELECT rowid, payload_digest, filename, offset, length, record_id, target_uri, "
    "date FROM payloads WHERE rowid > ? ORDER BY rowid LIMIT ?",
    "captures": "SELECT c.rowid, c.url, c.payload_digest, p.date FROM captures c "
    "LEFT JOIN payloads p USING (payload_digest) WHERE c.rowid > ? ORDER BY c.rowid LIMIT ?",
}
TABLES = tuple(_QUERIES)
_ARTICLES = (
    "SELECT canonical_url, record_id, version, content_hash, payload_digest, first_fetched, "
    "etag, last_modified FROM articles WHERE canonical_url IN (SELECT value FROM json_each(?))"
)
_TEXTS = (
    "SELECT t.content_hash, t.record_id, t.canonical_url, s.published, s.names FROM texts t "
    "LEFT JOIN text_sources s USING (record_id) "
    "WHERE t.record_id IN (SELECT value FROM json_each(?))"
)
BATCH_ROWS = 2000
_LOCATION = ("filename", "offset", "length", "record_id", "target_uri", "date")

# An article's latest version: replaced by a later one, or by the same from the same shard
# (a republish); its first fetch is the earliest any shard saw.
_LATEST_VERSION = """
local cur = redis.call('HMGET', KEYS[1], 'version', 'shard', 'first_fetched')
local first = ARGV[3]
if cur[3] and cur[3] < first then first = cur[3] end
local version = tonumber(ARGV[1])
if (not cur[1]) or tonumber(cur[1]) < version
    or (tonumber(cur[1]) == version and cur[2] == ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'shard', ARGV[2], 'first_fetched', first,
             unpack(ARGV, 4))
else
  redis.call('HSET', KEYS[1], 'first_fetched', first)
end
return 1
"""
# A text's or a payload's first holder: only the shard that published it first may change it
# (a copy demoted in favour of its original, within that shard).
_FIRST_SHARD = """
local shard = redis.call('HGET', KEYS[1], 'shard')
if shard and shard ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'shard', ARGV[1], unpack(ARGV, 2))
return 1
"""
# A URL's latest full capture, by date.
_LATEST_CAPTURE = """
local date = redis.call('HGET', KEYS[1], 'date')
if date and date > ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'date', ARGV[2])
return 1
"""


@dataclass
class Published:
    """How many rows a publish sent, per kind."""

    records: int = 0
    urls: int = 0
    payloads: int = 0
    captures: int = 0

    def add(self, other: Published) -> None:
        for table in TABLES:
            setattr(self, table, getattr(self, table) + getattr(other, table))


def _fields(**values: Any) -> list[Any]:
    """HSET's field/value arguments, without the fields that have no value."""
    return [item for name, value in values.items() if value is not None for item in (name, value)]


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def catalog_identity(path: Path) -> str:
    """What tells one catalog file from the next: a rebuilt catalog (`reindex`) is a new file,
    whose rowids say nothing of what the old one published."""
    return str(path.stat().st_ino)


class Publisher:
    """Publishes one shard's catalog (`db`, the file `catalog_id` names) to the index as
    `index.shard`."""

    def __init__(self, index: ClusterIndex, db: sqlite3.Connection, catalog_id: str) -> None:
        self.index = index
        self.db = db
        self.catalog_id = catalog_id
        client = index.client
        self._latest_version = client.register_script(_LATEST_VERSION)
        self._first_shard = client.register_script(_FIRST_SHARD)
        self._latest_capture = client.register_script(_LATEST_CAPTURE)
        self.watermark = dict.fromkeys(TABLES, 0)

    def reconcile(self) -> Published:
        """At start: read the shard's watermark and publish what was committed past it. The
        watermark of another catalog file (rebuilt since), or past this one's rows, starts
        over: publishing again is harmless."""
        stored = self.index.call(lambda: self.index.client.hgetall(watermark_key(self.index.shard)))
        if stored.get("catalog") == self.catalog_id:
            self.watermark.update({table: int(stored.get(table, 0)) for table in TABLES})
        for table, last in self._last_rowids().items():
            if self.watermark[table] > last:
                self.watermark[table] = 0
        return self.publish_all()

    def publish_all(self) -> Published:
        total = Published()
        while True:
            sent, full = self.publish()
            total.add(sent)
            if not full:
                return total

    def publish(self) -> tuple[Published, bool]:
        """Publish up to `BATCH_ROWS` rows of each table past the watermark in one MULTI, with
        the claims of what is now published released (and the others renewed when due); whether
        a table had more rows."""
        rows = {table: self._rows(table) for table in TABLES}
        pipe: Any = self.index.client.pipeline(transaction=True)
        self._records(pipe, rows["records"])
        for _, url, canonical in rows["urls"]:
            pipe.set(key("alias", url), canonical)
        for _, digest, *location in rows["payloads"]:
            self._first_shard(
                keys=[key("payload", digest)],
                args=[self.index.shard, *_fields(**dict(zip(_LOCATION, location, strict=True)))],
                client=pipe,
            )
        for _, url, digest, date in rows["captures"]:
            if date is not None:  # its payload was forgotten: nothing to refer to
                self._latest_capture(keys=[key("capture", url)], args=[digest, date], client=pipe)
        self.index.queue_claims(pipe, {row[1] for row in rows["urls"]})
        marks = {table: found[-1][0] for table, found in rows.items() if found}
        if marks:
            pipe.hset(
                watermark_key(self.index.shard), mapping={**marks, "catalog": self.catalog_id}
            )
        if len(pipe):
            self.index.call(pipe.execute)
        self.watermark.update(marks)
        full = any(len(found) == BATCH_ROWS for found in rows.values())
        return Published(*(len(rows[table]) for table in TABLES)), full

    def _rows(self, table: str) -> list[tuple[Any, ...]]:
        if table == "records" and not _has_table(self.db, "search_docs"):
            return []
        return self.db.execute(_QUERIES[table], (self.watermark[table], BATCH_ROWS)).fetchall()

    def _records(self, pipe: Any, records: list[tuple[Any, ...]]) -> None:
        """The latest version of each record's article, and the texts the records hold."""
        if not records:
            return
        canonicals = json.dumps(sorted({canonical for _, _, canonical in records}))
        for row in self.db.execute(_ARTICLES, (canonicals,)):
            canonical, record_id, version, content_hash, payload, first, etag, modified = row
            fields = _fields(
                record_id=record_id,
                content_hash=content_hash,
                payload_digest=payload,
                etag=etag,
                last_modified=modified,
            )
            self._latest_version(
                keys=[key("url", canonical)],
                args=[version, self.index.shard, first, *fields],
                client=pipe,
            )
        ids = json.dumps([record_id for _, record_id, _ in records])
        for content_hash, record_id, canonical, published, names in self.db.execute(_TEXTS, (ids,)):
            fields = _fields(
                record_id=record_id, canonical_url=canonical, published=published, names=names
            )
            self._first_shard(
                keys=[key("text", content_hash)], args=[self.index.shard, *fields], client=pipe
            )

    def _last_rowids(self) -> dict[str, int]:
        tables = {"records": "search_docs", "urls": "urls", "payloads": "payloads"}
        tables |= {"captures": "captures"}
        return {
            table: self.db.execute(f"SELECT coalesce(max(rowid), 0) FROM {name}").fetchone()[0]
            if _has_table(self.db, name)
            else 0
            for table, name in tables.items()
        }
