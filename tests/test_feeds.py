"""parse_feed and the hostile-XML guard on realistic feeds, broken feeds and attacks."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from crawler.feeds import Entry, parse_feed
from crawler.xmlguard import hostile_xml_reason

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
FEED_URL = "https://news.example/world/rss.xml"


def feed(name: str, content_type: str | None = "application/rss+xml") -> tuple[Entry, ...]:
    result = parse_feed((FIXTURES / name).read_bytes(), FEED_URL, content_type)
    assert result.error is None
    return result.entries


def test_rss091_with_netscape_doctype() -> None:
    assert feed("rss091.xml") == (
        Entry("https://gazette.example/2024/ferry-timetable", "Ferry timetable changes for winter"),
        Entry("https://gazette.example/2024/lifeboat-crew", "Lifeboat crew honoured & thanked"),
    )


def test_rss10_rdf_dates_become_utc() -> None:
    assert feed("rss10.rdf", "application/rdf+xml") == (
        Entry(
            "https://rdf.example/world/elections-1",
            "Polls close in national election",
            "2024-08-13T07:00:00Z",
        ),
        Entry(
            "https://rdf.example/science/comet-2",
            "Comet visible to the naked eye",
            "2024-08-12T21:30:00Z",
        ),
    )


def test_rss20_links_guids_relative_urls_and_duplicates() -> None:
    entries = feed("rss20.xml", "application/rss+xml; charset=utf-8")
    assert entries == (
        Entry(
            "https://news.example/world/2024/aug/13/floods?utm_source=rss&utm_medium=feed",
            "Floods force thousands from their homes",
            "2024-08-13T07:00:00Z",
        ),
        # A relative <link> resolves against the feed URL.
        Entry(
            "https://news.example/business/2024/aug/13/rates",
            "Central bank holds rates",
            "2024-08-13T08:30:00Z",
        ),
        # A permalink guid stands in for a missing <link>; a urn: guid does not.
        Entry("https://news.example/world/2024/aug/13/guid-only", "Guid-only story"),
    )


def test_atom10_alternate_link_xml_base_and_html_title() -> None:
    assert feed("atom10.xml", "application/atom+xml") == (
        Entry(
            "https://atom.example/blog/2024/08/budget-passes",
            "Budget passes & markets rally",
            "2024-08-13T11:15:00Z",
        ),
        Entry(
            "https://elsewhere.example/stories/updated-only",
            "Only updated, no published",
            "2024-08-12T23:59:59Z",
        ),
    )


def test_atom03() -> None:
    assert feed("atom03.xml", "application/atom+xml") == (
        Entry(
            "https://old-atom.example/2024/harvest",
            "Harvest festival returns",
            "2024-08-13T06:00:00Z",
        ),
    )


@pytest.mark.parametrize("content_type", ["text/xml", "application/rss+xml", None])
def test_windows_1252_feed_decodes(content_type: str | None) -> None:
    (entry,) = feed("cp1252.xml", content_type)
    assert entry.title == "\u201cLe march\u00e9\u201d rouvre \u2013 \u00e0 l\u2019\u00e9t\u00e9"


def test_links_are_read_as_browsers_read_them_and_unparsable_ones_rejected() -> None:
    items = [
        "http://news.example/a/ok-space here",
        "/b/cr&#13;\nlf.html",
        "http://bad host.example/x",
        "mailto:desk@news.example",
    ]
    body = "".join(f"<item><link>{link}</link></item>" for link in items)
    result = parse_feed(f'<rss version="2.0"><channel>{body}</channel></rss>'.encode(), FEED_URL)
    assert result.error is None
    assert [entry.url for entry in result.entries] == [
        "http://news.example/a/ok-space%20here",
        "https://news.example/b/crlf.html",
    ]
    assert result.rejected == ("http://bad host.example/x",)


def test_truncated_feed_reports_error_and_keeps_recovered_entries() -> None:
    body = (FIXTURES / "rss20.xml").read_bytes()
    result = parse_feed(body[: body.index(b"<title>Guid-only")], FEED_URL)
    assert result.error is not None and result.error.startswith("malformed XML: ")
    assert "\n" not in result.error
    assert [entry.url for entry in result.entries] == [
        "https://news.example/world/2024/aug/13/floods?utm_source=rss&utm_medium=feed",
        "https://news.example/business/2024/aug/13/rates",
    ]


def test_a_web_page_given_as_a_feed_points_to_discover() -> None:
    html = (FIXTURES / "not-a-feed.html").read_bytes()
    for content_type in ("text/html; charset=utf-8", None, "application/xml"):
        result = parse_feed(html, FEED_URL, content_type)
        assert result.entries == ()
        assert result.error == "this is a web page, not a feed; try `newsarchive discover` on it"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (b"   \n", "application/rss+xml"),
        (b"\x00\xff\xfe garbage \x89PNG", "image/png"),
    ],
    ids=["empty", "blank", "binary"],
)
def test_not_a_feed(body: bytes, content_type: str | None) -> None:
    assert parse_feed(body, FEED_URL, content_type) == parse_feed(b"", FEED_URL)
    assert parse_feed(body, FEED_URL, content_type).error == "not a feed"


@pytest.mark.parametrize("body", [b"/etc/passwd", b"http://127.0.0.1:9/feed.xml", b"file:///etc"])
def test_body_that_looks_like_a_path_or_url_is_never_opened(body: bytes) -> None:
    result = parse_feed(body, FEED_URL)
    assert result.entries == () and result.error == "not a feed"


def test_billion_laughs_is_refused_fast_without_expansion() -> None:
    body = (FIXTURES / "billion-laughs.xml").read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    result = parse_feed(body, FEED_URL)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.entries == ()
    assert result.error == "declares XML entities (refused)"
    assert elapsed < 0.1
    assert peak < 1_000_000


def test_external_entity_is_refused_and_no_file_content_leaks() -> None:
    result = parse_feed((FIXTURES / "xxe.xml").read_bytes(), FEED_URL)
    assert result == parse_feed((FIXTURES / "billion-laughs.xml").read_bytes(), FEED_URL)
    assert "root:" not in repr(result)


@pytest.mark.parametrize(
    "body",
    [
        b'<!-- <rss> --><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss/>',
        b'<!DOCTYPE rss [<!ATTLIST rss a CDATA "]>"><!ENTITY x "y">]><rss/>',
        b'<!DOCTYPE rss [<?pi \'?><!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd">]><rss/>',
        b'junk before <!DOCTYPE rss [<!ENTITY x "y">]><rss/>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY x "y">]><r/>'.encode(
            "utf-16"
        ),
    ],
    ids=["comment", "quoted-bracket", "pi-quote", "junk", "utf-16"],
)
def test_guard_sees_through_prolog_tricks(body: bytes) -> None:
    assert hostile_xml_reason(body) == "declares XML entities (refused)"


def test_guard_accepts_plain_documents_and_stops_at_the_root() -> None:
    huge = b'<?xml version="1.0"?><rss>' + b"<!ENTITY not-in-prolog>" * 2_000_000 + b"</rss>"
    started = time.perf_counter()
    assert hostile_xml_reason(huge) is None
    assert time.perf_counter() - started < 0.05
    assert hostile_xml_reason((FIXTURES / "rss091.xml").read_bytes()) is None
    assert hostile_xml_reason(b"") is None
