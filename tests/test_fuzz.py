"""Property-based fuzzing of what parses untrusted input: feeds, sitemaps, the XML guard, URLs,
article extraction and the config loader. Each must return its documented result or raise its
documented error, whatever it is given, and never hang.

Examples are derived from a fixed seed (`derandomize`) with no example database, so every run
tries the same inputs and CI time stays bounded: about a minute for the whole file.
"""

from __future__ import annotations

import gzip
import re
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from archive.errors import ConfigError
from archive.urls import (
    absolute_http_url,
    canonical_url,
    domain_allowed,
    host_of,
    same_site,
    unparsable_url,
    whatwg_url,
)
from crawler.config import load_config
from crawler.feeds import Entry, parse_feed
from crawler.sitemaps import parse_sitemap
from crawler.xmlguard import ENTITY_REASON, hostile_xml_reason
from pipelines.article import Article, extract_article

settings.register_profile(
    "newsarchive-fuzz",
    max_examples=200,
    deadline=timedelta(seconds=5),  # one example this slow is a hang, not a loaded machine
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("newsarchive-fuzz")

BASE = "https://news.example/feeds/world.xml"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Text that stresses parsers: controls, markup characters, non-BMP, spaces of every kind.
_NASTY = st.sampled_from(
    ["\x00", "\x1b", "\x07", "\r", "\n", "\t", "\x85", "\x9b", "\u2028", "\u202e", "\ufeff",
     "\U0001f600", "<", ">", "&", "&amp;", "&#27;", "&#0;", "]]>", '"', "'", " ", "%", "%zz",
     "#", "?", "\\", "/", ":", "@", "[", "]", "ß", "İ", "\ud800"]
)  # fmt: skip
TEXT = st.lists(st.one_of(_NASTY, st.text(max_size=8)), max_size=12).map("".join)

_SCHEMES = st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", "javascript", "mailto", ""])
_HOSTS = st.one_of(
    st.sampled_from(
        ["news.example", "NEWS.Example.", "bücher.example", "127.0.0.1", "[::1]", "[::1",
         "xn--bcher-kva.example", "a..b", "", "user:pw@news.example", "0x7f.1", "1.2.3.4.5"]
    ),
    TEXT,
)  # fmt: skip
_PORTS = st.one_of(st.just(""), st.integers(-1, 70_000).map(lambda n: f":{n}"), TEXT)
URLS = st.one_of(
    TEXT,
    st.builds(
        lambda scheme, host, port, path, query, fragment: (
            f"{scheme}://{host}{port}/{path}?{query}#{fragment}"
        ),
        _SCHEMES,
        _HOSTS,
        _PORTS,
        TEXT,
        TEXT,
        TEXT,
    ),
    st.builds(lambda path: "/" + path, TEXT),
)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str, *, quote: bool = False) -> str:
    """`text` escaped for XML, less what XML 1.0 cannot hold: the document stays well-formed
    (unless the example also puts raw text in), so the parsers' clean path gets its share."""
    escaped = escape(_NOT_XML.sub("", text))
    return escaped.replace('"', "&quot;") if quote else escaped


