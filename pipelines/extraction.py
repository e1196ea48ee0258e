"""Item pipeline that extracts each page's article in the crawl's worker processes.

Extraction is the CPU-heavy step: it runs in `crawler.workers.Workers` (one process per core) while
the reactor keeps fetching and writing.
"""

from __future__ import annotations

import logging
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import summary
from crawler.items import ExtractedPage, FetchedPage
from crawler.session import session_of
from pipelines.article import extract_article

logger = logging.getLogger(__name__)


class ExtractionPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_item(self, item: FetchedPage) -> ExtractedPage:
        workers = session_of(self.crawler).workers
        try:
            article = await workers.run(
                extract_article, item.body, item.final_url, item.content_type
            )
        except Exception as exc:  # a worker killed by the OS (OOM) breaks the pool: count, go on
            assert self.crawler.stats is not None
            summary.count(self.crawler.stats, summary.ARTICLES_FAILED)
            logger.error("%s: extraction failed for %s: %r", item.source, item.final_url, exc)
            raise DropItem(f"extraction failed: {exc!r}", log_level="DEBUG") from exc
        return ExtractedPage(item, article)
