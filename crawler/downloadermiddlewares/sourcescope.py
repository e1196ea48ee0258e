"""Downloader middleware that keeps article fetches inside their source's allowed domains.

Scrapy's own OffsiteMiddleware knows one domain list per spider; newsarchive crawls many sources
in one spider, each with its own list, so the check reads the source from the request. Redirects
inherit the meta, so a redirect that leaves the source's domains is stopped too.
"""

from __future__ import annotations

import logging
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from archive.urls import domain_allowed
from crawler.session import session_of

logger = logging.getLogger(__name__)


class OffSource(IgnoreRequest):
    """The request leaves the allowed domains of its source."""


class SourceScopeMiddleware:
    def __init__(self, allowed: dict[str, tuple[str, ...]]) -> None:
        self.allowed = allowed

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls({s.name: s.allowed_domains for s in session_of(crawler).sources})

    def process_request(self, request: Request) -> None:
        source = request.meta.get("source")
        if request.meta.get("kind") != "article" or source is None:
            return
        if not domain_allowed(request.url, self.allowed[source]):
            logger.info("off-site for %s: %s", source, request.url)
            raise OffSource(f"outside the allowed domains of source {source!r}")
