"""Publishing a shard's committed catalog rows to the collection's index, after each commit.

What is published is read back from the catalog, never from the crawl's memory: the rows past the
shard's watermark (per table, the last rowid published), so a worker killed between its commit
and its publish publishes the rest when it starts again (`reconcile`), and a rebuild
(`crawler.cluster.rebuild`) is the same code from rowid 0. Each batch goes in one script call with
the watermark's new value, so Redis never holds one without the other. Every command is idempotent:
an article's hash only moves to a later version (or the same from the same shard), a text and a
payload keep their first shard's record, a URL's capture its latest date.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.cluster.index import CLAIM_SECONDS, ClusterIndex, watermark_key
from crawler.cluster.keys import PREFIX

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

# One batch of a shard's rows (ARGV[3], JSON) in one script, which Redis runs whole: the index
# never holds rows without the watermark past them (KEYS[1]). ARGV[1]: the shard, ARGV[2]: the
# key prefix.
_PUBLISH = """
local shard, prefix = ARGV[1], ARGV[2]
local batch = cjson.decode(ARGV[3])

-- A text's or a payload's first holder: only the shard that published it first may change it
-- (a copy demoted in favour of its original, within that shard).
local function first_shard(key, fields)
  local owner = redis.call('HGET', key, 'shard')
  if owner and owner ~= shard then return end
  redis.call('DEL', key)
  redis.call('HSET', key, 'shard', shard, unpack(fields))
end

-- An article's latest version: replaced by a later one, or by the same from the same shard
-- (a republish); its first fetch is the earliest any shard saw.
for _, row in ipairs(batch.articles) do
  local key, version, first = prefix .. 'url:' .. row[1], tonumber(row[2]), row[3]
  local cur = redis.call('HMGET', key, 'version', 'shard', 'first_fetched')
  if cur[3] and cur[3] < first then first = cur[3] end
  if (not cur[1]) or tonumber(cur[1]) < version
      or (tonumber(cur[1]) == version and cur[2] == shard) then
    redis.call('DEL', key)
    redis.call('HSET', key, 'version', row[2], 'shard', shard, 'first_fetched', first,
               unpack(row[4]))
  else
    redis.call('HSET', key, 'first_fetched', first)
  end
end
for _, row in ipairs(batch.texts) do first_shard(prefix .. 'text:' .. row[1], row[2]) end
for _, row in ipairs(batch.payloads) do first_shard(prefix .. 'payload:' .. row[1], row[2]) end
for _, row in ipairs(batch.aliases) do redis.call('SET', prefix .. 'alias:' .. row[1], row[2]) end
-- A URL's latest full capture, by date.
for _, row in ipairs(batch.captures) do
  local key = prefix .. 'capture:' .. row[1]
  local date = redis.call('HGET', key, 'date')
  if (not date) or date <= row[3] then
    redis.call('HSET', key, 'digest', row[2], 'date', row[3])
  end
end
-- Claims released, or renewed, only while they are this shard's.
for _, url in ipairs(batch.release) do
  local key = prefix .. 'claim:' .. url
  if redis.call('GET', key) == shard then redis.call('DEL', key) end
end
for _, url in ipairs(batch.renew) do
  local key = prefix .. 'claim:' .. url
  if redis.call('GET', key) == shard then redis.call('PEXPIRE', key, batch.claim_ms) end
end
local marks = {}
for name, value in pairs(batch.watermark) do
  marks[#marks + 1] = name
  marks[#marks + 1] = value
end
if #marks > 0 then redis.call('HSET', KEYS[1], unpack(marks)) end
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


def _fields(**values: Any) -> list[str]:
    """HSET's field/value arguments, without the fields that have no value."""
    return [
        item for name, value in values.items() if value is not None for item in (name, str(value))
    ]


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
        self._publish = client.register_script(_PUBLISH)
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
        """Publish up to `BATCH_ROWS` rows of each table past the watermark in one script call,
        with the claims of what is now published released (and the others renewed when due);
        whether a table had more rows."""
        rows = {table: self._rows(table) for table in TABLES}
        release, renew = self.index.due_claims({row[1] for row in rows["urls"]})
        marks = {table: found[-1][0] for table, found in rows.items() if found}
        if marks or release or renew:
            batch = {
                **self._records(rows["records"]),
                "aliases": [[url, canonical] for _, url, canonical in rows["urls"]],
                "payloads": [
                    [digest, _fields(**dict(zip(_LOCATION, location, strict=True)))]
                    for _, digest, *location in rows["payloads"]
                ],
                # A capture whose payload was forgotten refers to nothing: not published.
                "captures": [row[1:] for row in rows["captures"] if row[3] is not None],
                "release": release,
                "renew": renew,
                "claim_ms": str(int(CLAIM_SECONDS * 1000)),
                "watermark": {name: str(mark) for name, mark in marks.items()}
                | ({"catalog": self.catalog_id} if marks else {}),
            }
            args = [self.index.shard, PREFIX, json.dumps(batch, ensure_ascii=False)]
            keys = [watermark_key(self.index.shard)]
            self.index.call(lambda: self._publish(keys=keys, args=args))
        self.watermark.update(marks)
        full = any(len(found) == BATCH_ROWS for found in rows.values())
        return Published(*(len(rows[table]) for table in TABLES)), full

    def _rows(self, table: str) -> list[tuple[Any, ...]]:
        if table == "records" and not _has_table(self.db, "search_docs"):
            return []
        return self.db.execute(_QUERIES[table], (self.watermark[table], BATCH_ROWS)).fetchall()

    def _records(self, records: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
        """The latest version of each record's article, and the texts the records hold."""
        batch: dict[str, list[Any]] = {"articles": [], "texts": []}
        if not records:
            return batch
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
            batch["articles"].append([canonical, str(version), first, fields])
        ids = json.dumps([record_id for _, record_id, _ in records])
        for content_hash, record_id, canonical, published, names in self.db.execute(_TEXTS, (ids,)):
            fields = _fields(
                record_id=record_id, canonical_url=canonical, published=published, names=names
            )
            batch["texts"].append([content_hash, fields])
        return batch

    def _last_rowids(self) -> dict[str, int]:
        tables = {"records": "search_docs", "urls": "urls", "payloads": "payloads"}
        tables |= {"captures": "captures"}
        return {
            table: self.db.execute(f"SELECT coalesce(max(rowid), 0) FROM {name}").fetchone()[0]
            if _has_table(self.db, name)
            else 0
            for table, name in tables.items()
        }
