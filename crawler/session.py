"""The open archive of one crawl run, handed to the spider and read by every component.

The run opens it once (under the archive lock) and closes it once; components never open files of
their own, so each file on disk keeps a single owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.crawler import Crawler

from archive.catalog import Catalog
from archive.errors import NewsarchiveError
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from archive.warcwriter import WarcWriter
from crawler.config import Config, Source
from crawler.workers import Workers


@dataclass
class ArchiveSession:
    config: Config
    sources: tuple[Source, ...]
    layout: ArchiveLayout
    catalog: Catalog
    warc: WarcWriter
    records: RecordStore
    workers: Workers
    fatal: NewsarchiveError | None = field(default=None)

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def fail(self, error: NewsarchiveError) -> None:
        """Record the first archive failure; the run stops and reports it once."""
        if self.fatal is None:
            self.fatal = error


def session_of(crawler: Crawler) -> ArchiveSession:
    """The session the run handed to the spider; the spider exists before any component."""
    session: ArchiveSession = crawler.spider.session  # type: ignore[union-attr]
    return session
