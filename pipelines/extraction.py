"""Item pipeline that runs `extract_article` in a process pool, off the reactor thread.

Extraction is the CPU-heavy step; in a pool of one worker per core the crawl keeps fetching and
writing on the reactor while every core extracts. Workers start from a forkserver that has
trafilatura imported already, so neither the reactor's threads nor its sockets are forked.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import summary
from crawler.items import ExtractedPage, FetchedPage
from pipelines.article import extract_article

logger = logging.getLogger(__name__)


class ExtractionPipeline:
    def __init__(self, crawler: Crawler, workers: int) -> None:
        self.crawler = crawler
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        workers = crawler.settings.getint("NEWSARCHIVE_EXTRACT_WORKERS") or os.cpu_count() or 1
        return cls(crawler, workers)

    def open_spider(self) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["pipelines.article"])
        self._pool = ProcessPoolExecutor(self.workers, mp_context=context)

    def close_spider(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item: FetchedPage) -> ExtractedPage:
        assert self._pool is not None
        future = self._pool.submit(extract_article, item.body, item.final_url, item.content_type)
        try:
            article = await asyncio.wrap_future(future)
        except Exception as exc:  # a worker killed by the OS (OOM) breaks the pool: count, go on
            assert self.crawler.stats is not None
            summary.count(self.crawler.stats, summary.ARTICLES_FAILED)
            logger.error("%s: extraction failed for %s: %r", item.source, item.final_url, exc)
            raise DropItem(f"extraction failed: {exc!r}", log_level="DEBUG") from exc
        return ExtractedPage(item, article)
