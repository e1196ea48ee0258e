"""Downloader middlewares that refuse addresses a crawl must not reach.

`AddressGuardMiddleware` sits before robots.txt handling (order 45), so a refused host is never
contacted at all, and it checks every request: feeds, articles and each redirect hop alike. The
host is resolved there (asynchronously, once per host and run) and every address it resolves to
must pass. `ConnectedAddressMiddleware` checks the address the response actually came from, against
DNS answers that change in between; it sits nearer the network than the WARC capture, so a body
from a refused address is never archived.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.addresses import literal_ip, refusal_reason

logger = logging.getLogger(__name__)


class AddressRefused(IgnoreRequest):
    """The request's host resolves to an address the config does not allow."""


class _AddressPolicy:
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getbool("NEWSARCHIVE_ALLOW_PRIVATE_ADDRESSES"))


class AddressGuardMiddleware(_AddressPolicy):
    def __init__(self, allow_private: bool) -> None:
        super().__init__(allow_private)
        self._verdicts: dict[str, str | None] = {}

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        if host not in self._verdicts:
            self._verdicts[host] = await self._host_verdict(host)
        if reason := self._verdicts[host]:
            logger.warning("refused %s: %s", request.url, reason)
            raise AddressRefused(f"refused: {reason}")

    async def _host_verdict(self, host: str) -> str | None:
        if ip := literal_ip(host):
            return refusal_reason(ip, allow_private=self.allow_private)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, proto=socket.IPPROTO_TCP
            )
        except OSError:
            return None  # unresolvable: the download itself fails and is counted as such
        for info in infos:
            if reason := refusal_reason(str(info[4][0]), allow_private=self.allow_private):
                return f"{host} resolves to {reason}"
        return None


class ConnectedAddressMiddleware(_AddressPolicy):
    def process_response(self, request: Request, response: Response) -> Response:
        if response.ip_address is None:
            return response
        reason = refusal_reason(str(response.ip_address), allow_private=self.allow_private)
        if reason:
            logger.warning("refused %s after connecting: %s", request.url, reason)
            raise AddressRefused(f"refused: {reason}")
        return response