def _utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate becomes the bytes no decoder accepts."""
    return text.encode("utf-8", "surrogatepass")


def _check_listed_url(url: str) -> None:
    """What the spider relies on for every URL a listing gives: http(s), absolute, serialised
    once and for all (no white space, no control character)."""
    assert url.startswith(("http://", "https://"))
    assert whatwg_url(url) == url
    assert not re.search(r"\s", url) and not CONTROL.search(url)
    assert host_of(url)


def _check_entry(entry: Entry) -> None:
    _check_listed_url(entry.url)
    assert entry.title is None or (entry.title and not CONTROL.search(entry.title))


def _check_error(error: str | None) -> None:
    assert error is None or (error and "\n" not in error)


# URLs


@FUZZ
@given(URLS, st.one_of(st.just(""), st.just(BASE), URLS))
@example("http://NEWS.Example./", "")  # the trailing dot once made a URL's own host off-site
def test_url_functions_never_raise_and_give_stable_keys(url: str, base: str) -> None:
    key = canonical_url(url)
    assert canonical_url(key) == key, "canonical_url is idempotent"
    serialised = whatwg_url(url, base)
    if serialised is not None:
        assert whatwg_url(serialised) == serialised
        assert not re.search(r"[\s\x00-\x1f\x7f]", serialised)
    absolute = absolute_http_url(url, base)
    event("url: " + ("http(s)" if absolute else "unparsable" if serialised is None else "other"))
    if absolute is not None:
        _check_listed_url(absolute)
        assert canonical_url(canonical_url(absolute)) == canonical_url(absolute)
        assert domain_allowed(absolute, [host_of(absolute)])
    assert unparsable_url(url, base) == bool(url.strip() and serialised is None)
    domain_allowed(url, [base, "news.example"])
    same_site(url, base)


# feeds and sitemaps

_FEED_ITEM = st.builds(
    lambda title, link, date, raw: (
        f"<item><title>{title if raw else _xml(title)}</title>"
        f"<link>{link if raw else _xml(link)}</link><guid>{_xml(link)}</guid>"
        f"<pubDate>{_xml(date)}</pubDate></item>"
    ),
    TEXT,
    URLS,
    st.one_of(TEXT, st.just("Tue, 13 Aug 2024 09:00:00 GMT")),
    st.booleans(),
)
_ATOM_ENTRY = st.builds(
    lambda title, link, kind: (
        f'<entry><title type="{kind}">{_xml(title)}</title>'
        f'<link rel="alternate" href="{_xml(link, quote=True)}"/>'
        f"<id>{_xml(link)}</id><updated>2024-08-13T09:00:00Z</updated></entry>"
    ),
    TEXT,
    URLS,
    st.sampled_from(["text", "html", "xhtml"]),
)
FEEDS = st.one_of(
    st.binary(max_size=400),
    st.lists(_FEED_ITEM, max_size=4).map(
        lambda items: _utf8(f'<rss version="2.0"><channel>{"".join(items)}</channel></rss>')
    ),
    st.lists(_ATOM_ENTRY, max_size=4).map(
        lambda entries: _utf8(
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/x/">{"".join(entries)}</feed>'
        )
    ),
    st.builds(lambda prefix, body: prefix + body, st.binary(max_size=40), st.binary(max_size=200)),
)
_CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/rss+xml", "text/xml; charset=utf-16", "text/html; charset=bogus",
         "application/atom+xml; charset=iso-8859-1"]
    ),
    TEXT,
)  # fmt: skip


@FUZZ
@given(FEEDS, _CONTENT_TYPES, st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_parse_feed_never_raises(body: bytes, content_type: str | None, encoding: str) -> None:
    if encoding != "utf-8":  # the same markup, in another encoding it does not declare
        body = body.decode("utf-8", "replace").encode(encoding, "replace")
    result = parse_feed(body, BASE, content_type)
    event(
        "feed: " + ("entries" if result.entries else "none") + (", error" if result.error else "")
    )
    for entry in result.entries:
        _check_entry(entry)
    assert len({entry.url for entry in result.entries}) == len(result.entries)
    assert all(unparsable_url(link, BASE) for link in result.rejected)
    _check_error(result.error)


_LOCATIONS = st.lists(st.tuples(URLS, st.booleans(), TEXT), max_size=4)


def _urlset(locations: list[tuple[str, bool, str]]) -> bytes:
    items = "".join(
        f"<url><loc>{loc if raw else _xml(loc)}</loc><lastmod>{_xml(date)}</lastmod>"
        f"<news:news><news:title>{_xml(date)}</news:title>"
        f"<news:publication_date>{_xml(date)}</news:publication_date></news:news></url>"
        for loc, raw, date in locations
    )
    return _utf8(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{items}</urlset>'
    )


def _index(locations: list[tuple[str, bool, str]]) -> bytes:
    items = "".join(f"<sitemap><loc>{_xml(loc)}</loc></sitemap>" for loc, _, _ in locations)
    return _utf8(f"<sitemapindex>{items}</sitemapindex>")


SITEMAPS = st.one_of(
    st.binary(max_size=400),
    _LOCATIONS.map(_urlset),
    _LOCATIONS.map(_index),
    st.binary(max_size=200).map(lambda body: b"\x1f\x8b" + body),
)


@FUZZ
@given(SITEMAPS, st.booleans(), st.integers(0, 2_000))
def test_parse_sitemap_never_raises(body: bytes, gzipped: bool, max_bytes: int) -> None:
    if gzipped:
        body = gzip.compress(body)
    result = parse_sitemap(body, BASE, max_bytes=max_bytes)
    event("sitemap: " + ("index" if result.index else "urlset" if result.entries else "nothing"))
    for entry in result.entries:
        _check_entry(entry)
    for child in result.sitemaps:
        _check_listed_url(child)
    assert not (result.entries and result.sitemaps)
    assert all(unparsable_url(loc, BASE) for loc in result.rejected)
    _check_error(result.error)


_PROLOG_PARTS = st.lists(
    st.sampled_from(
        ['<?xml version="1.0"?>', "<!-- [<!DOCTYPE> --> ", "<?pi <!DOCTYPE x?>", "\n", " x ",
         "<!---->", "<", "<!", "<?x ]> ?>"]
    ),
    max_size=5,
).map("".join)  # fmt: skip
_DOCTYPES = st.sampled_from(
    ['<!DOCTYPE r [<!ENTITY a "b">]>', "<!DOCTYPE r ['x]' <!ENTITY a SYSTEM 'file:///etc/passwd'>]>",
     '<!DOCTYPE r [<!-- ] --><!ENTITY % p "x">]>', '<!DOCTYPE r [ <?x ]?> <!ENTITY a "&#60;">]>']
)  # fmt: skip


@FUZZ
@given(_PROLOG_PARTS, _DOCTYPES, st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"]))
def test_xml_guard_refuses_entities_behind_any_prolog(
    prolog: str, doctype: str, encoding: str
) -> None:
    body = f"{prolog}{doctype}<r>&a;</r>".encode(encoding)
    if "<r" not in prolog and not re.search(r"<[A-Za-z_:]", prolog):
        assert hostile_xml_reason(body) == ENTITY_REASON
    assert parse_feed(body, BASE).entries == ()
    assert parse_sitemap(body, BASE).entries == ()


@FUZZ
@given(st.binary(max_size=600))
def test_xml_guard_never_raises(body: bytes) -> None:
    assert hostile_xml_reason(body) in (None, ENTITY_REASON)


# article extraction

_TAGS = st.sampled_from(
    ["p", "div", "article", "h1", "title", "script", "style", "table", "li", "br", "meta",
     "a", "svg", "noscript", "template", "iframe", "main", "header", "footer", "figure"]
)  # fmt: skip
_ATTRIBUTES = st.lists(
    st.tuples(
        st.sampled_from(["class", "id", "href", "name", "content", "property", "lang", "rel"]),
        TEXT,
    ),
    max_size=3,
).map(lambda pairs: "".join(f' {name}="{escape(value)}"' for name, value in pairs))


@st.composite
def _html(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        if depth < 4 and draw(st.booleans()):
            tag = draw(_TAGS)
            inner = draw(_html(depth + 1))
            closing = "" if draw(st.integers(0, 5)) == 0 else f"</{tag}>"  # broken markup too
            parts.append(f"<{tag}{draw(_ATTRIBUTES)}>{inner}{closing}")
        else:
            parts.append(draw(TEXT))
    return "".join(parts)


PAGES = st.one_of(
    _html(),
    st.builds(
        lambda head, body: f"<html><head>{head}</head><body>{body}</body></html>", _html(), _html()
    ),
    st.binary(max_size=300),
)


@FUZZ
@given(PAGES, _CONTENT_TYPES, st.sampled_from(["utf-8", "utf-16", "cp1252"]))
@example("<svg><p><p>", None, "utf-8")  # htmldate once tried to drop the tree's root
def test_extract_article_never_raises(
    page: str | bytes, content_type: str | None, enc: str
) -> None:
    if isinstance(page, str):
        page = page.encode(enc, "replace")
    article = extract_article(page, "https://news.example/world/a.html", content_type)
    assert isinstance(article, Article)
    event("article: " + ("text" if article.text else "no text"))
    assert article.text is None or article.text.strip()
    for value in (article.title, article.description, article.text, *article.authors):
        assert value is None or not CONTROL.search(value)
    for url in (article.image, article.canonical_url):
        assert url is None or whatwg_url(url) == url


# config


_KEYS = st.sampled_from(
    ["dir", "warc_max_bytes", "user_agent", "obey_robots", "concurrency", "delay", "timeout",
     "max_page_bytes", "allow_private_addresses", "recheck_window", "timezone",
     "max_parallel_runs", "stop_timeout", "name", "feeds", "sitemaps", "schedule",
     "allowed_domains", "unknown", "dir.x"]
)  # fmt: skip


def _toml_string(text: str) -> str:
    escaped = "".join(
        c if c.isprintable() and c not in '"\\' and c.isascii() else f"\\U{ord(c):08X}"
        for c in text
        if not 0xD800 <= ord(c) <= 0xDFFF
    )
    return f'"{escaped}"'


_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=True).map(
        lambda x: "nan" if x != x else ("inf" if x == float("inf") else repr(x))
    ),
    st.booleans().map(lambda b: "true" if b else "false"),
    TEXT.map(_toml_string),
    URLS.map(_toml_string),
    st.sampled_from(
        ['"48h"', '"0s"', '"-1d"', '"9999999999999d"', '"*/61 * * * *"', '"0 0 31 2 *"',
         '"Europe/Berlin"', '"Mars/Base"', '"../x"', "1979-05-27T07:32:00Z", '"https://ok.example/f"']
    ),
)  # fmt: skip
_VALUES = st.one_of(
    _SCALARS, st.lists(_SCALARS, max_size=3).map(lambda items: f"[{', '.join(items)}]")
)
_TABLE = st.lists(st.tuples(_KEYS, _VALUES), max_size=5).map(
    lambda pairs: "".join(f"{key} = {value}\n" for key, value in pairs)
)
_VALID_TABLES = {
    "archive": {"dir": '"data"', "warc_max_bytes": "1_000_000"},
    "crawl": {"delay": "0.5", "recheck_window": '"48h"', "concurrency": "4"},
    "schedule": {"timezone": '"UTC"', "stop_timeout": '"60s"'},
    "[source]": {
        "name": '"example"',
        "feeds": '["https://news.example/feed.xml"]',
        "schedule": '"*/30 * * * *"',
    },
}


def _valid_but(table: str, key: str, value: str) -> str:
    """A valid config with `key` of `table` set to `value`: each check gets its turn."""
    parts = []
    for name, pairs in _VALID_TABLES.items():
        pairs = {**pairs, key: value} if name == table else pairs
        parts.append(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in pairs.items()))
    return "".join(parts)


CONFIGS = st.one_of(
    st.builds(_valid_but, st.sampled_from(list(_VALID_TABLES)), _KEYS, _VALUES),
    st.builds(
        lambda archive, crawl, schedule, sources: (
            f"[archive]\n{archive}[crawl]\n{crawl}[schedule]\n{schedule}"
            + "".join(f"[[source]]\n{source}" for source in sources)
        ),
        _TABLE,
        _TABLE,
        _TABLE,
        st.lists(_TABLE, max_size=3),
    ),
    TEXT,
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-config")


@FUZZ
@given(CONFIGS, st.booleans())
@example("a = " + "[" * 400 + "]" * 400, False)  # tomllib once overflowed the stack
def test_load_config_gives_a_config_or_one_line_config_error(
    config_dir: Path, text: str, as_bytes: bool
) -> None:
    path = config_dir / "sources.toml"
    if as_bytes:
        path.write_bytes(_utf8(text))
    else:
        path.write_text(text, encoding="utf-8", errors="replace")
    try:
        config = load_config(path)
    except ConfigError as exc:
        event("config: ConfigError")
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message
        assert message.startswith(str(path))
        return
    event("config: loaded")
    for source in config.sources:
        for url in (*source.feeds, *source.sitemaps):
            _check_listed_url(url)
