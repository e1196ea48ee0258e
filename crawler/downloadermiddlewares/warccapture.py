"""Downloader middleware that writes every HTTP exchange to WARC, as received.

At order 950 it is the closest middleware to the network: it sees robots.txt, feeds, sitemaps,
articles, every redirect hop, retries and 304s, with the body still content-encoded, before
decompression and redirect handling change anything. It decides between a full response record
and a revisit record (warcprox's order: look the payload digest up, write, and only after the
write succeeded remember the digest; a looked-up record that no longer reads back, damaged on
disk since, is forgotten, so the payload is stored again), and leaves the location of the record
holding the payload in `request.meta["warc"]` for the pipelines.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, Response
from scrapy.utils.httpobj import urlparse_cached

from archive.catalog import ShardLocation
from archive.warcread import reads_back
from archive.warcwriter import HttpExchange, WarcLocation
from crawler.session import RUN_STOPPERS, SessionComponent

logger = logging.getLogger(__name__)


def _header_pairs(headers: Headers) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    )


def exchange_of(request: Request, response: Response, fetched_at: datetime) -> HttpExchange:
    """The exchange as it crossed the wire, in the shape the WARC writer stores."""
    host = urlparse_cached(request).netloc
    return HttpExchange(
        url=request.url,
        method=request.method,
        request_headers=(("Host", host), *_header_pairs(request.headers)),
        protocol=response.protocol or "HTTP/1.1",
        status=response.status,
        reason="",
        response_headers=_header_pairs(response.headers),
        body=response.body,
        fetched_at=fetched_at,
        ip_address=str(response.ip_address) if response.ip_address else None,
        request_body=request.body,
    )


class WarcCaptureMiddleware(SessionComponent):
    def process_response(self, request: Request, response: Response) -> Request | Response:
        fetched_at = datetime.now(UTC)
        exchange = exchange_of(request, response, fetched_at)
        try:
            location = self._write(exchange)
        except RUN_STOPPERS as exc:
            self.stop_run(exc)
            raise IgnoreRequest(str(exc)) from exc
        if location is None:  # not modified, but what it was is lost: fetch it in full
            headers = request.headers.copy()
            for name in ("If-None-Match", "If-Modified-Since"):
                headers.pop(name, None)
            return request.replace(headers=headers, dont_filter=True)
        request.meta["warc"] = location
        request.meta["fetched_at"] = fetched_at
        return response

    def _write(self, exchange: HttpExchange) -> WarcLocation | None:
        """Write one exchange; return where the record holding its payload is. None: a 304 whose
        earlier capture no longer reads back, so the payload is in no record."""
        catalog, dedup, warc = self.session.catalog, self.session.dedup, self.session.warc
        if exchange.status == 304:
            earlier = dedup.capture_for_url(exchange.url)
            lost = earlier is not None and self._lost(earlier)
            location = warc.write_revisit(
                exchange, profile="server-not-modified", refers_to=None if lost else earlier
            )
            return None if lost else earlier or location
        if exchange.status == 200 and exchange.body:
            earlier = dedup.capture_for_payload(exchange.body_digest)
            if earlier is not None and not self._lost(earlier):
                warc.write_revisit(exchange, profile="identical-payload-digest", refers_to=earlier)
                return earlier
        location = warc.write_exchange(exchange)
        if exchange.status == 200 and exchange.body:
            catalog.remember_capture(location)
        return location

    def _lost(self, earlier: WarcLocation) -> bool:
        """Whether `earlier`'s record no longer reads back whole; then its payload is forgotten
        (logged), so that no revisit refers to it. Another shard's record is that shard's to
        check (verify), not readable here."""
        if isinstance(earlier, ShardLocation) or reads_back(self.session.layout.warc_dir, earlier):
            return False
        logger.warning(
            "%s offset %d (%s) no longer reads back: payload %s forgotten, no revisit refers to it",
            earlier.filename,
            earlier.offset,
            earlier.target_uri,
            earlier.payload_digest,
        )
        self.session.catalog.forget_payload(earlier.payload_digest)
        return True
