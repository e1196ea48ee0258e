"""A crawl ends once every listing has ended, however it ended, and requests what they list."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from support import CRAWL_SETTINGS, LocalSite, newsarchive, records_of, serve

ARTICLE = (
    "<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
    + "<p>The council met on Tuesday evening to discuss story number {n} at length, and the "
    "members agreed after a long debate that the matter deserved another hearing next week.</p>"
    * 3
    + "</article></body></html>"
)


LONG_PATH = "/" + "long-" * 500


def _rss(base: str, numbers: range) -> tuple[str, bytes]:
    items = "".join(
        f"<item><title>Story {n}</title><link>{base}/story/{n}.html</link></item>" for n in numbers
    )
    return "application/rss+xml", f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()


def _sitemap_index(base: str, *paths: str) -> tuple[str, bytes]:
    children = "".join(f"<sitemap><loc>{base}{path}</loc></sitemap>" for path in paths)
    return "application/xml", (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}'
        "</sitemapindex>"
    ).encode()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_failed_listings_end_the_crawl_and_good_ones_are_fetched(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        base = site.base_url
        site.pages["/good.xml"] = _rss(base, range(40))
        # Scrapy dropped URLs over 2,083 characters without a callback or errback: the crawl
        # then waited for that listing forever.
        site.pages["/index.xml"] = _sitemap_index(base, "/missing-child.xml", LONG_PATH)
        for n in range(40):
            site.pages[f"/story/{n}.html"] = ("text/html", ARTICLE.format(n=n).encode())
        feeds = [
            f"{base}/good.xml",
            f"{base}/missing.xml",
            f"http://127.0.0.1:{_closed_port()}/x",
            f"{base}{LONG_PATH}.rss",
        ]
        config = tmp_path / "crawl.toml"
        config.write_text(
            CRAWL_SETTINGS.format(
                archive_dir=(tmp_path / "archive").as_posix(), timeout=5, allow_private="true"
            ).replace("[crawl]", "[crawl]\nconcurrency = 2")
            + f'[[source]]\nname = "mixed"\nfeeds = {json.dumps(feeds)}\n'
            + f'sitemaps = ["{base}/index.xml"]\nallowed_domains = ["127.0.0.1"]\n',
            encoding="utf-8",
        )
        result = newsarchive("crawl", "--config", config, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    summary = result.summary()
    # good feed; 404 feed, refused connection, long-URL feed; the index, its two 404 children
    assert summary["feeds_polled"] == 7
    assert summary["feeds_failed"] == 5
    assert summary["articles_new"] == 40
    articles = [hit for hit in site.hits if hit.path.startswith("/story/")]
    assert sorted(hit.path for hit in articles) == sorted(f"/story/{n}.html" for n in range(40))
    assert {hit.referer for hit in articles} == {f"{base}/good.xml"}, "Referer: the feed"
    assert len(records_of(tmp_path / "archive")) == 40
