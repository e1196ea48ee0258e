"""Scrapy's robots.txt middleware, reading robots.txt the way RFC 9309 says.

Scrapy's own middleware allows everything when robots.txt cannot be read (a 5xx, a timeout, a
refused connection), parses whatever body a 4xx or 5xx carries, reads and parses a robots.txt of
any size, and logs each failed fetch at ERROR with a traceback. RFC 9309 (section 2.3.1) asks
instead: a 4xx means no rules (everything allowed); an unreachable robots.txt (a 5xx or a network
error) means complete disallow, here for the rest of the run, since a run is minutes; and a
crawler may stop reading at 500 KiB. Every outcome is one log line for the host, and each request
it refuses raises `RobotsRefused`, which the spider counts as refused, with the reason.
"""

from __future__ import annotations

import logging
from typing import Self
from weakref import WeakKeyDictionary

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

# RFC 9309, section 2.5: the parsing limit must be at least 500 KiB; past it, rules are ignored.
ROBOTS_MAX_BYTES = 500 * 1024
# Marks a robots.txt request and its copies (retries, redirect hops) for the byte count.
_LIMITED = "newsarchive_robots_txt"


class RobotsRefused(IgnoreRequest):
    """robots.txt forbids the request, or could not be read (RFC 9309: then it forbids all)."""


class Unreachable(RobotParser):
    """Stands for the parser of a robots.txt that could not be read: it allows nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> Self:
        raise NotImplementedError("built by RobotsTxtMiddleware only")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


def _within_limit(body: bytes) -> bytes:
    """The first ROBOTS_MAX_BYTES of `body`, cut after the last whole line they hold."""
    if len(body) <= ROBOTS_MAX_BYTES:
        return body
    head = body[:ROBOTS_MAX_BYTES]
    return head[: head.rfind(b"\n") + 1]


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._received: WeakKeyDictionary[Request, int] = WeakKeyDictionary()
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        if isinstance(rp, Unreachable):
            self._stats.inc_value("robotstxt/unreachable_refused")
            raise RobotsRefused(f"robots.txt unreachable, so all is refused ({rp.reason})")
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            raise RobotsRefused("forbidden by robots.txt") from None

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The host's parser, fetched once per run; requests that come meanwhile wait for it."""
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            waiting: Deferred[RobotParser | None] = Deferred()
            self._parsers[netloc] = waiting
            parser = None
            try:
                parser = await self._fetch(request)
            finally:  # a bug (or shutdown) in the fetch must not leave the waiting ones hanging
                self._parsers[netloc] = parser
                waiting.callback(parser)
        known = self._parsers[netloc]
        if isinstance(known, Deferred):
            return await maybe_deferred_to_future(known)
        return known

    async def _fetch(self, request: Request) -> RobotParser | None:
        url = urlparse_cached(request)
        robots = Request(
            f"{url.scheme}://{url.netloc}/robots.txt",
            priority=self.DOWNLOAD_PRIORITY,
            meta={"dont_obey_robotstxt": True, _LIMITED: True},
            callback=NO_CALLBACK,
        )
        self._stats.inc_value("robotstxt/request_count")
        assert self.crawler.engine is not None
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest as exc:
            # A refused address (its requests are refused too) or too many redirects, which
            # RFC 9309 lets a crawler read as "unavailable": no rules.
            logger.info("robots.txt %s not read: %s", robots.url, exc)
            return None
        except Exception as exc:  # the outside world's failures: DNS, refused, timeouts, ...
            return self._unreachable(robots, f"{type(exc).__name__}: {exc}")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500:
            return self._unreachable(robots, f"HTTP {response.status}")
        if response.status >= 300:  # 4xx: unavailable, so no rules (a 3xx here was not followed)
            logger.info("robots.txt %s: HTTP %d, no rules", robots.url, response.status)
            return None
        if "download_stopped" in response.flags or len(response.body) > ROBOTS_MAX_BYTES:
            logger.warning(
                "robots.txt %s is over %d bytes: the rules past them are ignored",
                robots.url,
                ROBOTS_MAX_BYTES,
            )
        parser = build_from_crawler(self._parserimpl, self.crawler, _within_limit(response.body))
        await self.crawler.signals.send_catch_log_async(
            signal=signals.robots_parsed, robotparser=parser, request=request
        )
        return parser

    def _unreachable(self, robots: Request, reason: str) -> Unreachable:
        logger.warning(
            "robots.txt %s unreachable (%s): every request to %s is refused in this run",
            robots.url,
            reason,
            urlparse_cached(robots).netloc,
        )
        return Unreachable(reason)

    def _bytes_received(self, data: bytes, request: Request) -> None:
        """Stop reading a robots.txt at ROBOTS_MAX_BYTES, keeping what came (no failure)."""
        if not request.meta.get(_LIMITED):
            return
        self._received[request] = received = self._received.get(request, 0) + len(data)
        if received >= ROBOTS_MAX_BYTES:
            raise StopDownload(fail=False)
