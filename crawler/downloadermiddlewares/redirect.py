"""Scrapy's redirect middlewares, ending a redirect loop as a failure of the request.

A loop (A -> B -> A, by Location or by meta refresh) sends a request for a URL already requested;
Scrapy's duplicate filter then drops it without a callback, an errback or a log line, so the
listed article would vanish from the counts. Here the hop that closes a loop raises
`RedirectLoop`, as too many hops raise Scrapy's "max redirections reached": the request's errback
counts and logs it, once.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.downloadermiddlewares import redirect
from scrapy.exceptions import IgnoreRequest
from w3lib.url import canonicalize_url


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL already in the request's redirect chain."""


class _RefuseLoops(redirect.BaseRedirectMiddleware):
    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        # Compared as the duplicate filter's fingerprints compare them.
        if canonicalize_url(redirected.url) in map(canonicalize_url, chain):
            raise RedirectLoop("redirect loop: " + " -> ".join([*chain, redirected.url]))
        return super()._redirect(redirected, request, reason)


class RedirectMiddleware(_RefuseLoops, redirect.RedirectMiddleware):
    """3xx + Location."""


class MetaRefreshMiddleware(_RefuseLoops, redirect.MetaRefreshMiddleware):
    """<meta http-equiv="refresh">."""
