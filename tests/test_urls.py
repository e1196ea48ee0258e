"""canonical_url dedup keys and the domain checks that keep a source on its own sites."""

from __future__ import annotations

import pytest

from archive.urls import (
    absolute_http_url,
    canonical_url,
    domain_allowed,
    host_of,
    normalise_domain,
    same_site,
    unparsable_url,
    whatwg_url,
)

SAME_ARTICLE = [
    "https://news.example/world/floods",
    "HTTPS://NEWS.EXAMPLE/world/floods",
    "https://news.example:443/world/floods",
    "https://news.example/world/floods#comments",
    "https://news.example/world/floods?utm_source=rss&utm_medium=feed",
    "https://news.example/world/floods?UTM_Campaign=x&fbclid=abc&gclid=1",
    "https://news.example/world/floods?CMP=share_btn_tw&at_medium=RSS&at_campaign=KARANGA",
    "  https://news.example/world/floods\n",
    "https://news.example/world/%66loods",
]


@pytest.mark.parametrize("url", SAME_ARTICLE)
def test_variants_of_one_article_share_a_key(url: str) -> None:
    assert canonical_url(url) == "https://news.example/world/floods"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://news.example", "http://news.example/"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        ("https://news.example:80/a", "https://news.example:80/a"),
        ("https://news.example/a?b=2&a=1&utm_term=x", "https://news.example/a?a=1&b=2"),
        ("https://news.example/a?id=5&id=3", "https://news.example/a?id=3&id=5"),
        ("https://news.example/a b/ü", "https://news.example/a%20b/%C3%BC"),
        ("https://news.example/a%2fb", "https://news.example/a%2Fb"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://[::1]:8080/x#y", "http://[::1]:8080/x"),
        ("https://www.news.example/a/", "https://www.news.example/a/"),
    ],
)
def test_canonicalisation_rules(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        *SAME_ARTICLE,
        "https://bücher.example/straße?q=ü&a=%7E#x",
        "http://news.example:80?b&a=&c=%20",
        "https://news.example/%E2%82%AC/%zz?x=%2B",
        "https://user:pw@news.example:443/a",
        "http://news.example:99999/",
        "not a url",
    ],
)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_host_of() -> None:
    assert host_of("https://WWW.News.Example:8443/a") == "www.news.example"
    assert host_of("http://[::1]:8080/") == "::1"
    assert host_of("https://bücher.example/") == "xn--bcher-kva.example"
    assert host_of("not a url") == ""
    assert host_of("https://News.Example./a") == "news.example"


def test_domain_allowed_takes_subdomains_but_not_lookalikes() -> None:
    allowed = ["bbc.co.uk", "BBC.com."]
    assert domain_allowed("https://www.bbc.co.uk/news/1", allowed)
    assert domain_allowed("https://bbc.com/news/1", allowed)
    assert not domain_allowed("https://notbbc.co.uk/", allowed)
    assert not domain_allowed("https://bbc.co.uk.evil.example/", allowed)
    assert not domain_allowed("https://www.bbc.co.uk/", [])
    assert domain_allowed("https://bücher.example/", ["BÜCHER.example"])
    assert domain_allowed("https://www.bbc.co.uk./news/1", ["bbc.co.uk."])


def test_ip_literals_match_exactly() -> None:
    assert domain_allowed("http://127.0.0.1:8000/a", ["127.0.0.1"])
    assert not domain_allowed("http://1.127.0.0.1/a", ["127.0.0.1"])
    assert not domain_allowed("http://127.0.0.2/a", ["0.0.2"])
    assert domain_allowed("http://[::1]:8000/a", ["::1"])
    assert normalise_domain("[::1]") == normalise_domain("::1") == "::1"


def test_same_site_uses_the_public_suffix_list() -> None:
    assert same_site("https://www.bbc.co.uk/a", "https://bbc.co.uk/b")
    assert same_site("https://edition.cnn.com/a", "https://cnn.com/b")
    assert not same_site("https://edition.news.example/a", "https://news.example/b")
    assert not same_site("https://bbc.co.uk/", "https://other.co.uk/")
    assert not same_site("https://alice.github.io/", "https://bob.github.io/")
    assert same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:9000/b")
    assert not same_site("http://127.0.0.1/", "http://127.0.0.2/")
    assert same_site("http://localhost:8000/", "http://localhost/")


def test_absolute_http_url() -> None:
    assert absolute_http_url(" /a ", "https://news.example/feed") == "https://news.example/a"
    assert absolute_http_url("https://x.example/a") == "https://x.example/a"
    for bad in ["mailto:a@b.example", "ftp://x.example/", "/relative", "http://", "", None, 5]:
        assert absolute_http_url(bad) is None


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("http://news.example/a/ok-space here", "http://news.example/a/ok-space%20here"),
        ("http://news.example/a/cr\r\nlf\t.html", "http://news.example/a/crlf.html"),
        ("\x00 http://news.example/a\x1b[2J \x07", "http://news.example/a%1B[2J"),
        ("HTTPS://Bücher.Example:443/ü?q=a b", "https://xn--bcher-kva.example/%C3%BC?q=a%20b"),
    ],
)
def test_listed_urls_are_serialised_as_browsers_do(candidate: str, expected: str) -> None:
    assert whatwg_url(candidate) == expected
    assert absolute_http_url(candidate) == expected


def test_urls_the_whatwg_parser_rejects_are_unparsable() -> None:
    for bad in ["http://bad host.example/", "http://news.example:99999/", "http://[::1", "/a"]:
        assert whatwg_url(bad) is None
        assert unparsable_url(bad)
    for other in ["mailto:a@b.example", "  ", None, "/a b"]:
        assert not unparsable_url(other, "https://news.example/feed")
