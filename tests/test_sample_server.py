"""The sample news site serves what the end-to-end tests and the demo rely on."""

from __future__ import annotations

import gzip
import http.client
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import pytest

from crawler.sample_server import BUNDLED_ROOT, ArticleTruth, SampleSite

BULK = 40
SLOW = 0.3


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(slow_seconds=SLOW, bulk_articles=BULK) as running:
        yield running


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """GET without following redirects; returns status, headers, raw body."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", target, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


def static_paths(outlet: str) -> list[str]:
    """Every file path a crawler can request on an outlet, from both generations."""
    paths = set()
    for layer in (BUNDLED_ROOT / outlet, BUNDLED_ROOT / "gen2" / outlet):
        paths |= {"/" + p.relative_to(layer).as_posix() for p in layer.rglob("*") if p.is_file()}
    return sorted(paths)


def parse_page(truth: ArticleTruth) -> lxml.html.HtmlElement:
    with urllib.request.urlopen(truth.final_url) as response:
        return lxml.html.document_fromstring(response.read().decode(truth.charset))


def page_paragraphs(truth: ArticleTruth) -> list[str]:
    return [" ".join(p.text_content().split()) for p in parse_page(truth).iter("p")]


def test_every_outlet_has_its_own_loopback_address(site: SampleSite) -> None:
    hosts = [urlsplit(site.base_url(outlet)).hostname for outlet in site.outlets]
    assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    for outlet in site.outlets:
        status, _, body = fetch(site.url(outlet, "/robots.txt"))
        assert status == 200 and b"User-agent: *" in body
    assert b"Disallow: /admin/" in fetch(site.url("daily", "/robots.txt"))[2]
    assert b"Disallow: /private/" in fetch(site.url("gazette", "/robots.txt"))[2]


def test_sources_toml_parses_and_every_listed_feed_is_served(site: SampleSite) -> None:
    sources = tomllib.loads(site.sources_toml())["source"]
    assert [s["name"] for s in sources] == ["daily", "herald", "wire", "gazette", "bulk"]
    for source in sources:
        assert set(source) == {"name", "feeds", "sitemaps", "schedule", "allowed_domains"}
        for url in source["feeds"] + source["sitemaps"]:
            assert fetch(url)[0] == 200
    gazette = sources[3]
    assert gazette["feeds"] == [] and gazette["sitemaps"][0].endswith("/sitemap_index.xml")
    assert len(sources[0]["feeds"]) == 4


def test_no_placeholder_survives_and_cross_links_point_at_the_other_outlet(
    site: SampleSite,
) -> None:
    for outlet in site.OUTLETS:
        for path in static_paths(outlet):
            body = fetch(site.url(outlet, path))[2]
            assert b"{{base:" not in body, path
    feed = fetch(site.url("daily", "/feed.xml"))[2].decode()
    assert site.url("herald", "/news/2024/08/12/winter-energy-tariffs.html") in feed


def test_conditional_get_answers_304_without_a_body(site: SampleSite) -> None:
    url = site.url("daily", "/feed.xml")
    status, headers, body = fetch(url)
    assert status == 200 and headers["ETag"].startswith('"') and headers["Last-Modified"]
    assert fetch(url, If_None_Match=headers["ETag"])[::2] == (304, b"")
    assert fetch(url, If_Modified_Since=headers["Last-Modified"])[::2] == (304, b"")
    assert fetch(url, If_None_Match='"stale"')[::2] == (200, body)
    earlier = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert fetch(url, If_Modified_Since=earlier)[0] == 200


def test_gzip_pages_are_negotiated_with_their_own_etag(site: SampleSite) -> None:
    url = site.edge_cases()["seed"]
    _, plain_headers, plain = fetch(url)
    status, headers, packed = fetch(url, Accept_Encoding="gzip, deflate")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed) == plain and "Content-Encoding" not in plain_headers
    assert headers["ETag"] != plain_headers["ETag"] and headers["Vary"] == "Accept-Encoding"
    assert fetch(url, Accept_Encoding="gzip", If_None_Match=headers["ETag"])[0] == 304


def test_redirect_chain_ends_at_the_article(site: SampleSite) -> None:
    cases = site.edge_cases()
    first = fetch(cases["redirect"])
    assert first[0] == 301 and first[1]["Location"] == site.url("daily", "/r/short-2")
    second = fetch(first[1]["Location"])
    assert second[0] == 302 and second[1]["Location"] == cases["redirect_target"]
    with urllib.request.urlopen(cases["redirect"]) as response:
        assert response.url == cases["redirect_target"]


def test_error_pages(site: SampleSite) -> None:
    cases = site.edge_cases()
    assert fetch(cases["not_found"])[0] == 404
    assert [fetch(cases["server_error"])[0] for _ in range(3)] == [500, 500, 500]
    assert fetch(site.url("daily", "/../manifest.json"))[0] == 404


def test_slow_page_waits_then_serves_an_article(site: SampleSite) -> None:
    started = time.monotonic()
    status, _, body = fetch(site.edge_cases()["slow"])
    assert time.monotonic() - started >= SLOW
    assert status == 200 and b"Harbour festival returns" in body


def test_huge_page_is_three_megabytes_of_valid_html(site: SampleSite) -> None:
    status, headers, body = fetch(site.edge_cases()["huge"])
    assert status == 200 and 2_900_000 < len(body) < 3_200_000
    assert int(headers["Content-Length"]) == len(body)
    assert body.rstrip().endswith(b"</html>")
    assert len(lxml.html.document_fromstring(body).findall(".//p")) > 10_000


def test_charsets_are_declared_where_the_brief_says(site: SampleSite) -> None:
    cases = site.edge_cases()
    _, headers, body = fetch(cases["header_charset"])
    assert headers["Content-Type"] == "text/html; charset=windows-1252"
    assert b"charset" not in body.lower()
    text = body.decode("cp1252")
    assert all(char in text for char in "\u20ac\u2014\u2019\u201c")
    assert body.decode("latin-1") != text
    _, headers, body = fetch(cases["meta_charset"])
    assert headers["Content-Type"] == "text/html"
    assert b'<meta charset="windows-1252">' in body and "\u20ac" in body.decode("cp1252")
    _, headers, body = fetch(cases["shift_jis"])
    assert headers["Content-Type"] == "text/html; charset=shift_jis"
    assert "\u6771\u4eac" in body.decode("shift_jis")


@pytest.mark.parametrize("generation", [1, 2])
def test_truth_matches_the_pages_served(site: SampleSite, generation: int) -> None:
    site.generation = generation
    try:
        for truth in site.truth():
            if generation not in truth.generations or truth.outlet == "bulk":
                continue
            paragraphs = page_paragraphs(truth)
            for paragraph in truth.text.split("\n\n"):
                assert paragraph in paragraphs, (truth.url, paragraph[:60])
            page = " ".join(parse_page(truth).text_content().split())
            for boilerplate in truth.boilerplate:
                assert boilerplate in page and boilerplate not in truth.text, boilerplate
            assert truth.title in page and truth.published.endswith("Z") and truth.authors
    finally:
        site.generation = 1
    urls = {t.url for t in site.truth() if t.outlet != "bulk"}
    assert len(urls) == 18 and site.edge_cases()["robots_disallowed"] not in urls


def test_print_amp_and_syndicated_copies(site: SampleSite) -> None:
    cases = site.edge_cases()
    assert fetch(cases["print"])[2] == fetch(cases["print_original"])[2]
    printed = lxml.html.document_fromstring(fetch(cases["print"])[2])
    assert printed.find(".//link[@rel='canonical']").get("href") == cases["print_original"]
    amp = lxml.html.document_fromstring(fetch(cases["amp"])[2])
    assert amp.find(".//link[@rel='canonical']").get("href") == cases["amp_canonical"]
    by_url = {t.url: t for t in site.truth()}
    assert by_url[cases["amp"]].text == by_url[cases["amp_canonical"]].text
    syndicated, original = by_url[cases["syndicated"]], by_url[cases["syndicated_original"]]
    assert syndicated.syndicated_of == original.url and syndicated.text == original.text
    assert fetch(cases["syndicated"])[2] != fetch(cases["syndicated_original"])[2]


def test_feeds_list_the_edge_cases_and_hostile_feeds_stay_hostile(site: SampleSite) -> None:
    cases = site.edge_cases()
    feed = fetch(site.url("daily", "/feed.xml"))[2].decode()
    for name in ("redirect", "not_found", "server_error", "slow", "huge", "link_local", "print"):
        assert f"<link>{cases[name]}</link>" in feed, name
    assert f"<link>{cases['off_domain']}</link>" in feed
    politics = fetch(site.url("daily", "/feeds/politics.xml"))[2].decode()
    assert cases["tracking"].replace("&", "&amp;") in politics
    with pytest.raises(lxml.etree.XMLSyntaxError):
        lxml.etree.fromstring(fetch(cases["truncated_feed"])[2])
    assert fetch(cases["bomb_feed"])[2].count(b"<!ENTITY") == 10


def test_gazette_publishes_news_sitemaps_only(site: SampleSite) -> None:
    index = fetch(site.url("gazette", "/sitemap_index.xml"))[2].decode()
    assert site.url("gazette", "/sitemaps/more.xml.gz") in index
    news = fetch(site.url("gazette", "/sitemaps/news.xml"))[2].decode()
    assert 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' in news
    assert news.count("<news:publication_date>") == 3
    assert site.edge_cases()["robots_disallowed"] in news
    _, headers, body = fetch(site.url("gazette", "/sitemaps/more.xml.gz"))
    assert headers["Content-Type"] == "application/gzip" and "Content-Encoding" not in headers
    assert b"farmers-market-riverside" in gzip.decompress(body)


def test_generation_two_changes_only_what_it_should(site: SampleSite) -> None:
    cases = site.edge_cases()
    before = {(o, p): fetch(site.url(o, p))[:3:2] for o in site.OUTLETS for p in static_paths(o)}
    site.generation = 2
    try:
        after = {key: fetch(site.url(*key))[:3:2] for key in before}
    finally:
        site.generation = 1
    changed = {site.url(*key) for key in before if before[key] != after[key]}
    assert changed == {
        site.url("daily", "/feed.xml"),
        site.url("herald", "/atom.xml"),
        cases["changed_in_gen2"],
        cases["new_in_gen2_daily"],
        cases["new_in_gen2_herald"],
    }
    assert before[("daily", urlsplit(cases["new_in_gen2_daily"]).path)][0] == 404
    assert before[("herald", urlsplit(cases["new_in_gen2_herald"]).path)][0] == 404
    versions = [t for t in site.truth() if t.url == cases["changed_in_gen2"]]
    assert [t.generations for t in versions] == [(1,), (2,)]
    assert versions[0].text != versions[1].text
    assert fetch(site.url("daily", "/feed.xml"))[0] == 200  # back to generation 1
    with pytest.raises(ValueError):
        site.generation = 3


def test_bulk_outlet_is_deterministic_and_varied(site: SampleSite) -> None:
    feed = fetch(site.url("bulk", "/feed.xml"))[2].decode()
    assert feed.count("<item>") == BULK
    assert fetch(site.url("bulk", f"/a/{BULK + 1}.html"))[0] == 404
    bulk = [t for t in site.truth() if t.outlet == "bulk"]
    assert len(bulk) == BULK and len({t.title for t in bulk}) > BULK // 2
    lengths = [len(t.text.split()) for t in bulk]
    assert min(lengths) >= 300 and max(lengths) <= 1500 and max(lengths) - min(lengths) > 500
    page = fetch(site.url("bulk", "/a/7.html"))[2]
    with SampleSite(bulk_articles=BULK) as other:
        assert fetch(other.url("bulk", "/a/7.html"))[2] == page.replace(
            site.base_url("bulk").encode(), other.base_url("bulk").encode()
        )
    for paragraph in bulk[6].text.split("\n\n"):
        assert paragraph in page_paragraphs(bulk[6])


def test_hits_count_every_request_per_path() -> None:
    path = "/2024/08/13/deep-sea-coral-reef-tasmania.html"
    with SampleSite() as site:
        url = site.url("wire", path)
        fetch(url)
        fetch(url + "?utm_source=rss")
        fetch(url, If_None_Match=fetch(url)[1]["ETag"])
        assert site.hits("wire", path) == 4
        assert site.hits("wire", path + "?utm_source=rss") == 1
        assert site.hits("daily", path) == 0
        assert site.hits("gazette", urlsplit(site.edge_cases()["robots_disallowed"]).path) == 0
