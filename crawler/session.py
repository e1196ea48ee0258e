"""The open archive of one crawl run, handed to the spider and read by every component.

The run opens it once (under the archive lock) and closes it once; components never open files of
their own, so each file on disk keeps a single owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from archive.catalog import Catalog, DedupState, Validators
from archive.errors import ArchiveError, ClusterUnavailableError, NewsarchiveError
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from archive.warcwriter import WarcWriter
from crawler import summary
from crawler.config import Config, Source
from crawler.workers import Workers

if TYPE_CHECKING:
    from crawler.cluster.index import ClusterIndex
    from crawler.cluster.publish import Publisher

# What stops a run cleanly where it is raised: the archive cannot be written, or the cluster's
# index cannot be asked (then "unknown" must not pass for "not archived").
RUN_STOPPERS = (ArchiveError, ClusterUnavailableError)


@dataclass
class ArchiveSession:
    """`catalog` is the shard's own, the only one written; `dedup` answers the lookups (the
    catalog itself, or as a cluster member the catalog then the collection's index, whose
    claims and publishing `cluster` and `publisher` hold)."""

    config: Config
    sources: tuple[Source, ...]
    layout: ArchiveLayout
    catalog: Catalog
    warc: WarcWriter
    records: RecordStore
    workers: Workers
    dedup: DedupState
    cluster: ClusterIndex | None = None
    publisher: Publisher | None = None
    fatal: NewsarchiveError | None = field(default=None)

    @property
    def archive_failed(self) -> bool:
        """The archive itself failed: nothing more may be committed. (Losing the cluster stops
        the run too, but its current batch is still committed.)"""
        return isinstance(self.fatal, ArchiveError)

    def defer_to_claimer(self, listing: str | None) -> None:
        """An article another worker has claimed is that worker's to archive; should it die,
        its claim expires, and this shard's `listing`, polled in full next time (its validators
        forgotten), lists the article again."""
        if listing is not None:
            self.catalog.set_feed_validators(listing, Validators(None, None), datetime.now(UTC))

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def fail(self, error: NewsarchiveError) -> None:
        """Record the first archive failure; the run stops and reports it once."""
        if self.fatal is None:
            self.fatal = error


def stop_run(crawler: Crawler, error: NewsarchiveError) -> None:
    """The archive cannot be written or read (disk full, permissions): stop; the run exits 1.
    The cluster's Redis is lost: stop; the run exits 69."""
    session_of(crawler).fail(error)
    assert crawler.engine is not None
    deferred_from_coro(crawler.engine.close_spider_async(reason="archive_error"))


def session_of(crawler: Crawler) -> ArchiveSession:
    """The session the run handed to the spider; the spider exists before any component."""
    session: ArchiveSession = crawler.spider.session  # type: ignore[union-attr]
    return session


class SessionComponent:
    """Base of newsarchive's Scrapy components (middlewares, pipelines): built from the crawler,
    reading the run's session, counting in its stats, stopping the run on an archive failure."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def session(self) -> ArchiveSession:
        return session_of(self.crawler)

    def count(self, key: str, source: str) -> None:
        assert self.crawler.stats is not None
        summary.count(self.crawler.stats, key, source)

    def stop_run(self, error: NewsarchiveError) -> None:
        stop_run(self.crawler, error)
