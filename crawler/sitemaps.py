"""Turn the bytes of a sitemap (index or urlset, optionally gzipped) into entries.

Ours rather than Scrapy's `Sitemap` because Scrapy drops the Google News fields
(``news:title``, ``news:publication_date``) that give an article its title and date before it is
fetched. A pure function over bytes: malformed, oversized or hostile sitemaps are reported in
`SitemapResult.error`, never raised.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from archive.fulltext import utc_timestamp
from archive.urls import absolute_http_url, unparsable_url
from crawler.feeds import Entry
from crawler.xmlguard import hostile_xml_reason

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SitemapResult:
    """What one sitemap yields; at most one of `sitemaps` and `entries` is non-empty."""

    sitemaps: tuple[str, ...]
    """Child sitemap URLs, in document order, when the document is a ``<sitemapindex>``."""
    entries: tuple[Entry, ...]
    """``<url>`` entries of a ``<urlset>``: title from news:title, published from
    news:publication_date, else lastmod."""
    error: str | None = None
    """One-line reason when the sitemap is malformed, too large, hostile or not a sitemap; the
    other fields then hold whatever could be recovered."""
    rejected: tuple[str, ...] = ()
    """Locations dropped because the WHATWG URL parser rejects them, as the sitemap gives them:
    child sitemaps when `index`, else articles. The caller logs and counts each."""
    index: bool = False
    """True when the document is a ``<sitemapindex>``."""


def parse_sitemap(body: bytes, url: str, *, max_bytes: int = 50_000_000) -> SitemapResult:
    """Parse sitemap bytes fetched from `url`; gzip bodies are inflated up to `max_bytes`.

    Location URLs are resolved against `url` and serialised as browsers do; those that are not
    http(s) are dropped (unparsable ones listed in `rejected`), repeated ones kept once. Element
    names are matched without regard to namespace, as crawlers do, since real sitemaps get the
    sitemap namespace wrong. Never raises.
    """
    error = None
    if body.startswith(_GZIP_MAGIC):
        body, error = _gunzip(body, max_bytes)
    reason = hostile_xml_reason(body)
    if reason is not None:
        return SitemapResult(sitemaps=(), entries=(), error=reason)
    root, parse_error = _parse_xml(body)
    error = error or parse_error
    if root is None or _local_name(root) not in ("urlset", "sitemapindex"):
        return SitemapResult(sitemaps=(), entries=(), error=error or "not a sitemap")
    index = _local_name(root) == "sitemapindex"
    found: dict[str, Entry] = {}
    rejected: list[str] = []
    for item in _children(root, "sitemap" if index else "url"):
        location = _child_text(item, "loc")
        entry = _entry(item, location, url)
        if entry is not None:
            found.setdefault(entry.url, entry)
        elif location and unparsable_url(location, url):
            rejected.append(location)
    if index:
        return SitemapResult(
            sitemaps=tuple(found), entries=(), error=error, rejected=tuple(rejected), index=True
        )
    return SitemapResult(
        sitemaps=(), entries=tuple(found.values()), error=error, rejected=tuple(rejected)
    )


def _gunzip(body: bytes, max_bytes: int) -> tuple[bytes, str | None]:
    """Inflate every gzip member of `body`, stopping at `max_bytes` of output (gzip bombs)."""
    out = bytearray()
    data = body
    while data.startswith(_GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while data and not inflater.eof:
                out += inflater.decompress(data, max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    return bytes(out[:max_bytes]), f"sitemap larger than {max_bytes} bytes"
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            return bytes(out), f"bad gzip data: {exc}"
        if not inflater.eof:
            return bytes(out), "truncated gzip data"
        data = inflater.unused_data
    return bytes(out), None


def _parse_xml(body: bytes) -> tuple[etree._Element | None, str | None]:
    """Parse strictly; on failure parse again in recovery mode and report the first error."""
    try:
        return etree.fromstring(body, _parser(recover=False)), None
    except etree.XMLSyntaxError as exc:
        reason = f"malformed XML: {' '.join(exc.msg.split())}" if body.strip() else "not a sitemap"
    try:
        return etree.fromstring(body, _parser(recover=True)), reason
    except etree.XMLSyntaxError:
        return None, reason


def _parser(*, recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        recover=recover,
        remove_comments=True,
        remove_pis=True,
    )


def _entry(item: etree._Element, location: str | None, base: str) -> Entry | None:
    url = absolute_http_url(location, base)
    if url is None:
        return None
    news = next(_children(item, "news"), None)
    title = " ".join((_child_text(news, "title") or "").split())
    published = utc_timestamp(_child_text(news, "publication_date"))
    return Entry(
        url=url,
        title=title or None,
        published=published or utc_timestamp(_child_text(item, "lastmod")),
    )


def _children(parent: etree._Element, name: str) -> Iterator[etree._Element]:
    return (child for child in parent if _local_name(child) == name)


def _child_text(parent: etree._Element | None, name: str) -> str | None:
    """The stripped text of `parent`'s first `name` child; None when there is none, or when it
    cannot be read (lxml raises on a character reference to a lone surrogate, `&#xD800;`)."""
    if parent is None:
        return None
    child = next(_children(parent, name), None)
    try:
        text = child.text if child is not None else None
    except ValueError:  # UnicodeDecodeError included
        return None
    return text.strip() if text else None


def _local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    # "{namespace}name", or "prefix:name" when recovery kept an undeclared prefix.
    return tag.rpartition("}")[2].rpartition(":")[2]
