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
from crawler.items import ArticleVersion, ExtractedPage, FetchedPage
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
        earlier, owner = self._archived(page, identity.canonical_url, digest)
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
        self, page: FetchedPage, canonical: str, digest: str
    ) -> tuple[ArchivedArticle | None, TextOwner | None]:
        """The article's latest archived version; if none, the record holding its text.

        As a cluster member, the page's canonical URL is claimed first if the spider claimed
        another (the page was listed under another URL): two workers fetching one article under
        two URLs at once give one record; the one that finds the claim taken drops the page
        (deferred). When Redis cannot be asked, the run stops and the page is dropped: it is not
        taken for new."""
        dedup, cluster = self.session.dedup, self.session.cluster
        try:
            if (
                cluster is not None
                and canonical not in cluster.held
                and not cluster.claim(canonical)
            ):
                self.count(summary.ARTICLES_DEFERRED, page.source)
                self.session.defer_to_claimer(page.feed_url)
                raise DropItem("claimed by another worker", log_level="DEBUG")
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
