"""`newsarchive discover URL`: an outlet's feeds and sitemaps found, as a ready `[[source]]`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from support import LocalSite, local_config, newsarchive, serve

from crawler.config import load_config
from crawler.sample_server import SampleSite
from crawler.summary import EXIT_UNAVAILABLE

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
WEB_PAGE = "this is a web page, not a feed; try `newsarchive discover` on it"


ANY_SOURCE = '[[source]]\nname = "x"\nfeeds = ["http://127.0.0.1/feed.xml"]\n'


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A config whose [crawl] allows the sample site's loopback addresses."""
    return local_config(tmp_path / "crawl.toml", tmp_path / "archive", ANY_SOURCE)


def _source(stdout: str) -> dict[str, Any]:
    (source,) = tomllib.loads(stdout)["source"]
    result: dict[str, Any] = source
    return result


def test_home_page_feed_links_become_a_source_the_config_accepts(
    site: SampleSite, config: Path, tmp_path: Path
) -> None:
    found = newsarchive("discover", site.url("daily", "/"), "--config", config)
    assert found.returncode == 0, found.stderr
    source = _source(found.stdout)
    assert source["feeds"] == [
        site.url("daily", "/feed.xml"),
        site.url("daily", "/feeds/politics.xml"),
    ]
    assert source["sitemaps"] == []
    assert source["allowed_domains"] == ["127.0.0.1"]
    # The feeds also list the herald's articles, on another host: said, not guessed into the table.
    assert "# articles also on 127.0.0.2: add to allowed_domains" in found.stdout
    assert "169.254.169.254" not in found.stdout, "never reachable: not proposed"
    ready = tmp_path / "ready.toml"
    ready.write_text(found.stdout, encoding="utf-8")
    (loaded,) = load_config(ready).sources
    assert loaded.feeds == tuple(source["feeds"])


def test_robots_sitemaps_and_common_feed_paths(site: SampleSite, config: Path) -> None:
    gazette = newsarchive("discover", site.url("gazette", "/"), "--config", config)
    assert gazette.returncode == 0, gazette.stderr
    assert _source(gazette.stdout)["sitemaps"] == [site.url("gazette", "/sitemap_index.xml")]
    assert "robots.txt Sitemap; index of 2 sitemaps" in gazette.stdout
    herald = newsarchive("discover", site.url("herald", "/"), "--config", config)
    assert herald.returncode == 0, herald.stderr
    assert _source(herald.stdout)["feeds"] == [site.url("herald", "/atom.xml")]


def test_private_addresses_refused_unless_allowed(site: SampleSite) -> None:
    refused = newsarchive("discover", site.url("daily", "/"))
    assert refused.returncode == 1
    assert "refused: loopback address 127.0.0.1" in refused.stdout
    assert "[[source]]" not in refused.stdout
    assert site.url("daily", "/") in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_hostile_and_oversized_feeds_are_refused_not_proposed(tmp_path: Path) -> None:
    with serve(LocalSite()) as local:
        local.pages["/"] = (
            "text/html",
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/bomb.xml">'
            b'<link rel="alternate" type="application/atom+xml" href="/big.xml"></head></html>',
        )
        local.pages["/bomb.xml"] = (
            "application/rss+xml",
            (FIXTURES / "billion-laughs.xml").read_bytes(),
        )
        local.pages["/big.xml"] = ("application/atom+xml", b"<feed>" + b" " * 3000 + b"</feed>")
        local.pages["/rss.xml"] = ("application/rss+xml", (FIXTURES / "rss20.xml").read_bytes())
        config = tmp_path / "small.toml"
        config.write_text(
            f"[crawl]\nallow_private_addresses = true\nmax_page_bytes = 2000\n\n{ANY_SOURCE}",
            encoding="utf-8",
        )
        found = newsarchive("discover", local.base_url + "/", "--config", config)
        asked = {hit.path for hit in local.hits}
    assert found.returncode == 0, found.stderr
    assert _source(found.stdout)["feeds"] == [local.base_url + "/rss.xml"]
    assert "/bomb.xml (rel=alternate): declares XML entities (refused)" in found.stdout
    assert "/big.xml (rel=alternate): over max_page_bytes (2,000)" in found.stdout
    assert "/robots.txt" in asked


def test_crawl_of_a_web_page_given_as_a_feed_points_to_discover(
    site: SampleSite, tmp_path: Path
) -> None:
    config = local_config(
        tmp_path / "crawl.toml",
        tmp_path / "archive",
        f'[[source]]\nname = "daily"\nfeeds = ["{site.url("daily", "/")}"]\n',
    )
    crawl = newsarchive("crawl", "--config", config, "--json")
    assert crawl.returncode == EXIT_UNAVAILABLE, crawl.stderr  # its only feed failed
    assert crawl.summary()["feeds_failed"] == 1
    assert WEB_PAGE in crawl.stderr
