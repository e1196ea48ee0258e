"""`newsarchive reindex --cluster URL`: rebuild the collection's dedup index from its shards.

The index is a cache of what the shards hold, as their catalogs are of their files: dropped and
published again from every shard's catalog, from rowid 0, by the same code a worker publishes with
(`crawler.cluster.publish`), so the result equals what the workers published and a second rebuild
changes nothing. Claims (live work) are left alone. Run it while no worker crawls: a worker
asking the index while it is rebuilt could find an article missing and archive it again.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.catalog import connect_read_only
from archive.errors import ArchiveError, UsageError
from archive.layout import ArchiveLayout
from crawler.cluster.connection import connect
from crawler.cluster.index import ClusterIndex, key, watermark_key
from crawler.cluster.member import ClusterMember
from crawler.cluster.publish import Published, Publisher, catalog_identity

# What a worker's WARC file is named: its worker name, then the writer's timestamp and serial.
_WORKER_FILE = re.compile(r"^(.+)-\d{8}T\d{6}Z-\d+\.warc\.gz(?:\.open)?$")
_INDEX_KINDS = ("url", "alias", "text", "payload", "capture")


@dataclass(frozen=True)
class RebuiltIndex:
    shards: int
    published: Published

    def as_line(self, url: str) -> str:
        p = self.published
        return (
            f"rebuilt the collection index at {url} from {self.shards} shards: {p.records} "
            f"records, {p.urls} URLs, {p.payloads} payloads, {p.captures} captures"
        )


def shard_name(layout: ArchiveLayout) -> str:
    """The worker a shard belongs to: the name its latest WARC file carries (the name its
    records and payloads are published under), else its directory's name."""
    names = sorted(path.name for path in layout.warc_dir.glob("*.warc.gz*"))
    found = [m.group(1) for name in names if (m := _WORKER_FILE.match(name))]
    return found[-1] if found else layout.root.name


def rebuild_index(url: str, shards: Sequence[Path]) -> RebuiltIndex:
    """Drop the collection's index in the Redis at `url` and publish every shard's catalog into
    it. Raises UsageError for shards that are not archives or share a worker's name,
    ClusterUnavailableError when Redis does not answer."""
    layouts = [ArchiveLayout(shard.resolve()) for shard in shards]
    for layout in layouts:
        if not layout.catalog_path.is_file():
            raise UsageError(f"{layout.root}: no catalog.sqlite: not an archive (or `reindex` it)")
    names = [shard_name(layout) for layout in layouts]
    if len(set(names)) < len(names):
        raise UsageError(f"two shards carry the same worker name: {', '.join(sorted(names))}")
    client = connect(url)
    index = ClusterIndex(ClusterMember(url, client, names[0]))
    index.call(lambda: _drop_index(index))
    total = Published()
    for layout, name in zip(layouts, names, strict=True):
        shard = ClusterIndex(ClusterMember(url, client, name))
        try:
            db = connect_read_only(layout.catalog_path)
            try:
                publisher = Publisher(shard, db, catalog_identity(layout.catalog_path))
                total.add(publisher.publish_all())
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise ArchiveError(f"{layout.catalog_path}: cannot read catalog: {exc}") from exc
    return RebuiltIndex(len(layouts), total)


def _drop_index(index: ClusterIndex) -> None:
    patterns = [key(kind, "*") for kind in _INDEX_KINDS] + [watermark_key("*")]
    for pattern in patterns:
        batch: list[str] = []
        for found in index.client.scan_iter(match=pattern, count=1000):
            batch.append(found)
            if len(batch) == 1000:
                index.client.unlink(*batch)
                batch.clear()
        if batch:
            index.client.unlink(*batch)
