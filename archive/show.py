"""One archived article as a reader asks for it, by record id or by URL: the record, every
version of its article, the records that duplicate it or that it duplicates, and where in which
WARC file its bytes lie.

Everything is found through the catalog's search index (opened read-only, as `query` does) and
read back from the records by offset. Records duplicating this one are found through the
index's table of duplicates (on a catalog from before it, by reading the duplicate records).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archive.collection import Collection, as_collection
from archive.errors import NotFoundError
from archive.layout import ArchiveLayout
from archive.query import Hit, hits_where, read_lines
from archive.urls import canonical_url


def field_text(value: object) -> str:
    """A field's value as words: lists joined by ", ", None empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


@dataclass(frozen=True)
class Article:
    """Every version of one canonical URL (version order), and which of them was asked for."""

    canonical_url: str
    versions: list[Hit]
    asked: Hit

    def records(self, collection: Collection) -> list[dict[str, Any]]:
        """The full JSON record of each version, in version order."""
        return [json.loads(line) for line in collection.lines(self.versions)]


def find_article(dbs: Sequence[sqlite3.Connection], key: str) -> Article:
    """The article whose record id is `key`, or that was archived under the URL `key` (as given,
    canonicalised, or any URL the crawl met it under), in the catalogs `dbs` (a collection's
    shards, in order: versions may lie in several); a NotFoundError otherwise.

    By id, that record is the one asked for; by URL, the latest version.
    """
    by_id = _hits_where(dbs, "id = ?", (key,))
    if by_id:
        canonical = by_id[0].canonical_url
    else:
        urls = (key, canonical_url(key))
        found = next(
            (
                row
                for db in dbs
                if (
                    row := db.execute(
                        "SELECT canonical_url FROM search_docs WHERE canonical_url IN (?, ?) "
                        "OR url IN (?, ?) UNION SELECT canonical_url FROM urls WHERE url IN (?, ?) "
                        "LIMIT 1",
                        (*urls, *urls, *urls),
                    ).fetchone()
                )
            ),
            None,
        )
        if found is None:
            raise NotFoundError(f"no archived record has the id or URL {key!r}")
        canonical = found[0]
    versions = _hits_where(dbs, "canonical_url = ?", (canonical,))
    if len(dbs) > 1:  # each shard's catalog knows its own latest version only
        versions.sort(key=lambda hit: (hit.version, hit.fetched_at, hit.id))
        versions = [replace(hit, latest=hit is versions[-1]) for hit in versions]
        by_id = [next(hit for hit in versions if hit.id == key)] if by_id else []
    asked = by_id[0] if by_id else versions[-1]
    return Article(canonical, versions, asked)


def _hits_where(
    dbs: Sequence[sqlite3.Connection], condition: str, params: Sequence[object]
) -> list[Hit]:
    """`hits_where` over every catalog of `dbs`, each hit naming its shard."""
    return [
        replace(hit, shard=number) if number else hit
        for number, db in enumerate(dbs)
        for hit in hits_where(db, condition, params)
    ]


def duplicates_of(db: sqlite3.Connection, records_dir: Path, record_id: str) -> list[Hit]:
    """The records whose text duplicates record `record_id`'s (`duplicate_of` names it).

    Looked up in the index's `search_duplicates` table; a catalog from before it (until
    `reindex`) has the duplicate records read instead, a cost that grows with the duplicates.
    """
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_duplicates'").fetchone():
        return hits_where(
            db, "id IN (SELECT id FROM search_duplicates WHERE duplicate_of = ?)", (record_id,)
        )
    candidates = sorted(
        hits_where(db, "duplicate", ()), key=lambda hit: (hit.location.file, hit.location.offset)
    )
    lines = read_lines(records_dir, candidates)
    return [
        hit
        for hit, line in zip(candidates, lines, strict=True)
        if json.loads(line).get("duplicate_of") == record_id
    ]


@dataclass(frozen=True)
class ArticleView:
    """What `show` prints: the record, its versions, duplicates both ways, its WARC file."""

    record: dict[str, Any]
    versions: list[Hit]
    duplicates: list[Hit]
    duplicate_of: Hit | None
    warc_path: Path

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "warc_path": str(self.warc_path),
            "versions": [hit.brief() for hit in self.versions],
            "duplicates": [hit.brief() for hit in self.duplicates],
            "duplicate_of": self.duplicate_of.brief() if self.duplicate_of else None,
        }


def show_article(archive: ArchiveLayout | Collection, key: str) -> ArticleView:
    """The `ArticleView` of the record with id `key`, or of the latest version archived under
    the URL `key`, in the archive or any shard of a collection; a NotFoundError if there is
    none."""
    collection = as_collection(archive)
    with collection.catalogs() as dbs:
        article = find_article(dbs, key)
        (line,) = collection.lines([article.asked])
        record = json.loads(line)
        owner = record.get("duplicate_of")
        owners = _hits_where(dbs, "id = ?", (owner,)) if owner else []
        duplicates = [
            replace(hit, shard=number) if number else hit
            for number, (db, shard) in enumerate(zip(dbs, collection.shards, strict=True))
            for hit in duplicates_of(db, shard.records_dir, record["id"])
        ]
    filename = record["warc"]["filename"]
    return ArticleView(
        record,
        article.versions,
        duplicates,
        owners[0] if owners else None,
        collection.warc_shard(article.asked.shard, filename).warc_dir / filename,
    )


_SHOWN_FIELDS = (
    "source",
    "url",
    "final_url",
    "canonical_url",
    "feed_url",
    "title",
    "authors",
    "published",
    "fetched_at",
    "language",
    "tags",
    "description",
    "content_hash",
)


def format_view(view: ArticleView, safe: Callable[[str], str]) -> Iterator[str]:
    """Lines for a terminal: the fields, the WARC location, versions, duplicates, the text."""
    record = view.record
    yield f"id: {record['id']}  version {record['version']} of {view.versions[-1].version}"
    for name in _SHOWN_FIELDS:
        yield f"{name}: {safe(field_text(record.get(name)))}"
    warc = record["warc"]
    yield (
        f"warc: {safe(str(view.warc_path))} offset {warc['offset']} length {warc['length']}"
        f" record {safe(str(warc['record_id']))} payload {safe(str(warc['payload_digest']))}"
    )
    yield "versions:"
    for hit in view.versions:
        mark = "  <- this record" if hit.id == record["id"] else ""
        yield f"  {hit.version}  {hit.id}  fetched {hit.fetched_at}{mark}"
    if view.duplicate_of is not None:
        owner = view.duplicate_of
        yield f"duplicate of: {owner.id}  {safe(owner.url or '')}"
    yield (
        f"duplicated by: {len(view.duplicates)} records" if view.duplicates else "duplicated by: -"
    )
    for hit in view.duplicates:
        yield f"  {hit.id}  {hit.source}  {safe(hit.url or '')}"
    yield ""
    text = record.get("text")
    yield safe(text) if text is not None else "(no text: a duplicate; see the record it duplicates)"
