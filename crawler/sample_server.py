"""The sample news site: realistic outlets served on loopback for end-to-end tests and the demo.

Each outlet listens on its own loopback address (127.0.0.1 to 127.0.0.5), so a crawler sees
distinct hosts. Pages, feeds and sitemaps are files under ``crawler/sample_site/<outlet>/``;
``gen2/<outlet>/`` shadows some of them when ``generation`` is 2. ``manifest.json`` holds what
files cannot say: dynamic routes (redirects, errors, slow and huge pages), per-file charsets and
content codings, named edge cases, and the ground truth of every article.

Every text file may contain ``{{base:<outlet>}}``, replaced at serve time by that outlet's base
URL. Every served representation carries a strong ETag (a hash of the bytes sent) and a
Last-Modified date, and conditional requests get ``304 Not Modified``. Responses are
deterministic: the same generation serves the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import random
import re
import string
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

BUNDLED_ROOT = Path(__file__).with_name("sample_site")

_PLACEHOLDER = re.compile(r"\{\{base:([a-z]+)\}\}")
_CONTENT_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".rdf": "application/rdf+xml",
    ".txt": "text/plain",
}
_HUGE_PAGE_BYTES = 3_000_000
_BIND_ATTEMPTS = 20
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ArticleTruth:
    """What a perfect crawl + extraction yields for one version of one article page.

    ``url`` is the address as listed in a feed or sitemap, ``final_url`` where redirects end.
    ``text`` is the true body, paragraphs joined by a blank line. ``boilerplate`` lists strings
    that the page's template shows but that must not appear in extracted text. An article whose
    text changes between generations appears once per version, each with its ``generations``.
    """

    url: str
    final_url: str
    outlet: str
    generations: tuple[int, ...]
    title: str
    authors: list[str]
    published: str
    language: str
    description: str
    tags: list[str]
    text: str
    boilerplate: list[str]
    syndicated_of: str | None
    canonical_of: str | None
    charset: str
    slow: bool


@dataclass(frozen=True)
class _Resource:
    """One servable file: identity bytes, and gzip bytes when the gzip coding is offered."""

    body: bytes
    content_type: str
    last_modified: str
    gzip_body: bytes | None = None


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    delay: float = 0.0


class SampleSite:
    """The sample news site: start it, crawl ``sources_toml()``, compare with ``truth()``.

    ``generation`` (1 or 2) may be changed while the site runs; generation 2 edits one daily
    article and adds one article each to daily and herald, and nothing else. ``bulk_articles=N``
    adds the outlet ``bulk`` on 127.0.0.5 with N generated, deterministic articles. ``port``
    (default: any free one) serves every outlet on that port, so URLs stay the same across runs.
    """

    OUTLETS: tuple[str, ...] = ("daily", "herald", "wire", "gazette")

    def __init__(
        self,
        root: Path | None = None,
        *,
        slow_seconds: float = 5.0,
        bulk_articles: int = 0,
        port: int = 0,
    ) -> None:
        self.root = root or BUNDLED_ROOT
        self.port = port
        self.slow_seconds = slow_seconds
        self._manifest: dict[str, Any] = json.loads(
            (self.root / "manifest.json").read_text(encoding="utf-8")
        )
        self._bulk = _BulkOutlet(self.root / "templates", bulk_articles) if bulk_articles else None
        self._generation = 1
        self._servers: dict[str, _OutletServer] = {}
        self._threads: list[threading.Thread] = []
        self._hits: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str, str], _Resource | None] = {}

    @property
    def outlets(self) -> tuple[str, ...]:
        """The outlets this site serves: ``OUTLETS``, plus ``bulk`` when enabled."""
        return (*self.OUTLETS, "bulk") if self._bulk else self.OUTLETS

    @property
    def generation(self) -> int:
        """Which generation of the site is served (1 or 2); settable while running."""
        return self._generation

    @generation.setter
    def generation(self, value: int) -> None:
        if value not in (1, 2):
            raise ValueError(f"generation must be 1 or 2, not {value!r}")
        self._generation = value

    def start(self) -> None:
        """Bind every outlet on its loopback address (one port for all if possible) and serve."""
        self._servers = self._bind()
        for server in self._servers.values():
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": _POLL_SECONDS},
                name=f"sample-{server.outlet}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop serving and release every socket; in-flight slow requests are abandoned."""
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def __enter__(self) -> SampleSite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def base_url(self, outlet: str) -> str:
        """``http://<ip>:<port>`` of a started outlet, without a trailing slash."""
        if outlet not in self._servers:
            raise RuntimeError(f"outlet {outlet!r} is not being served (start() the site first)")
        host, port = self._servers[outlet].server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, outlet: str, path: str) -> str:
        """Absolute URL of ``path`` (starting with ``/``) on ``outlet``."""
        return self.base_url(outlet) + path

    def hits(self, outlet: str, path: str) -> int:
        """Requests received for ``path`` on ``outlet``, any method and status (304s count).

        A path without ``?`` counts requests for it with any query string; a path with a query
        counts only requests for exactly that target.
        """
        with self._lock:
            return self._hits[(outlet, path)]

    def sources_toml(self) -> str:
        """The ``[[source]]`` tables of a newsarchive config that crawls every outlet."""
        tables = []
        for outlet in self.outlets:
            spec = self._manifest["outlets"][outlet]
            feeds = [self.url(outlet, path) for path in spec["feeds"]]
            sitemaps = [self.url(outlet, path) for path in spec["sitemaps"]]
            host = urlsplit(self.base_url(outlet)).hostname
            tables.append(
                "[[source]]\n"
                f"name = {json.dumps(outlet)}\n"
                f"feeds = {json.dumps(feeds)}\n"
                f"sitemaps = {json.dumps(sitemaps)}\n"
                'schedule = "*/30 * * * *"\n'
                f"allowed_domains = {json.dumps([host])}\n"
            )
        return "\n".join(tables)

    def truth(self) -> list[ArticleTruth]:
        """Ground truth of every real article page, one entry per article version."""
        truths = [
            ArticleTruth(
                url=self._substitute(entry["url"]),
                final_url=self._substitute(entry["final_url"]),
                outlet=entry["outlet"],
                generations=tuple(entry["generations"]),
                title=entry["title"],
                authors=list(entry["authors"]),
                published=entry["published"],
                language=entry["language"],
                description=entry["description"],
                tags=list(entry["tags"]),
                text="\n\n".join(entry["paragraphs"]),
                boilerplate=list(entry["boilerplate"]),
                syndicated_of=entry["syndicated_of"] and self._substitute(entry["syndicated_of"]),
                canonical_of=entry["canonical_of"] and self._substitute(entry["canonical_of"]),
                charset=entry["charset"],
                slow=entry["slow"],
            )
            for entry in self._manifest["articles"]
        ]
        if self._bulk:
            truths += self._bulk.truth(self.base_url("bulk"))
        return truths

    def edge_cases(self) -> dict[str, str]:
        """Absolute URLs of the site's edge cases by name (``redirect``, ``robots_disallowed``,
        ``link_local``, ``print``, ``amp``, ``changed_in_gen2``...; see ``manifest.json``)."""
        return {name: self._substitute(url) for name, url in self._manifest["edge_cases"].items()}

    # -- serving ---------------------------------------------------------------------------

    def _bind(self) -> dict[str, _OutletServer]:
        hosts = {outlet: self._manifest["outlets"][outlet]["host"] for outlet in self.outlets}
        for _ in range(1 if self.port else _BIND_ATTEMPTS):
            servers: dict[str, _OutletServer] = {}
            port = self.port
            try:
                for outlet, host in hosts.items():
                    servers[outlet] = _OutletServer((host, port), self, outlet)
                    port = servers[outlet].server_address[1]
                return servers
            except OSError:
                for server in servers.values():
                    server.server_close()
                if self.port:  # that port or nothing
                    raise
        return {outlet: _OutletServer((host, 0), self, outlet) for outlet, host in hosts.items()}

    def _record_hit(self, outlet: str, target: str) -> None:
        path = urlsplit(target).path
        with self._lock:
            self._hits[(outlet, path)] += 1
            if target != path:
                self._hits[(outlet, target)] += 1

    def _reply(self, outlet: str, target: str, headers: Mapping[str, str]) -> _Reply:
        path = urlsplit(target).path
        route = self._manifest["routes"].get(outlet, {}).get(path, {})
        if "location" in route:
            location = self.url(outlet, route["location"])
            body = f'<html><body><a href="{html.escape(location)}">Moved</a></body></html>'
            return _Reply(route["status"], {"Location": location, **_HTML}, body.encode())
        if "status" in route:
            return _error_reply(route["status"])
        if route.get("huge"):
            resource = self._cached(outlet, path, lambda: _huge_page(self._last_modified(1)))
        elif "gzip_of" in route:
            resource = self._cached(outlet, path, lambda: self._gzip_file(outlet, route["gzip_of"]))
        else:
            resource = self._cached(outlet, path, lambda: self._load(outlet, path))
        if resource is None:
            return _error_reply(404)
        delay = self.slow_seconds if route.get("slow") else 0.0
        return _represent(resource, headers, delay)

    def _cached(
        self, outlet: str, path: str, load: Callable[[], _Resource | None]
    ) -> _Resource | None:
        key = (self._generation, outlet, path)
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def _load(self, outlet: str, path: str) -> _Resource | None:
        page = (
            self._bulk.page(path, self.base_url(outlet))
            if self._bulk and outlet == "bulk"
            else None
        )
        if page is not None:
            return _Resource(page[0], page[1], self._last_modified(1))
        found = self._find_file(outlet, path)
        if found is None:
            return None
        file, generation = found
        attrs = self._manifest["files"].get(outlet, {}).get(path, {})
        charset = attrs.get("charset", "utf-8")
        body = self._substitute(file.read_bytes().decode(charset)).encode(charset)
        content_type = _CONTENT_TYPES[file.suffix]
        if attrs.get("charset_in_header", True):
            content_type += f"; charset={charset}"
        gzip_body = gzip.compress(body, mtime=0) if attrs.get("content_encoding") else None
        return _Resource(body, content_type, self._last_modified(generation), gzip_body)

    def _gzip_file(self, outlet: str, path: str) -> _Resource | None:
        plain = self._load(outlet, path)
        if plain is None:
            return None
        return _Resource(
            gzip.compress(plain.body, mtime=0), "application/gzip", plain.last_modified
        )

    def _find_file(self, outlet: str, path: str) -> tuple[Path, int] | None:
        layers = [(self.root / "gen2" / outlet, 2)] if self._generation == 2 else []
        if path.endswith("/"):  # a folder's page, as web servers serve it
            path += "index.html"
        for base, generation in [*layers, (self.root / outlet, 1)]:
            file = (base / path.lstrip("/")).resolve()
            inside = file.is_relative_to(base.resolve())
            if inside and file.is_file() and file.suffix in _CONTENT_TYPES:
                return file, generation
        return None

    def _last_modified(self, generation: int) -> str:
        return str(self._manifest["last_modified"][str(generation)])

    def _substitute(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: self.base_url(match.group(1)), text)


