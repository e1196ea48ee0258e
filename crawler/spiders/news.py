"""The one spider: polls every source's feeds and news sitemaps and fetches their new articles.

It decides what to request (conditional GET for listings, new articles, rechecks within the
recheck window) and turns responses into `FetchedPage` items; what to keep is the pipelines' call.
Every outside failure (bad feed, 404, timeout, refusal) ends in a counter and a log line here.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy import Request, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.spidermiddlewares.referer import RefererMiddleware
from twisted.python.failure import Failure

from archive.catalog import ArchivedArticle, DedupState, Retry, RetryPolicy, Validators
from archive.errors import ClusterUnavailableError
from archive.urls import canonical_url, domain_allowed, host_of
from crawler import summary
from crawler.addresses import literal_ip, refusal_reason
from crawler.config import Source
from crawler.downloadermiddlewares.addressguard import AddressRefused
from crawler.downloadermiddlewares.robotstxt import RobotsRefused
from crawler.downloadermiddlewares.sourcescope import OffSource
from crawler.feeds import Entry, parse_feed
from crawler.items import FetchedPage
from crawler.session import RUN_STOPPERS, ArchiveSession, stop_run
from crawler.sitemaps import parse_sitemap

logger = logging.getLogger(__name__)

# How long `start` waits for a download or item to finish before it looks for room again.
WAKE_SECONDS = 0.1


def _nothing_in_flight(engine: ExecutionEngine) -> bool:
    """True when no request is queued or downloading and no response is being processed: then no
    open listing can still reach its callback or errback."""
    scheduler = engine.scheduler
    return (
        not engine.downloader.active
        and (scheduler is None or not scheduler.has_pending_requests())
        and (engine.scraper.slot is None or engine.scraper.slot.is_idle())
    )


def conditional_headers(validators: Validators | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from what the last fetch returned."""
    headers: dict[str, str] = {}
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def header_text(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def validators_of(response: Response) -> Validators:
    return Validators(
        etag=header_text(response, "ETag"), last_modified=header_text(response, "Last-Modified")
    )


def is_html(content_type: str | None) -> bool:
    return content_type is None or "html" in content_type.lower()


class NewsSpider(scrapy.Spider):
    name = "news"
    # Scrapy's referrer policies, as its RefererMiddleware applies them to a response's links:
    # articles are requested from `start`, where that middleware has no response to go by.
    _referrers: RefererMiddleware

    def __init__(self, session: ArchiveSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.started = datetime.now(UTC)
        self._requested: set[str] = set()
        # (source, URL) of every listing requested this run: a sitemap index that lists itself,
        # or indexes listing each other, must not be fetched round and round.
        self._listed: set[tuple[str, str]] = set()
        # Listed articles wait here as entries until the engine has room for them (`start`): a
        # queued Request costs Scrapy about 4 KB, and one sitemap may list tens of thousands.
        self._entries: deque[tuple[Source, Entry, str, str | None]] = deque()
        self._listings_open = 0  # listing requests whose entries are not all in `_entries` yet
        self._wake = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        spider._referrers = RefererMiddleware(crawler.settings)
        for freed in (
            signals.request_left_downloader,
            signals.item_scraped,
            signals.item_dropped,
            signals.item_error,
        ):
            crawler.signals.connect(spider._wake.set, signal=freed)
        return spider

    def _count(self, key: str, source: str) -> None:
        assert self.crawler.stats is not None
        summary.count(self.crawler.stats, key, source)

    async def start(self) -> AsyncIterator[Request]:
        """Every listing first; then listed articles, one whenever the engine has room for it.

        Scrapy reads this lazily, so articles leave `_entries` only as downloads and items finish
        (the signals that set `_wake`). It ends when no listing is open and nothing is waiting.
        """
        for source in self.session.sources:
            listings = [(url, "feed") for url in source.feeds]
            for url, kind in listings + [(url, "sitemap") for url in source.sitemaps]:
                request = self._listing_request(source, url, kind)
                if request is not None:
                    yield request
        self._entries.extend(self._due_retries())
        engine = self.crawler.engine
        assert engine is not None
        while self._entries or self._listings_open:
            if self._entries and not engine.needs_backout():
                waiting = self._entries.popleft()
                try:
                    request = self._article_request(*waiting)
                except RUN_STOPPERS as exc:
                    stop_run(self.crawler, exc)
                    return
                except Exception:  # a bug in one entry must not end every later one
                    self._count(summary.ARTICLES_FAILED, waiting[0].name)
                    logger.exception("cannot request a listed article")
                    continue
                if request is not None:
                    yield request
                continue
            if not self._entries and _nothing_in_flight(engine):
                logger.warning("%d listings ended without reaching the spider", self._listings_open)
                return
            self._wake.clear()
            # The timeout is a safety net: a slot can free up without any signal.
            with suppress(TimeoutError):
                async with asyncio.timeout(WAKE_SECONDS):
                    await self._wake.wait()

    # listings: feeds and sitemaps
    def _listing_request(self, source: Source, url: str, kind: str) -> Request | None:
        """The request for a listing, or None when this source already requested it this run."""
        if (source.name, url) in self._listed:
            return None
        self._listed.add((source.name, url))
        request = Request(
            url,
            callback=self.parse_listing,
            errback=self.listing_failed,
            headers=conditional_headers(self.session.dedup.feed_validators(url)),
            dont_filter=True,
            priority=10,
            meta={
                "source": source.name,
                "kind": kind,
                "listing": url,
                "handle_httpstatus_list": [304],
            },
        )
        self._listings_open += 1  # until its callback or errback closes it
        return request

    async def parse_listing(self, response: Response) -> AsyncIterator[Request]:
        """Child sitemaps as requests; entries to `_entries`, for `start` to request."""
        try:
            async for request in self._read_listing(response):
                yield request
        finally:
            self._listing_closed()

    async def _read_listing(self, response: Response) -> AsyncIterator[Request]:
        meta = response.meta
        source = self.session.source(meta["source"])
        polled, not_modified, failed = summary.LISTING_COUNTERS[meta["kind"]]
        self._count(polled, source.name)
        if response.status == 304:
            self._count(not_modified, source.name)
            return
        children: tuple[str, ...] = ()
        workers = self.session.workers
        if meta["kind"] == "feed":
            content_type = header_text(response, "Content-Type")
            feed = await workers.run(parse_feed, response.body, response.url, content_type)
            entries, error = feed.entries, feed.error
            self._rejected(source, meta["listing"], feed.rejected, "article")
        else:
            sitemap = await workers.run(
                parse_sitemap,
                response.body,
                response.url,
                max_bytes=self.session.config.crawl.max_page_bytes,
            )
            entries, error, children = sitemap.entries, sitemap.error, sitemap.sitemaps
            kind = "sitemap" if sitemap.index else "article"
            self._rejected(source, meta["listing"], sitemap.rejected, kind)
        if error:
            self._count(failed, source.name)
            logger.warning(
                "%s: %s %s failed: %s (%d entries recovered)",
                source.name,
                meta["kind"],
                meta["listing"],
                error,
                len(entries),
            )
        else:
            self.session.catalog.set_feed_validators(
                meta["listing"], validators_of(response), datetime.now(UTC)
            )
        for child in children:
            request = self._listing_request(source, child, "sitemap")
            if request is not None:
                yield request
        assert response.request is not None
        policy = self._referrers.policy(response, response.request)  # its Referrer-Policy too
        self._entries.extend(
            (source, entry, meta["listing"], policy.referrer(response.url, entry.url))
            for entry in entries
        )

    def _rejected(self, source: Source, listing: str, urls: tuple[str, ...], kind: str) -> None:
        """Count and log each URL a listing gives that the WHATWG parser rejects: a child sitemap
        as a listing that failed, an article as an article that failed."""
        for url in urls:
            if kind == "sitemap":
                self._count(summary.SITEMAPS_POLLED, source.name)
                self._count(summary.SITEMAPS_FAILED, source.name)
            else:
                self._count(summary.ARTICLES_FAILED, source.name)
            logger.warning("%s: %s lists an unparsable %s URL %r", source.name, listing, kind, url)

    def _listing_closed(self) -> None:
        self._listings_open -= 1
        self._wake.set()

    def listing_failed(self, failure: Failure) -> None:
        self._listing_closed()
        request = failure.request  # type: ignore[attr-defined]
        polled, _, failed = summary.LISTING_COUNTERS[request.meta["kind"]]
        self._count(polled, request.meta["source"])
        self._count(failed, request.meta["source"])
        logger.warning(
            "%s: %s %s failed: %s",
            request.meta["source"],
            request.meta["kind"],
            request.url,
            self._reason(failure),
        )

    # articles
    def _article_request(
        self, source: Source, entry: Entry, listing: str, referrer: str | None
    ) -> Request | None:
        """A request for an entry, or None when it is off-site, refused, or already archived.
        `referrer` is its Referer, as the listing's response and Scrapy's policy give it."""
        if not domain_allowed(entry.url, source.allowed_domains):
            ip = literal_ip(host_of(entry.url))
            reason = ip and refusal_reason(
                ip, allow_private=self.session.config.crawl.allow_private_addresses
            )
            if reason:
                self._count(summary.ARTICLES_REFUSED, source.name)
                logger.warning("%s: refused %s: %s", source.name, entry.url, reason)
            else:
                self._count(summary.ARTICLES_OFF_SITE, source.name)
                logger.info("%s: skipped off-site %s", source.name, entry.url)
            return None
        url = canonical_url(entry.url)
        if url in self._requested:
            return None
        self._requested.add(url)
        retry = self.session.catalog.retry(url)
        if retry is not None and (retry.next_attempt is None or retry.next_attempt > self.started):
            self._count(summary.ARTICLES_DEFERRED, source.name)
            return None
        cluster = self.session.cluster
        if cluster is not None:
            here = self._archived(self.session.catalog, url)
            if here is not None and self._past_recheck(here):  # no need to ask the collection
                self._count(summary.ARTICLES_ALREADY_ARCHIVED, source.name)
                return None
            if not cluster.claim(url):
                # Another worker is archiving it now.
                self._count(summary.ARTICLES_DEFERRED, source.name)
                self.session.defer_to_claimer(listing)
                return None
        # As a cluster member, asked only once claimed: a claim is freed once published.
        archived = self._archived(self.session.dedup, url)
        meta: dict[str, Any] = {
            "source": source.name,
            "kind": "article",
            "listing": listing,
            "entry": entry,
            "requested": url,
            "retrying": retry is not None,
        }
        headers: dict[str, str] = {}
        if referrer:
            headers["Referer"] = referrer
        if archived is not None:
            if self._past_recheck(archived):
                self._count(summary.ARTICLES_ALREADY_ARCHIVED, source.name)
                if cluster is not None:
                    cluster.finish(url)
                return None
            meta["recheck"] = archived
            meta["handle_httpstatus_list"] = [304]
            headers |= conditional_headers(archived.validators)
        return Request(
            url,
            callback=self.parse_article,
            errback=self.article_failed,
            headers=headers,
            meta=meta,
        )

    @staticmethod
    def _archived(dedup: DedupState, url: str) -> ArchivedArticle | None:
        """The latest archived version of the article listed at the canonical URL `url`."""
        known = dedup.canonical_for(url)
        return dedup.article(known) if known else None

    def _past_recheck(self, archived: ArchivedArticle) -> bool:
        """First fetched before the recheck window: not fetched again."""
        return self.started - archived.first_fetched > self.session.config.crawl.recheck_window

    def parse_article(self, response: Response) -> Iterator[FetchedPage]:
        meta = response.meta
        archived = meta.get("recheck")
        unchanged = archived is not None and (
            response.status == 304 or meta["warc"].payload_digest == archived.payload_digest
        )
        content_type = header_text(response, "Content-Type")
        if not unchanged and not is_html(content_type):
            self._count(summary.ARTICLES_FAILED, meta["source"])
            logger.warning(
                "%s: not an HTML page (%s): %s%s",
                meta["source"],
                content_type,
                response.url,
                self._retry_later(meta, f"not an HTML page ({content_type})"),
            )
            return
        if meta["retrying"]:
            self.session.catalog.succeeded(meta["requested"])
        if archived is not None and unchanged:
            self.session.catalog.mark_checked(
                archived.canonical_url, meta["fetched_at"], validators_of(response)
            )
            self._count(summary.ARTICLES_UNCHANGED, meta["source"])
            return
        entry: Entry = meta["entry"]
        yield FetchedPage(
            source=meta["source"],
            feed_url=meta["listing"],
            url=entry.url,
            final_url=response.url,
            body=response.body,
            content_type=content_type,
            fetched_at=meta["fetched_at"],
            warc=meta["warc"],
            validators=validators_of(response),
            listed_title=entry.title,
            listed_published=entry.published,
            recheck=archived is not None,
        )

    def article_failed(self, failure: Failure) -> None:
        if isinstance(self.session.fatal, ClusterUnavailableError):
            return  # the run stops for want of Redis: not the article's failure
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(OffSource):
            key = summary.ARTICLES_OFF_SITE
        elif failure.check(AddressRefused, RobotsRefused):
            key = summary.ARTICLES_REFUSED
        else:
            key = summary.ARTICLES_FAILED
        self._count(key, request.meta["source"])
        reason = self._reason(failure)
        retry = "" if key == summary.ARTICLES_OFF_SITE else self._retry_later(request.meta, reason)
        logger.warning(
            "%s: article %s %s: %s%s",
            request.meta["source"],
            request.url,
            key.removeprefix("articles_"),
            reason,
            retry,
        )

    def _due_retries(self) -> Iterator[tuple[Source, Entry, str, str | None]]:
        """The articles of this run's sources whose next try is due, as listed entries: they are
        tried whether or not their listing changed (a 304 keeps its validators)."""
        names = [source.name for source in self.session.sources]
        for retry in self.session.catalog.due_retries(names, self.started):
            entry = Entry(retry.entry_url, retry.title, retry.published)
            yield self.session.source(retry.source), entry, retry.listing, None

    def _retry_later(self, meta: dict[str, Any], reason: str) -> str:
        """Put a failed article on the retry list (a recheck is archived already: its next
        listing rechecks it); the log line's tail that says when it is tried again."""
        if "recheck" in meta:
            return ""
        entry: Entry = meta["entry"]
        failure = Retry(
            url=meta["requested"],
            source=meta["source"],
            listing=meta["listing"],
            entry_url=entry.url,
            title=entry.title,
            published=entry.published,
            attempts=0,
            last_error=reason,
            next_attempt=None,
        )
        crawl = self.session.config.crawl
        policy = RetryPolicy(crawl.retry_attempts, crawl.retry_after)
        retry = self.session.catalog.failed(failure, datetime.now(UTC), policy)
        if retry.next_attempt is None:
            return f" (try {retry.attempts} of {policy.attempts}: given up)"
        when = retry.next_attempt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return f" (try {retry.attempts} of {policy.attempts}, next after {when})"

    @staticmethod
    def _reason(failure: Failure) -> str:
        if failure.check(HttpError):
            return f"HTTP {failure.value.response.status}"  # type: ignore[union-attr]
        return f"{failure.type.__name__}: {failure.getErrorMessage()}"  # type: ignore[union-attr]
