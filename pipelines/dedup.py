"""Item pipeline that decides what an extracted page is: new, a new version, a syndicated
duplicate, or an unchanged recheck (dropped: its WARC capture is all that is kept).

The article's identity is its canonical URL: the page's `<link rel=canonical>` when it stays on
the same site (a site cannot claim another's articles), else the canonicalised final URL.
"""

from __future__ import annotations

import hashlib
import logging

from scrapy.exceptions import DropItem

from archive.urls import canonical_url, same_site
from crawler import summary
from crawler.items import ArticleVersion, ExtractedPage
from crawler.session import SessionComponent

logger = logging.getLogger(__name__)


def content_hash(text: str) -> str:
    """sha256 of the text with white space folded, so layout-only changes are not versions."""
    folded = " ".join(text.split())
    return "sha256:" + hashlib.sha256(folded.encode("utf-8")).hexdigest()


def article_identity(final_url: str, declared_canonical: str | None) -> str:
    if declared_canonical and same_site(declared_canonical, final_url):
        return canonical_url(declared_canonical)
    return canonical_url(final_url)


class DedupPipeline(SessionComponent):
    def process_item(self, item: ExtractedPage) -> ArticleVersion:
        page, article = item.page, item.article
        if not article.text:
            self.count(summary.ARTICLES_FAILED)
            logger.warning("%s: no article text found in %s", page.source, page.final_url)
            raise DropItem("no article text", log_level="DEBUG")
        catalog = self.session.catalog
        identity = article_identity(page.final_url, article.canonical_url)
        digest = content_hash(article.text)
        aliases = {canonical_url(page.url), canonical_url(page.final_url)}
        earlier = catalog.article(identity)
        if earlier is not None and earlier.content_hash == digest:
            catalog.mark_checked(identity, page.fetched_at, page.validators)
            catalog.remember_urls(identity, aliases)
            self.count(summary.ARTICLES_UNCHANGED)
            raise DropItem("unchanged", log_level="DEBUG")
        return ArticleVersion(
            page=page,
            article=article,
            canonical_url=identity,
            content_hash=digest,
            version=earlier.version + 1 if earlier else 1,
            previous=earlier.record_id if earlier else None,
            duplicate_of=None if earlier else catalog.text_owner(digest),
        )