_HTML = {"Content-Type": "text/html; charset=utf-8"}


def _error_reply(status: int) -> _Reply:
    title = f"{status} {HTTPStatus(status).phrase}"
    body = f"<!DOCTYPE html><html><head><title>{title}</title></head>"
    body += f"<body><h1>{title}</h1></body></html>"
    return _Reply(status, dict(_HTML), body.encode())


def _represent(resource: _Resource, headers: Mapping[str, str], delay: float) -> _Reply:
    """Choose the coding, then answer 200 or 304 with validators computed on the bytes sent."""
    body = resource.body
    reply_headers = {"Content-Type": resource.content_type}
    if resource.gzip_body is not None:
        reply_headers["Vary"] = "Accept-Encoding"
        if _accepts_gzip(headers.get("Accept-Encoding", "")):
            body = resource.gzip_body
            reply_headers["Content-Encoding"] = "gzip"
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    reply_headers |= {
        "ETag": etag,
        "Last-Modified": resource.last_modified,
        "Cache-Control": "public, max-age=300",
    }
    if _not_modified(headers, etag, resource.last_modified):
        del reply_headers["Content-Type"]
        reply_headers.pop("Content-Encoding", None)
        return _Reply(304, reply_headers, b"", delay)
    return _Reply(200, reply_headers, body, delay)


