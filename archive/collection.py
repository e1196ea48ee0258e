"""The archives a reader reads as one: the shards of a cluster's collection, or one archive.

A cluster's workers each write a shard, a normal archive of its own; `[collection] shards` (or
`--archive-dir` repeated) lists them, and `query`, `sql`, `export`, `stats`, `verify`, `wacz` and
`serve` read them through one `Collection`, a single archive being a collection of one (read
exactly as before: same statements, same order, same speed).

What readers rely on:
- record ids are unique across shards (the same function of canonical URL, version and content
  hash on every worker), so a record is named by its id alone;
- a record names the WARC file holding its capture by file name; names differ between shards
  (each worker prefixes its own), and a name is looked up in the record's own shard first, then
  in the others (a cross-shard revisit's record may point at another shard's response);
- results of several shards are merged in the order one archive gives: best match first when
  searching (each shard's bm25, whose corpus statistics are the shard's own, so ranks of
  different shards compare approximately), then published (or fetched) newest first, then id.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Generator, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from archive.errors import UsageError
from archive.layout import ArchiveLayout
from archive.query import Filters, Hit, check_sources, find, open_catalog, read_lines
from archive.records import RecordStore
from archive.warcwriter import OPEN_SUFFIX


@dataclass(frozen=True)
class Collection:
    """Shards in a fixed order (their numbers are `Hit.shard`); nothing is opened here."""

    shards: tuple[ArchiveLayout, ...]

    def __post_init__(self) -> None:
        if not self.shards:
            raise UsageError("a collection needs at least one archive")
        roots = [shard.root.resolve() for shard in self.shards]
        for number, root in enumerate(roots):
            for other in roots[:number]:
                if root == other or root in other.parents or other in root.parents:
                    raise UsageError(f"{root} and {other}: an archive listed twice, or nested")

    @classmethod
    def of(cls, *roots: Path) -> Collection:
        return cls(tuple(ArchiveLayout(root) for root in roots))

    @property
    def single(self) -> bool:
        """Whether this is one archive (read exactly as before collections)."""
        return len(self.shards) == 1

    def __str__(self) -> str:
        if self.single:
            return str(self.shards[0].root)
        return f"the collection of {len(self.shards)} shards " + ", ".join(
            str(shard.root) for shard in self.shards
        )

    def refuse_inside(self, output: Path) -> None:
        """A UsageError if `output` (symlinks resolved) lies inside any shard: readers never
        write into an archive, whatever name they are given."""
        target = output.resolve()
        for shard in self.shards:
            root = shard.root.resolve()
            if target == root or root in target.parents:
                raise UsageError(f"{output}: inside the archive {root}; write the output elsewhere")

    @contextmanager
    def catalogs(self) -> Iterator[list[sqlite3.Connection]]:
        """Every shard's catalog, read-only (see `archive.query.open_catalog`), in shard order."""
        with ExitStack() as stack:
            connections = []
            for shard in self.shards:
                db = open_catalog(shard)
                stack.callback(db.close)
                connections.append(db)
            yield connections

    def find(self, filters: Filters) -> Generator[Hit]:
        """The records `filters` select over every shard, in one order (see the module
        docstring), `filters.limit` applied to the merged result. A version that another
        shard has a newer version of is not the latest. The catalogs stay open until the
        iterator is exhausted or closed."""
        with self.catalogs() as dbs:
            if self.single:
                yield from find(dbs[0], filters)
                return
            check_sources(dbs, filters.sources, where="this collection")
            merged = heapq.merge(
                *(self._shard_hits(dbs, number, filters) for number in range(len(dbs))),
                key=lambda hit: hit.order,
            )
            yield from islice(merged, filters.limit)

    def _shard_hits(
        self, dbs: list[sqlite3.Connection], number: int, filters: Filters
    ) -> Iterator[Hit]:
        """What shard `number` contributes: its hits in its order, a version that another
        shard holds a newer version of marked not latest (`all_versions`) or left out. With a
        limit, as many as the limit once those are left out (asked again for more in the rare
        case some were), so each shard answers as fast as a single archive."""
        if filters.all_versions or filters.limit is None:
            yield from self._latest(dbs, find(dbs[number], filters, shard=number), filters)
            return
        asked = filters.limit
        while True:
            hits = list(find(dbs[number], replace(filters, limit=asked), shard=number))
            kept = list(self._latest(dbs, iter(hits), filters))
            if len(kept) >= filters.limit or len(hits) < asked:
                yield from kept[: filters.limit]
                return
            asked *= 2

    def _latest(
        self, dbs: list[sqlite3.Connection], hits: Iterator[Hit], filters: Filters
    ) -> Iterator[Hit]:
        """`hits` of one shard, those a newer version in another shard supersedes marked not
        latest (with `all_versions`) or left out (without)."""
        for hit in hits:
            if hit.latest and _newer_elsewhere(dbs, hit):
                if filters.all_versions:
                    yield replace(hit, latest=False)
                continue
            yield hit

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every complete record of every shard, shard after shard, each in file order."""
        for shard in self.shards:
            yield from RecordStore(shard.records_dir).iter_records()

    def lines(self, hits: Iterable[Hit]) -> Iterator[bytes]:
        """The full JSON line of each hit, from its own shard, in the hits' order."""
        for shard, group in groupby(hits, key=lambda hit: hit.shard):
            yield from read_lines(self.shards[shard].records_dir, group)

    def warc_shard(self, shard: int, filename: str) -> ArchiveLayout:
        """The shard whose `warc/` holds the file `filename` (closed, or unclosed while a crawl
        appends to it), looked up in `shard` first; `shard` itself if none does."""
        order = [shard, *(n for n in range(len(self.shards)) if n != shard)]
        for number in order:
            folder = self.shards[number].warc_dir
            if (folder / filename).exists() or (folder / (filename + OPEN_SUFFIX)).exists():
                return self.shards[number]
        return self.shards[shard]


def _newer_elsewhere(dbs: list[sqlite3.Connection], hit: Hit) -> bool:
    """Whether a shard other than the hit's holds a newer version of its article."""
    return any(
        db.execute(
            "SELECT 1 FROM search_docs WHERE canonical_url = ? AND version > ? LIMIT 1",
            (hit.canonical_url, hit.version),
        ).fetchone()
        for number, db in enumerate(dbs)
        if number != hit.shard
    )


def as_collection(archive: ArchiveLayout | Collection) -> Collection:
    """`archive` as a collection: one archive is a collection of one."""
    return archive if isinstance(archive, Collection) else Collection((archive,))
