"""A generated news corpus for throughput benchmarks, and a fast server for it on 127.0.0.1.

`Corpus(n)` renders N articles (four page templates, 300 to 3,000 words, seeded: the same bytes on
every run) and one RSS feed per section listing them. `CorpusServer` serves those bytes from memory
over HTTP/1.1 keep-alive on an asyncio loop in a background thread, so the server costs next to
nothing next to the crawler being measured. The prose reuses the sample site's vocabulary.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

VOCABULARY = Path(__file__).resolve().parents[1] / "crawler/sample_site/templates/bulk.json"
MIN_WORDS, MAX_WORDS = 300, 3000
EPOCH = datetime(2024, 8, 1, tzinfo=UTC)
HTML_TYPE = "text/html; charset=utf-8"
FEED_TYPE = "application/rss+xml; charset=utf-8"


@dataclass(frozen=True)
class Story:
    """What one generated article says, before a template lays it out."""

    n: int
    title: str
    author: str
    section: str
    published: datetime
    paragraphs: tuple[str, ...]

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


class _Writer:
    """Seeded prose from the vocabulary: sentences, quotes, stories."""

    def __init__(self) -> None:
        self.w: dict[str, list[str]] = json.loads(VOCABULARY.read_text(encoding="utf-8"))

    def story(self, n: int, seed: int) -> Story:
        rng = random.Random(seed * 1_000_003 + n)
        w = self.w
        place, topic = rng.choice(w["places"]), rng.choice(w["topics"])
        title = rng.choice(w["headlines"]).format(place=place, topic=topic)
        target, words, paragraphs = rng.randint(MIN_WORDS, MAX_WORDS), 0, []
        while words < target:
            paragraphs.append(self._paragraph(rng, place, topic))
            words += len(paragraphs[-1].split())
        return Story(
            n=n,
            title=title[0].upper() + title[1:],
            author=self.person(rng),
            section=rng.choice(w["sections"]),
            published=EPOCH + timedelta(minutes=7 * n),
            paragraphs=tuple(paragraphs),
        )

    def person(self, rng: random.Random) -> str:
        return f"{rng.choice(self.w['first_names'])} {rng.choice(self.w['last_names'])}"

    def _paragraph(self, rng: random.Random, place: str, topic: str) -> str:
        w = self.w
        if rng.random() < 0.2:
            quote = rng.choice(w["quotes"]).format(place=place)
            return f"\u201c{quote},\u201d said {self.person(rng)}, {rng.choice(w['roles'])}."
        return " ".join(
            f"{rng.choice(w['subjects'])} {rng.choice(w['verbs'])} "
            f"{rng.choice(w['objects']).format(topic=topic)} {rng.choice(w['complements'])}."
            for _ in range(rng.randint(2, 6))
        )


def _paras(story: Story, every: int, subhead: str) -> str:
    """The body paragraphs, with a subheading every `every` paragraphs (0: none)."""
    out = []
    for i, text in enumerate(story.paragraphs):
        if every and i and i % every == 0:
            out.append(f"<{subhead}>{html.escape(story.section)} update {i // every}</{subhead}>")
        out.append(f"<p>{html.escape(text, quote=False)}</p>")
    return "\n".join(out)


def _head(story: Story, url: str, site: str) -> str:
    e = html.escape
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": story.title,
            "datePublished": story.published.isoformat(),
            "author": [{"@type": "Person", "name": story.author}],
        }
    ).replace("</", "<\\/")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(story.title)} | {site}</title>"
        f'<meta name="description" content="{e(story.paragraphs[0][:150])}">'
        f'<meta property="article:published_time" content="{story.published.isoformat()}">'
        f'<meta property="article:section" content="{e(story.section)}">'
        f'<link rel="canonical" href="{url}">'
        f'<script type="application/ld+json">{jsonld}</script>'
        '<link rel="stylesheet" href="/static/site.css"><script src="/static/app.js"></script>'
        "</head>\n"
    )


def _nav(sections: list[str]) -> str:
    return " | ".join(f'<a href="/{s.lower()}">{s}</a>' for s in sections)


def _links(titles: list[tuple[int, str]]) -> str:
    return "".join(f'<li><a href="/a/{k}.html">{html.escape(t)}</a></li>' for k, t in titles)


class Corpus:
    """N seeded articles in four templates, plus one RSS feed per section, as bytes by path."""

    SITE = "The Benchmark Courier"

    def __init__(self, articles: int, *, seed: int = 7, base_url: str = "") -> None:
        writer = _Writer()
        self.base_url = base_url
        self.sections: list[str] = writer.w["sections"]
        self.stories = [writer.story(n, seed) for n in range(1, articles + 1)]
        self._writer = writer
        self.pages: dict[str, tuple[bytes, str]] = {}

    def render(self, base_url: str) -> None:
        """Lay every page and feed out for a server at `base_url` (links are absolute)."""
        self.base_url = base_url
        self.pages = {self.path(s): (self._page(s), HTML_TYPE) for s in self.stories}
        for section in self.sections:
            self.pages[self.feed_path(section)] = (self._feed(section), FEED_TYPE)
        self.pages["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")

    @staticmethod
    def path(story: Story) -> str:
        return f"/a/{story.n}.html"

    @staticmethod
    def feed_path(section: str) -> str:
        return f"/feeds/{section.lower()}.xml"

    def url(self, story: Story) -> str:
        return self.base_url + self.path(story)

    @property
    def feed_urls(self) -> list[str]:
        return [self.base_url + self.feed_path(s) for s in self.sections]

    def article_pages(self) -> list[tuple[str, bytes]]:
        """(URL, HTML bytes) of every article, in order: what the extraction limit runs over."""
        return [(self.url(s), self.pages[self.path(s)][0]) for s in self.stories]

    def _related(self, story: Story, count: int) -> list[tuple[int, str]]:
        total = len(self.stories)
        picks = [(story.n + 7 * k) % total for k in range(1, count + 1)]
        return [(self.stories[i].n, self.stories[i].title) for i in picks]

    def _page(self, story: Story) -> bytes:
        layout = (self._broadsheet, self._tabloid, self._wire, self._magazine)[story.n % 4]
        return (_head(story, self.url(story), self.SITE) + layout(story) + "</html>\n").encode()

    def _byline(self, story: Story) -> str:
        when = story.published
        return (
            f'<p class="byline">By <span class="author">{html.escape(story.author)}</span>, '
            f'<time datetime="{when.isoformat()}">{when:%d %B %Y}</time></p>'
        )

    def _broadsheet(self, story: Story) -> str:
        return (
            f'<body><div class="consent">{self.SITE} uses cookies. Accept?</div>'
            f"<header><a href='/'>{self.SITE}</a><nav>{_nav(self.sections)}</nav></header>"
            f"<main><article><h1>{html.escape(story.title)}</h1>{self._byline(story)}"
            f'<figure><img src="/img/{story.n}.jpg" alt=""><figcaption>Photo: Courier'
            f'</figcaption></figure><div class="article-body">{_paras(story, 5, "h2")}</div>'
            f'</article><aside class="related"><h2>More from the Courier</h2>'
            f"<ul>{_links(self._related(story, 4))}</ul></aside></main>"
            f"<footer><p>&copy; {self.SITE}</p><p>Contact | Privacy | Terms</p></footer></body>"
        )

    def _tabloid(self, story: Story) -> str:
        rng = random.Random(story.n)
        comments = "".join(
            f'<div class="comment"><b>{self._writer.person(rng)}</b><p>'
            f"{html.escape(rng.choice(self._writer.w['quotes']).format(place='here'))}</p></div>"
            for _ in range(5)
        )
        return (
            f'<body><div id="top"><div class="logo">{self.SITE}</div>'
            f'<ul class="menu">{_links(self._related(story, 8))}</ul></div>'
            f'<div class="story"><div class="headline"><h1>{html.escape(story.title)}</h1></div>'
            f'{self._byline(story)}<div class="share"><a href="/share?x">Share</a>'
            f'<a href="/share?m">Email</a></div><div class="story-body">'
            f'{_paras(story, 0, "h3")}<div class="ad">Advertisement</div></div></div>'
            f'<div id="comments"><h3>Comments</h3>{comments}</div>'
            f'<div class="footer">{self.SITE} | Advertise | Subscribe</div></body>'
        )

    def _wire(self, story: Story) -> str:
        bullets = "".join(
            f"<li>{html.escape(p.split('. ')[0])}.</li>" for p in story.paragraphs[:3]
        )
        return (
            f"<body><main><article><header><h1>{html.escape(story.title)}</h1>"
            f"{self._byline(story)}</header><section class='summary'><ul>{bullets}</ul></section>"
            f"<section class='text'>{_paras(story, 8, 'h2')}</section>"
            f"<p class='tags'>Filed under: <a href='/tag/{story.section.lower()}'>"
            f"{story.section}</a></p></article></main></body>"
        )

    def _magazine(self, story: Story) -> str:
        most_read = _links(self._related(story, 10))
        pull = html.escape(story.paragraphs[len(story.paragraphs) // 2][:120])
        return (
            f"<body><div class='wrap'><div class='masthead'>{self.SITE} Magazine"
            f"<nav>{_nav(self.sections)}</nav></div><div class='columns'>"
            f"<div class='content'><h1 class='entry-title'>{html.escape(story.title)}</h1>"
            f"{self._byline(story)}<div class='entry-content'>{_paras(story, 6, 'h3')}"
            f"<blockquote class='pull'>{pull}</blockquote></div></div>"
            f"<div class='sidebar'><h4>Most read</h4><ol>{most_read}</ol>"
            f"<div class='newsletter'>Sign up for the weekly letter. No spam.</div></div>"
            f"</div><div class='site-footer'>{self.SITE} &middot; About &middot; Jobs</div>"
            f"</div></body>"
        )

    def _feed(self, section: str) -> bytes:
        items = "\n".join(
            f"<item><title>{html.escape(s.title)}</title><link>{self.url(s)}</link>"
            f"<guid>{self.url(s)}</guid>"
            f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate></item>"
            for s in reversed(self.stories)
            if s.section == section
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{self.SITE}: {section}</title><link>{self.base_url}/</link>"
            f"<description>{section}</description>\n{items}\n</channel></rss>\n"
        ).encode()


class CorpusServer:
    """Serves a corpus's pages on `host` (a loopback address, a free port) until closed; HTTP/1.1
    keep-alive.

    Use as a context manager; `base_url` is known once it is entered. The corpus is rendered for
    that address on entry. `latency` (low, high seconds) delays every answer by a seeded amount
    in that range, the same for the same path on every run: a remote site's response time.
    """

    def __init__(
        self, corpus: Corpus, *, host: str = "127.0.0.1", latency: tuple[float, float] = (0, 0)
    ) -> None:
        self.corpus = corpus
        self.host = host
        self.latency = latency
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> CorpusServer:
        self._thread.start()
        start = asyncio.start_server(self._handle, self.host, 0, backlog=1024)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result()
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{port}"
        self.corpus.render(self.base_url)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _shutdown(self) -> None:
        """Stop listening and end every open connection while the loop still runs."""
        if self._server is not None:
            self._server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b" ", 2)
                path = target.decode("latin-1").split("?")[0]
                if self.latency[1]:
                    await asyncio.sleep(random.Random(self.host + path).uniform(*self.latency))
                found = self.corpus.pages.get(path)
                body, kind = found or (b"not found", "text/plain")
                status = b"200 OK" if found else b"404 Not Found"
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                    % (status, kind.encode(), len(body))
                )
                if method != b"HEAD":
                    writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