def _accepts_gzip(accept_encoding: str) -> bool:
    for coding in accept_encoding.split(","):
        name, _, params = coding.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.strip().removeprefix("q=")
            try:
                return not quality or float(quality) > 0
            except ValueError:
                return False
    return False


def _not_modified(headers: Mapping[str, str], etag: str, last_modified: str) -> bool:
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return parsedate_to_datetime(last_modified) <= since


def _huge_page(last_modified: str) -> _Resource:
    """A valid ~3 MB HTML page: the full text of an (invented) budget, line item by line item."""
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Full text: the city's 2025 budget | The Daily Ledger</title>\n</head>\n"
        "<body>\n<h1>Full text: the city's 2025 budget</h1>\n"
    )
    parts = [head]
    size, item = len(head), 0
    while size < _HUGE_PAGE_BYTES:
        item += 1
        line = (
            f"<p>Line item {item}: the department allocates {item * 37 % 9000 + 100} thousand "
            f"dollars to programme {item % 97} for operating costs, maintenance and staff.</p>\n"
        )
        parts.append(line)
        size += len(line)
    parts.append("</body>\n</html>\n")
    return _Resource("".join(parts).encode(), "text/html; charset=utf-8", last_modified)


class _BulkOutlet:
    """N generated articles for load tests: seeded prose of 300-1500 words in a news template.

    Article ``n`` (1-based) is a pure function of ``n``: the same bytes on every run.
    """

    def __init__(self, templates: Path, count: int) -> None:
        self.count = count
        self._words: dict[str, list[str]] = json.loads(
            (templates / "bulk.json").read_text(encoding="utf-8")
        )
        self._template = string.Template(
            (templates / "bulk-article.html").read_text(encoding="utf-8")
        )
        self._epoch = datetime(2024, 8, 1, tzinfo=UTC)

    def article(self, n: int) -> dict[str, Any]:
        """Metadata and paragraphs of article ``n``."""
        rng = random.Random(n)
        w = self._words
        place, topic = rng.choice(w["places"]), rng.choice(w["topics"])
        title = rng.choice(w["headlines"]).format(place=place, topic=topic)
        title = title[0].upper() + title[1:]
        paragraphs, words, target = [], 0, rng.randint(300, 1400)
        while words < target:
            paragraph = self._paragraph(rng, place, topic)
            paragraphs.append(paragraph)
            words += len(paragraph.split())
        return {
            "n": n,
            "title": title,
            "author": f"{rng.choice(w['first_names'])} {rng.choice(w['last_names'])}",
            "section": rng.choice(w["sections"]),
            "published": (self._epoch + timedelta(minutes=17 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": paragraphs[0].split(". ")[0] + ".",
            "paragraphs": paragraphs,
        }

    def _paragraph(self, rng: random.Random, place: str, topic: str) -> str:
        w = self._words
        if rng.random() < 0.25:
            quote = rng.choice(w["quotes"]).format(place=place)
            name = f"{rng.choice(w['first_names'])} {rng.choice(w['last_names'])}"
            return f"\u201c{quote},\u201d said {name}, {rng.choice(w['roles'])}."
        sentences = []
        for _ in range(rng.randint(2, 5)):
            obj = rng.choice(w["objects"]).format(topic=topic)
            sentences.append(
                f"{rng.choice(w['subjects'])} {rng.choice(w['verbs'])} {obj} "
                f"{rng.choice(w['complements'])}."
            )
        return " ".join(sentences)

    def page(self, path: str, base: str) -> tuple[bytes, str] | None:
        """Bytes and content type of ``/feed.xml`` or ``/a/<n>.html``; None for other paths."""
        if path == "/feed.xml":
            return self._feed(base), "application/rss+xml; charset=utf-8"
        match = re.fullmatch(r"/a/([1-9][0-9]*)\.html", path)
        if match is None or int(match.group(1)) > self.count:
            return None
        return self._render(self.article(int(match.group(1))), base), "text/html; charset=utf-8"

    def _render(self, art: dict[str, Any], base: str) -> bytes:
        esc = html.escape
        body = [f"<p>{esc(p, quote=False)}</p>" for p in art["paragraphs"]]
        body.insert(
            1,
            f'<figure><img src="/img/{art["n"]}.jpg" alt=""><figcaption>'
            f"Photo: Bulletin archive</figcaption></figure>",
        )
        related = [
            f'<li><a href="{base}/a/{k}.html">{esc(self.article(k)["title"])}</a></li>'
            for k in (art["n"] % self.count + 1, (art["n"] + 6) % self.count + 1)
        ]
        jsonld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": art["title"],
                "datePublished": art["published"],
                "author": [{"@type": "Person", "name": art["author"]}],
            }
        ).replace("</", "<\\/")
        page = self._template.substitute(
            title=esc(art["title"]),
            description=esc(art["description"]),
            published=art["published"],
            url=f"{base}/a/{art['n']}.html",
            jsonld=f'<script type="application/ld+json">{jsonld}</script>',
            section=esc(art["section"]),
            section_slug=art["section"].lower(),
            author=esc(art["author"]),
            date=art["published"][:10],
            body="\n".join(body),
            related="\n".join(related),
        )
        return page.encode()

    def _feed(self, base: str) -> bytes:
        items = []
        for n in range(self.count, 0, -1):
            art = self.article(n)
            published = datetime.fromisoformat(art["published"].replace("Z", "+00:00"))
            items.append(
                f"<item><title>{html.escape(art['title'])}</title>"
                f"<link>{base}/a/{n}.html</link><guid>{base}/a/{n}.html</guid>"
                f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
                f"<description>{html.escape(art['description'])}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>The Bulk Bulletin</title><link>{base}/</link>"
            "<description>Generated news for load tests</description>\n"
            + "\n".join(items)
            + "\n</channel></rss>\n"
        ).encode()

    def truth(self, base: str) -> list[ArticleTruth]:
        """Ground truth of every bulk article."""
        truths = []
        for n in range(1, self.count + 1):
            art = self.article(n)
            url = f"{base}/a/{n}.html"
            truths.append(
                ArticleTruth(
                    url=url,
                    final_url=url,
                    outlet="bulk",
                    generations=(1, 2),
                    title=art["title"],
                    authors=[art["author"]],
                    published=art["published"],
                    language="en",
                    description=art["description"],
                    tags=[art["section"]],
                    text="\n\n".join(art["paragraphs"]),
                    boilerplate=[*self._words["boilerplate"], "Photo: Bulletin archive"],
                    syndicated_of=None,
                    canonical_of=None,
                    charset="utf-8",
                    slow=False,
                )
            )
        return truths


