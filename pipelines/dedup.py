"""Item pipeline that decides what an extracted page is: new, a new version, a syndicated
duplicate, or an unchanged recheck (dropped: its WARC capture is all that is kept).

The keys it compares (`pipelines.identity`) come computed from the extraction worker. Of two
pages with the same text, the original keeps the text whatever the order they were fetched in:
the one the other names as its source (cross-site rel=canonical or og:url), else the earlier
published, else the earlier fetched (`is_original`). An original fetched after its copy demotes
the copy: the copy's record gets a new version naming the original, as if fetched the other way.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import DropItem

from archive.catalog import ArchivedArticle, TextOwner
from archive.errors import ClusterUnavailableError
from archive.fulltext import utc_timestamp
from crawler import summary
from crawler.items import ArticleVersion, ExtractedPage
from crawler.session import SessionComponent
from pipelines.identity import Identity

logger = logging.getLogger(__name__)


class DedupPipeline(SessionComponent):
    def process_item(self, item: ExtractedPage) -> ArticleVersion:
        page, article, identity = item.page, item.article, item.identity
        digest = identity.content_hash
        if digest is None:
            self.count(summary.ARTICLES_FAILED, page.source)
            logger.warning("%s: no article text found in %s", page.source, page.final_url)
            raise DropItem("no article text", log_level="DEBUG")
        earlier, owner = self._archived(identity.canonical_url, digest)
        catalog = self.session.catalog
        if earlier is not None and earlier.content_hash == digest:
            catalog.mark_checked(identity.canonical_url, page.fetched_at, page.validators)
            catalog.remember_urls(identity.canonical_url, identity.aliases)
            # Not a recheck: another URL of an article archived already (in this run, even).
            self.count(
                summary.ARTICLES_UNCHANGED if page.recheck else summary.ARTICLES_ALREADY_ARCHIVED,
                page.source,
            )
            raise DropItem("unchanged", log_level="DEBUG")
        published = utc_timestamp(article.published or page.listed_published)
        original = owner is not None and is_original(identity, published, owner)
        return ArticleVersion(
            page=page,
            article=article,
            canonical_url=identity.canonical_url,
            aliases=identity.aliases,
            content_hash=digest,
            version=earlier.version + 1 if earlier else 1,
            previous=earlier.record_id if earlier else None,
            duplicate_of=owner.record_id if owner and not original else None,
            names_source=identity.names_source,
            demotes=owner.record_id if owner and original and owner.latest else None,
        )

    def _archived(
        self, canonical: str, digest: str
    ) -> tuple[ArchivedArticle | None, TextOwner | None]:
        """The article's latest archived version; if none, the record holding its text. When
        they cannot be asked (the cluster's Redis is lost), the run stops and the page is
        dropped: it is not taken for new."""
        dedup = self.session.dedup
        try:
            earlier = dedup.article(canonical)
            return earlier, None if earlier else dedup.text_owner(digest)
        except ClusterUnavailableError as exc:
            self.stop_run(exc)
            raise DropItem(str(exc)) from exc


def is_original(page: Identity, published: str | None, owner: TextOwner) -> bool:
    """Whether a page holds the original of `owner`'s text (same text, archived first): the
    copy names its original; else the earlier publication; else the owner, fetched first."""
    if page.names_source is not None and page.names_source == owner.canonical_url:
        return False
    if owner.names is not None and owner.names in {page.canonical_url, *page.aliases}:
        return True
    return bool(published and owner.published and published < owner.published)
