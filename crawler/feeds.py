"""Turn the bytes of an RSS or Atom feed into article entries.

A pure function over bytes: no Scrapy, no network, no file access. Broken, hostile or mistaken
feeds are reported in `FeedResult.error`, never raised, because a bad feed is an everyday fact of
crawling news sites, not a bug.
"""

from __future__ import annotations

import io
import re
import time
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import feedparser
from w3lib.html import remove_tags, replace_entities

from archive.controls import strip_controls
from archive.urls import absolute_http_url, unparsable_url
from crawler.xmlguard import hostile_xml_reason

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
NOT_A_FEED = "not a feed"
WEB_PAGE = "this is a web page, not a feed; try `newsarchive discover` on it"


@dataclass(frozen=True)
class Entry:
    """One article a feed or sitemap points to."""

    url: str
    """Absolute http(s) URL, resolved against the document URL and xml:base and serialised as
    browsers do (`archive.urls.whatwg_url`)."""
    title: str | None = None
    """Plain text (markup removed), or None if the document gives none."""
    published: str | None = None
    """ISO 8601 UTC ``YYYY-MM-DDTHH:MM:SSZ`` if the document gives a date."""

    def __post_init__(self) -> None:
        """The title may end up in a record: no control characters (`archive.controls`)."""
        if self.title is not None:
            object.__setattr__(self, "title", strip_controls(self.title) or None)


@dataclass(frozen=True)
class FeedResult:
    """What one feed yields: entries in feed order, and why it was not clean, if it was not."""

    entries: tuple[Entry, ...]
    error: str | None = None
    """One-line reason when the feed is malformed, hostile or not a feed; `entries` then holds
    whatever could be recovered (possibly nothing)."""
    rejected: tuple[str, ...] = ()
    """Links of entries dropped because the WHATWG URL parser rejects them, as the feed gives
    them: the caller logs and counts each."""


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> FeedResult:
    """Parse RSS 0.9x, RSS 1.0 (RDF), RSS 2.0 or Atom 0.3/1.0 bytes fetched from `url`.

    `content_type` is the HTTP Content-Type header (its charset is honoured). Entries without an
    http(s) URL are dropped (those whose link cannot be parsed listed in `rejected`) and repeated
    URLs kept once, first occurrence first. Never raises.
    """
    reason = hostile_xml_reason(body)
    if reason is not None:
        return FeedResult(entries=(), error=reason)
    if not body.strip():
        return FeedResult(entries=(), error=NOT_A_FEED)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        # A stream, never str or bytes: feedparser would treat a string as a URL or a file name.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # feedparser itself raises on some garbage (encoding declarations)
        return FeedResult(entries=(), error=f"unparsable feed ({type(exc).__name__})")
    found = [(raw, _entry(raw, url)) for raw in parsed.entries]
    entries = _unique(entry for _, entry in found)
    rejected = tuple(
        raw["link"]
        for raw, entry in found
        if entry is None and unparsable_url(raw.get("link"), url)
    )
    if not parsed.get("version") and not entries:
        return FeedResult(
            entries=(),
            error=WEB_PAGE if is_html(body, content_type) else NOT_A_FEED,
            rejected=rejected,
        )
    problem = parsed.get("bozo_exception")
    if not isinstance(problem, xml.sax.SAXException):
        return FeedResult(entries=entries, rejected=rejected)
    reason = " ".join(problem.getMessage().split())
    if isinstance(problem, xml.sax.SAXParseException):
        reason += f" at line {problem.getLineNumber()}"
    return FeedResult(entries=entries, error=f"malformed XML: {reason}", rejected=rejected)


def _entry(raw: Mapping[str, Any], feed_url: str) -> Entry | None:
    url = absolute_http_url(raw.get("link"), feed_url) or absolute_http_url(raw.get("id"), feed_url)
    if url is None:
        return None
    return Entry(url=url, title=_title(raw), published=_published(raw))


def _title(raw: Mapping[str, Any]) -> str | None:
    title = raw.get("title")
    if not isinstance(title, str):
        return None
    detail = raw.get("title_detail") or {}
    if detail.get("type") in _HTML_TYPES:
        title = replace_entities(remove_tags(title))
    title = " ".join(title.split())
    return title or None


def _published(raw: Mapping[str, Any]) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        moment = raw.get(key)
        if isinstance(moment, time.struct_time):
            return time.strftime(ISO_UTC, moment)
    return None


def _unique(entries: Iterable[Entry | None]) -> tuple[Entry, ...]:
    seen: set[str] = set()
    kept: list[Entry] = []
    for entry in entries:
        if entry is not None and entry.url not in seen:
            seen.add(entry.url)
            kept.append(entry)
    return tuple(kept)


def is_html(body: bytes, content_type: str | None) -> bool:
    """Whether a response is a web page: by its media type, else by how its bytes begin."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media in _HTML_TYPES or bool(_HTML_START.match(body, 0, 4096))
