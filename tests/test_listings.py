"""A crawl ends once every listing has ended, however it ended, and requests what they list."""

from __future__ import annotations

import json
from pathlib import Path

from support import (
    LocalSite,
    closed_port,
    local_config,
    newsarchive,
    records_of,
    serve,
    sitemap_index,
    story_feed,
    story_page,
)

LONG_PATH = "/" + "long-" * 500


def test_failed_listings_end_the_crawl_and_good_ones_are_fetched(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        base = site.base_url
        site.pages["/good.xml"] = story_feed(base, range(40))
        # A feed whose server asks for no Referer on the links it lists.
        site.pages["/private.xml"] = story_feed(base, range(40, 45))
        site.headers["/private.xml"] = {"Referrer-Policy": "no-referrer"}
        # Scrapy dropped URLs over 2,083 characters without a callback or errback: the crawl
        # then waited for that listing forever.
        site.pages["/index.xml"] = sitemap_index(base, "/missing-child.xml", LONG_PATH)
        for n in range(45):
            site.pages[f"/story/{n}.html"] = story_page(n)
        feeds = [
            f"{base}/good.xml",
            f"{base}/private.xml",
            f"{base}/missing.xml",
            f"http://127.0.0.1:{closed_port()}/x",
            f"{base}{LONG_PATH}.rss",
        ]
        config = local_config(
            tmp_path / "crawl.toml",
            tmp_path / "archive",
            f'[[source]]\nname = "mixed"\nfeeds = {json.dumps(feeds)}\n'
            f'sitemaps = ["{base}/index.xml"]\nallowed_domains = ["127.0.0.1"]\n',
            concurrency=2,
        )
        result = newsarchive("crawl", "--config", config, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    summary = result.summary()
    # two good feeds; 404 feed, refused connection, long-URL feed; the index, its 404 children
    assert (summary["feeds_polled"], summary["feeds_failed"]) == (5, 3)
    assert (summary["sitemaps_polled"], summary["sitemaps_failed"]) == (3, 2)
    assert summary["articles_new"] == 45
    articles = {hit.path: hit for hit in site.hits if hit.path.startswith("/story/")}
    assert sorted(articles) == sorted(f"/story/{n}.html" for n in range(45))
    assert sum(1 for hit in site.hits if hit.path.startswith("/story/")) == 45, "each once"
    referers = {articles[f"/story/{n}.html"].referer for n in range(40)}
    assert referers == {f"{base}/good.xml"}, "Referer: the feed"
    assert {articles[f"/story/{n}.html"].referer for n in range(40, 45)} == {None}
    assert len(records_of(tmp_path / "archive")) == 45
