"""Item pipeline that extracts each page's article in the crawl's worker processes.

Extraction is the CPU-heavy step: it runs in `crawler.workers.Workers` (one process per core) while
the reactor keeps fetching and writing.
"""

from __future__ import annotations

import logging
from concurrent.futures.process import BrokenProcessPool

from scrapy.exceptions import DropItem

from crawler import summary
from crawler.items import ExtractedPage, FetchedPage
from crawler.session import SessionComponent
from pipelines.identity import extract_identified

logger = logging.getLogger(__name__)


class ExtractionPipeline(SessionComponent):
    async def process_item(self, item: FetchedPage) -> ExtractedPage:
        workers = self.session.workers
        try:
            article, identity = await workers.run(
                extract_identified, item.body, item.url, item.final_url, item.content_type
            )
        except BrokenProcessPool as exc:  # a worker killed by the OS (OOM): count, go on
            self.count(summary.ARTICLES_FAILED, item.source)
            logger.error("%s: extraction failed for %s: %r", item.source, item.final_url, exc)
            raise DropItem(f"extraction failed: {exc!r}", log_level="DEBUG") from exc
        return ExtractedPage(item, article, identity)