class _OutletServer(ThreadingHTTPServer):
    """One outlet's HTTP server; request threads are daemons so a slow reply never blocks exit."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: SampleSite, outlet: str) -> None:
        self.site = site
        self.outlet = outlet
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (a crawler's cancelled download) is normal here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SampleNews/1.0"
    sys_version = ""
    timeout = 30
    server: _OutletServer

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are counted by ``SampleSite.hits``, never logged."""

    def _serve(self, *, send_body: bool) -> None:
        site, outlet = self.server.site, self.server.outlet
        site._record_hit(outlet, self.path)
        reply = site._reply(outlet, self.path, _headers(self.headers))
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status != 304:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body and reply.status != 304:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _headers(message: Message) -> dict[str, str]:
    return {name.title(): value for name, value in message.items()}


def main(argv: list[str] | None = None) -> int:
    """Serve the sample site until Ctrl-C, printing each outlet's URL and a config snippet."""
    parser = argparse.ArgumentParser(prog="python -m crawler.sample_server", description=__doc__)
    parser.add_argument("--slow-seconds", type=float, default=5.0)
    parser.add_argument("--bulk", type=int, default=0, metavar="N")
    parser.add_argument("--generation", type=int, choices=(1, 2), default=1)
    args = parser.parse_args(argv)
    with SampleSite(slow_seconds=args.slow_seconds, bulk_articles=args.bulk) as site:
        site.generation = args.generation
        for outlet in site.outlets:
            print(f"{outlet:8} {site.base_url(outlet)}/")
        print()
        print(site.sources_toml(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
