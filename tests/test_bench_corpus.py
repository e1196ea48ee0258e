"""The throughput benchmark's corpus: seeded, varied, and served as a crawler would see it."""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import MAX_WORDS, MIN_WORDS, Corpus, CorpusServer


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, "", b""


def test_same_seed_same_bytes_and_lengths_within_range() -> None:
    first, second = Corpus(40), Corpus(40)
    first.render("http://127.0.0.1:1")
    second.render("http://127.0.0.1:1")
    assert first.pages == second.pages
    assert all(MIN_WORDS <= s.words <= MAX_WORDS + 200 for s in first.stories)
    other = Corpus(40, seed=8)
    other.render("http://127.0.0.1:1")
    assert other.pages != first.pages


def test_pages_use_every_template() -> None:
    corpus = Corpus(8)
    corpus.render("http://127.0.0.1:1")
    markers = ("article-body", "story-body", "class='text'", "entry-content")
    for marker in markers:
        assert any(marker.encode() in body for _, body in corpus.article_pages()), marker


def test_server_serves_feeds_listing_every_article_once() -> None:
    corpus = Corpus(30)
    with CorpusServer(corpus) as server:
        listed: list[str] = []
        for feed in corpus.feed_urls:
            status, kind, body = fetch(feed)
            assert status == 200 and "rss" in kind
            listed += re.findall(r"<link>([^<]+/a/\d+\.html)</link>", body.decode())
        assert sorted(listed) == sorted(url for url, _ in corpus.article_pages())
        url, expected = corpus.article_pages()[0]
        assert fetch(url) == (200, "text/html; charset=utf-8", expected)
        assert fetch(server.base_url + "/a/999.html")[0] == 404
