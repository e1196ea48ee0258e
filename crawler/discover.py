"""Find an outlet's feeds and sitemaps from one of its pages, for a ready `[[source]]` table.

Where feeds are found: the page's ``<link rel="alternate">`` to RSS, Atom or RDF, the page itself
when it is a feed, and common feed paths at the site's root. Sitemaps: robots.txt ``Sitemap:``
lines, else common sitemap paths. Every candidate is fetched and parsed with the crawl's own
parsers, so only what the crawl can read is proposed.

A handful of requests, so a plain blocking HTTP client rather than a Scrapy run; it keeps the
crawl's safety rules: the `[crawl]` user agent, timeout, `max_page_bytes` and `delay`, robots.txt
when `obey_robots`, hostile XML refused (by the parsers), and the address guard of
`crawler.addresses` on every connection and redirect hop (the host is resolved once and the
checked address is the one connected to, so DNS cannot change in between).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import lxml.html
from lxml import etree

from archive.table import cell_text
from archive.urls import absolute_http_url
from crawler.addresses import literal_ip, refusal_reason
from crawler.config import CrawlSettings
from crawler.feeds import is_html, parse_feed
from crawler.sitemaps import parse_sitemap

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml")
SITEMAP_PATHS = ("/news-sitemap.xml", "/sitemap_news.xml", "/sitemap_index.xml", "/sitemap.xml")
MAX_REDIRECTS = 5
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Candidates = list[tuple[str, str]]
"""URLs to try, each with how it was found."""


class FetchFailed(Exception):
    """A request that got no usable answer; the message is one line, for the report."""


@dataclass(frozen=True)
class Fetched:
    url: str
    """Where the redirects ended."""
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Found:
    """A feed or sitemap the crawl can read: its URL, how it was found, what it holds."""

    url: str
    how: str
    detail: str


@dataclass
class Discovery:
    """What `discover` found at one URL, and the notes on what it tried and could not use."""

    url: str
    page: str = ""
    """What the URL itself is: "web page", "feed", "sitemap", or why it was not read."""
    feeds: list[Found] = field(default_factory=list)
    sitemaps: list[Found] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    article_hosts: list[str] = field(default_factory=list)
    """Hosts of the articles the feeds and sitemaps list, in order of first appearance."""

    def source_toml(self) -> str:
        """The report as TOML: comments on what was found, then a `[[source]]` table."""
        hosts = _unique(
            _domain(url) for url in [self.url, *(f.url for f in self.feeds + self.sitemaps)]
        )
        lines = [f"# {cell_text(self.url)}: {self.page}"]
        lines += [f"# feed: {cell_text(f.url)} ({f.how}; {f.detail})" for f in self.feeds]
        lines += [f"# sitemap: {cell_text(s.url)} ({s.how}; {s.detail})" for s in self.sitemaps]
        lines += [f"# not used: {note}" for note in self.notes]
        elsewhere = [host for host in self.article_hosts if host not in hosts]
        if elsewhere:
            shown = ", ".join(map(cell_text, elsewhere))
            lines.append(f"# articles also on {shown}: add to allowed_domains to archive them")
        if not self.feeds and not self.sitemaps:
            return "\n".join(lines) + "\n"
        name = _NAME_UNSAFE.sub("-", _domain(self.url)).strip("-.") or "outlet"
        lines += [
            "[[source]]",
            f"name = {_toml_string(name)}",
            f"feeds = {_toml_list([f.url for f in self.feeds])}",
            f"sitemaps = {_toml_list([s.url for s in self.sitemaps])}",
            'schedule = "0 * * * *"',
            f"allowed_domains = {_toml_list(hosts)}",
        ]
        return "\n".join(lines) + "\n"


def discover(url: str, crawl: CrawlSettings) -> Discovery:
    """Fetch `url`, the site's robots.txt and its common feed and sitemap paths; never raises
    for what the site answers (each failure is a note)."""
    start = absolute_http_url(url)
    if start is None:
        raise ValueError(f"not an http(s) URL: {url!r}")
    found = Discovery(start)
    client = _Client(crawl)
    root = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    robots = client.robots(root)
    feeds, sitemaps = _read_start(client, robots, found)
    for feed_url, how in [*feeds, *((root + path, "common path") for path in FEED_PATHS)]:
        _try_feed(client, robots, found, feed_url, how)
    sitemaps += [(u, "robots.txt Sitemap") for u in robots.site_maps() or ()]
    if not sitemaps:
        sitemaps = [(root + path, "common path") for path in SITEMAP_PATHS]
    for sitemap_url, how in sitemaps:
        _try_sitemap(client, robots, found, sitemap_url, how)
    found.article_hosts = [host for host in found.article_hosts if _reachable(host, crawl)]
    return found


def _reachable(host: str, crawl: CrawlSettings) -> bool:
    """False for an IP host the address guard refuses: no use in `allowed_domains`."""
    ip = literal_ip(host)
    return ip is None or refusal_reason(ip, allow_private=crawl.allow_private_addresses) is None


def _read_start(
    client: _Client, robots: RobotFileParser, found: Discovery
) -> tuple[Candidates, Candidates]:
    """Classify the URL given: the feed links of a web page, or the URL as a feed or sitemap."""
    if not client.allowed(robots, found.url):
        found.page = "disallowed by robots.txt, not fetched"
        return [], []
    try:
        page = client.get(found.url)
    except FetchFailed as exc:
        found.page = str(exc)
        return [], []
    if page.status != 200:
        found.page = f"HTTP {page.status}"
        return [], []
    if is_html(page.body, page.content_type):
        links = [(link, "rel=alternate") for link in _feed_links(page)]
        found.page = f"a web page with {len(links)} feed links"
        return links, []
    if not parse_feed(page.body, page.url, page.content_type).error:
        found.page = "a feed"
        return [(page.url, "the URL given")], []
    if not parse_sitemap(page.body, page.url, max_bytes=client.crawl.max_page_bytes).error:
        found.page = "a sitemap"
        return [], [(page.url, "the URL given")]
    found.page = f"neither a web page nor a feed or sitemap ({cell_text(page.content_type)})"
    return [], []


def _try_feed(
    client: _Client, robots: RobotFileParser, found: Discovery, url: str, how: str
) -> None:
    if url in {f.url for f in found.feeds}:
        return
    page = _candidate(client, robots, found, url, how)
    if page is None or page.url in {f.url for f in found.feeds}:
        return
    feed = parse_feed(page.body, page.url, page.content_type)
    if feed.error is not None and how != "common path":
        found.notes.append(f"{cell_text(url)} ({how}): {feed.error}")
    elif feed.error is None:
        found.feeds.append(Found(page.url, how, f"{len(feed.entries)} entries"))
        found.article_hosts = _unique(
            iter([*found.article_hosts, *(_domain(entry.url) for entry in feed.entries)])
        )


def _try_sitemap(
    client: _Client, robots: RobotFileParser, found: Discovery, url: str, how: str
) -> None:
    page = _candidate(client, robots, found, url, how)
    if page is None or page.url in {s.url for s in found.sitemaps}:
        return
    sitemap = parse_sitemap(page.body, page.url, max_bytes=client.crawl.max_page_bytes)
    if sitemap.error is not None and how != "common path":
        found.notes.append(f"{cell_text(url)} ({how}): {sitemap.error}")
    elif sitemap.error is None and sitemap.sitemaps:
        found.sitemaps.append(Found(page.url, how, f"index of {len(sitemap.sitemaps)} sitemaps"))
    elif sitemap.error is None:
        news = sum(entry.title is not None for entry in sitemap.entries)
        found.article_hosts = _unique(
            iter([*found.article_hosts, *(_domain(entry.url) for entry in sitemap.entries)])
        )
        detail = f"{len(sitemap.entries)} URLs, {news} with a news title"
        found.sitemaps.append(Found(page.url, how, detail))


def _candidate(
    client: _Client, robots: RobotFileParser, found: Discovery, url: str, how: str
) -> Fetched | None:
    """The 200 answer for a candidate, or None; failures of what a page named become notes,
    those of guessed paths stay silent (most sites have most of them missing)."""
    guessed = how == "common path"
    if not client.allowed(robots, url):
        if not guessed:
            found.notes.append(f"{cell_text(url)} ({how}): disallowed by robots.txt")
        return None
    try:
        page = client.get(url)
    except FetchFailed as exc:
        if not guessed:
            found.notes.append(f"{cell_text(url)} ({how}): {exc}")
        return None
    if page.status != 200:
        if not guessed:
            found.notes.append(f"{cell_text(url)} ({how}): HTTP {page.status}")
        return None
    return page


def _feed_links(page: Fetched) -> Iterator[str]:
    """The RSS/Atom/RDF `<link rel="alternate">` URLs of an HTML page, absolute, in order."""
    try:
        doc = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return
    base = absolute_http_url(next(iter(doc.xpath("//base/@href")), ""), page.url) or page.url
    seen: set[str] = set()
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        media = (link.get("type") or "").split(";")[0].strip().lower()
        url = absolute_http_url(link.get("href"), base)
        if "alternate" in rel and media in FEED_TYPES and url and url not in seen:
            seen.add(url)
            yield url


class _Client:
    """Bounded GETs: the config's user agent, timeout, size cap, delay and address guard."""

    def __init__(self, crawl: CrawlSettings) -> None:
        self.crawl = crawl
        self._last_request = 0.0

    def robots(self, root: str) -> RobotFileParser:
        """The site's robots.txt rules; a missing or unreadable one allows everything."""
        robots = RobotFileParser(root + "/robots.txt")
        try:
            answer = self.get(root + "/robots.txt")
        except FetchFailed:
            answer = None
        text = answer.body.decode("utf-8", "replace") if answer and answer.status == 200 else ""
        robots.parse(text.splitlines())
        return robots

    def allowed(self, robots: RobotFileParser, url: str) -> bool:
        return not self.crawl.obey_robots or robots.can_fetch(self.crawl.user_agent, url)

    def get(self, url: str) -> Fetched:
        """GET `url`, following up to `MAX_REDIRECTS` redirects, each hop guarded."""
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, body = self._get_once(url)
            location = headers.get("location")
            if status not in (301, 302, 303, 307, 308) or not location:
                return Fetched(url, status, headers.get("content-type", ""), body)
            target = absolute_http_url(location, url)
            if target is None:
                raise FetchFailed(f"HTTP {status} to a non-http(s) location")
            url = target
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")

    def _get_once(self, url: str) -> tuple[int, dict[str, str], bytes]:
        wait = self._last_request + self.crawl.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        parts = urlsplit(url)
        connection = _connection(parts.scheme, parts.hostname or "", parts.port, self.crawl)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            connection.request(
                "GET",
                target,
                headers={"User-Agent": self.crawl.user_agent, "Accept-Encoding": "identity"},
            )
            response = connection.getresponse()
            headers = {name.lower(): value for name, value in response.getheaders()}
            body = response.read(self.crawl.max_page_bytes + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchFailed(cell_text(str(exc) or type(exc).__name__)) from exc
        finally:
            connection.close()
            self._last_request = time.monotonic()
        if len(body) > self.crawl.max_page_bytes:
            raise FetchFailed(f"over max_page_bytes ({self.crawl.max_page_bytes:,})")
        return response.status, headers, body


def _connection(
    scheme: str, host: str, port: int | None, crawl: CrawlSettings
) -> http.client.HTTPConnection:
    if scheme == "https":
        return _GuardedTLSConnection(host, port, timeout=crawl.timeout, crawl=crawl)
    return _GuardedConnection(host, port, timeout=crawl.timeout, crawl=crawl)


def _guarded_socket(
    host: str, port: int, timeout: float | None, allow_private: bool
) -> socket.socket:
    """A socket connected to `host`, refused (FetchFailed) if any address it resolves to is
    one the crawl may not reach; the address connected to is one of those checked."""
    try:
        infos = socket.getaddrinfo(literal_ip(host) or host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchFailed(f"cannot resolve {cell_text(host)}: {exc.strerror or exc}") from exc
    for info in infos:
        if reason := refusal_reason(str(info[4][0]), allow_private=allow_private):
            raise FetchFailed(f"refused: {reason}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


class _GuardedConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, crawl: CrawlSettings):
        super().__init__(host, port, timeout=timeout)
        self.allow_private = crawl.allow_private_addresses

    def connect(self) -> None:
        self.sock = _guarded_socket(self.host, self.port, self.timeout, self.allow_private)


class _GuardedTLSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, *, timeout: float, crawl: CrawlSettings):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.allow_private = crawl.allow_private_addresses

    def connect(self) -> None:
        sock = _guarded_socket(self.host, self.port, self.timeout, self.allow_private)
        self.sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)


def _domain(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _unique(items: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and DEL is escaped too."""
    return json.dumps(text).replace("\x7f", "\\u007f")


def _toml_list(items: list[str]) -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {_toml_string(item)},\n" for item in items) + "]"
