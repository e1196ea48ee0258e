"""Item pipeline that decides what an extracted page is: new, a new version, a syndicated
duplicate, or an unchanged recheck (dropped: its WARC capture is all that is kept).

The keys it compares (`pipelines.identity`) come computed from the extraction worker.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import DropItem

from crawler import summary
from crawler.items import ArticleVersion, ExtractedPage
from crawler.session import SessionComponent

logger = logging.getLogger(__name__)


class DedupPipeline(SessionComponent):
    def process_item(self, item: ExtractedPage) -> ArticleVersion:
        page, article, identity = item.page, item.article, item.identity
        digest = identity.content_hash
        if digest is None:
            self.count(summary.ARTICLES_FAILED, page.source)
            logger.warning("%s: no article text found in %s", page.source, page.final_url)
            raise DropItem("no article text", log_level="DEBUG")
        catalog = self.session.catalog
        earlier = catalog.article(identity.canonical_url)
        if earlier is not None and earlier.content_hash == digest:
            catalog.mark_checked(identity.canonical_url, page.fetched_at, page.validators)
            catalog.remember_urls(identity.canonical_url, identity.aliases)
            self.count(summary.ARTICLES_UNCHANGED, page.source)
            raise DropItem("unchanged", log_level="DEBUG")
        return ArticleVersion(
            page=page,
            article=article,
            canonical_url=identity.canonical_url,
            aliases=identity.aliases,
            content_hash=digest,
            version=earlier.version + 1 if earlier else 1,
            previous=earlier.record_id if earlier else None,
            duplicate_of=None if earlier else catalog.text_owner(digest),
        )
