"""parse_sitemap on news sitemaps, indexes, gzip, gzip bombs and hostile XML."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from pathlib import Path

import pytest
from support import LocalSite, local_config, newsarchive, serve, sitemap_index

from crawler.feeds import Entry
from crawler.sitemaps import SitemapResult, parse_sitemap

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SITEMAP_URL = "https://news.example/sitemaps/news.xml"
NEWS_ENTRIES = (
    Entry(
        "https://news.example/world/2024/aug/13/floods",
        "Floods force thousands from their homes",
        "2024-08-13T07:00:00Z",
    ),
    Entry("https://news.example/business/2024/aug/13/rates", None, "2024-08-13T00:00:00Z"),
    Entry(
        "https://news.example/science/2024/aug/12/comet",
        "Comet visible to the naked eye",
        "2024-08-12T21:30:00Z",
    ),
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_news_urlset_gives_titles_and_utc_dates() -> None:
    # news:publication_date wins over lastmod; lastmod serves when there is no news block;
    # a mailto: location is dropped.
    assert parse_sitemap(fixture("news-sitemap.xml"), SITEMAP_URL) == SitemapResult(
        sitemaps=(), entries=NEWS_ENTRIES
    )


def test_index_lists_child_sitemaps_resolved_and_deduplicated() -> None:
    assert parse_sitemap(fixture("sitemap-index.xml"), SITEMAP_URL) == SitemapResult(
        sitemaps=(
            "https://news.example/sitemaps/news-1.xml",
            "https://news.example/sitemaps/news-2.xml.gz",
        ),
        entries=(),
        index=True,
    )


def test_gzip_body_is_inflated() -> None:
    body = gzip.compress(fixture("news-sitemap.xml"))
    assert parse_sitemap(body, SITEMAP_URL + ".gz").entries == NEWS_ENTRIES


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 100_000_000 + b"</urlset>", compresslevel=9)
    assert len(bomb) < 200_000
    tracemalloc.start()
    started = time.perf_counter()
    result = parse_sitemap(bomb, SITEMAP_URL, max_bytes=1_000_000)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.error == "sitemap larger than 1000000 bytes"
    assert elapsed < 1
    assert peak < 20_000_000


def test_truncated_gzip_and_garbage_gzip_are_errors_not_exceptions() -> None:
    body = gzip.compress(fixture("news-sitemap.xml"))
    assert parse_sitemap(body[:200], SITEMAP_URL).error == "truncated gzip data"
    garbage = parse_sitemap(b"\x1f\x8b not gzip", SITEMAP_URL).error
    assert garbage is not None and garbage.startswith("bad gzip data")


def test_truncated_sitemap_reports_error_and_keeps_recovered_entries() -> None:
    body = fixture("news-sitemap.xml")
    result = parse_sitemap(body[: body.index(b"<loc>https://news.example/science")], SITEMAP_URL)
    assert result.error is not None and result.error.startswith("malformed XML: ")
    assert result.entries[:2] == NEWS_ENTRIES[:2]


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>Not here</body></html>", b'{"urls": []}', b"<rss/>"]
)
def test_not_a_sitemap(body: bytes) -> None:
    result = parse_sitemap(body, SITEMAP_URL)
    assert result.entries == () and result.sitemaps == ()
    assert result.error is not None


@pytest.mark.parametrize("name", ["billion-laughs.xml", "xxe.xml"])
def test_hostile_sitemap_is_refused_plain_and_gzipped(name: str) -> None:
    hostile = fixture(name).replace(b"<rss", b"<urlset").replace(b"</rss>", b"</urlset>")
    for body in (hostile, gzip.compress(hostile)):
        result = parse_sitemap(body, SITEMAP_URL)
        assert result == SitemapResult((), (), "declares XML entities (refused)")


def test_sitemap_indexes_listing_themselves_or_each_other_are_fetched_once(tmp_path: Path) -> None:
    # A server that never answers 304 and indexes that list themselves and each other: the
    # crawl used to fetch them round and round, until killed, filling the WARC.
    with serve(LocalSite(validators=False)) as site:
        site.pages["/a.xml"] = sitemap_index(site.base_url, "/a.xml", "/b.xml")
        site.pages["/b.xml"] = sitemap_index(site.base_url, "/a.xml", "/b.xml")
        config = local_config(
            tmp_path / "crawl.toml",
            tmp_path / "archive",
            f'[[source]]\nname = "loop"\nsitemaps = ["{site.base_url}/a.xml"]\n'
            'allowed_domains = ["127.0.0.1"]\n',
        )
        result = newsarchive("crawl", "--config", config, "--json", timeout=30)
    assert result.returncode == 0, result.stderr
    assert site.count("/a.xml") == site.count("/b.xml") == 1
    assert result.summary()["sitemaps_polled"] == 2
    assert result.summary()["feeds_polled"] == 0


def test_an_unreadable_location_is_dropped_and_the_rest_kept() -> None:
    # lxml raises on the text of a character reference to a lone surrogate.
    body = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://news.example/a</loc></url>"
        b"<url><loc>https://news.example/&#xD800;</loc></url>"
        b"<url><loc>https://news.example/b</loc></url></urlset>"
    )
    result = parse_sitemap(body, SITEMAP_URL)
    assert [entry.url for entry in result.entries] == [
        "https://news.example/a",
        "https://news.example/b",
    ]


def test_locations_are_read_as_browsers_read_them_and_unparsable_ones_rejected() -> None:
    urlset = (
        b"<urlset><url><loc>/world/sp ace.html</loc></url><url><loc>http://bad host/</loc></url>"
        b"<url><loc>https://news.example/a\r\nb.html</loc></url></urlset>"
    )
    assert parse_sitemap(urlset, SITEMAP_URL) == SitemapResult(
        sitemaps=(),
        entries=(
            Entry("https://news.example/world/sp%20ace.html"),
            Entry("https://news.example/ab.html"),
        ),
        rejected=("http://bad host/",),
    )
    index = b"<sitemapindex><sitemap><loc>a b.xml</loc></sitemap><sitemap><loc>http://x:0x/</loc>"
    assert parse_sitemap(index + b"</sitemap></sitemapindex>", SITEMAP_URL) == SitemapResult(
        sitemaps=("https://news.example/sitemaps/a%20b.xml",),
        entries=(),
        rejected=("http://x:0x/",),
        index=True,
    )
