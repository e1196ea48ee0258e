"""Article metadata from a parsed page: title, authors, dates, language, description, tags, image.

Read in the order publishers make them reliable: schema.org JSON-LD, then Open Graph / article
meta tags, then plain HTML (<title>, <h1>, the byline, <html lang>, <time>). Dates fall back to
htmldate only when the page has no structured date, which keeps the common case fast. The meta
names that may carry an author or a title are trafilatura's lists; `pipelines.headline` chooses
among the forms of the headline, `pipelines.byline` reads the authors.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import py3langid
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import METANAME_AUTHOR, METANAME_TITLE

from archive.urls import absolute_http_url
from pipelines import byline, headline
from pipelines.byline import clean_authors as clean_authors
from pipelines.extracted import Metadata

_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report|NewsArticle|WebPage)$")
# One pass over the page collects every element the readers below look at, in page order: these
# tags, each with the attributes it must carry.
_MARKUP = {
    "meta": ("content",),
    "script": ("type",),
    "link": ("rel", "href"),
    "time": ("datetime",),
    "h1": (),
    "title": (),
}
_JSON_LD = "application/ld+json"
# XHTML-era pages wrap the script's JSON in a CDATA section or an HTML comment, itself often
# hidden in a script comment ("//<![CDATA[", "/* <![CDATA[ */").
_SCRIPT_WRAPPER = re.compile(
    r"^\s*(?://|/\*)?\s*(?:<!\[CDATA\[|<!--)(?:\s*\*/)?"
    r"|(?://|/\*)?\s*(?:\]\]>|-->)(?:\s*\*/)?\s*$"
)
# Author meta names, Dublin Core's creator before the generic "author" (which CMSs fill with the
# site's owner), then the rest of trafilatura's list; "creator" alone names the page's software.
_AUTHOR_META: tuple[str, ...] = ("dc:creator", "dc.creator", "dcterms.creator", "author")
_AUTHOR_META += tuple(sorted(METANAME_AUTHOR - {*_AUTHOR_META, "article:author", "creator"}))
# Headline meta names besides Open Graph's and Twitter's (trafilatura's list): some hold the site's
# name, so they count only where another form of the page confirms them.
_TITLE_META = tuple(sorted(METANAME_TITLE - {"twitter:title"}))
_LANG = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)*$", re.IGNORECASE)
# Meta names that carry the site's name.
_SITE_META = ("og:site_name", "application-name", "apple-mobile-web-app-title")


@dataclass(frozen=True)
class PageMetadata(Metadata):
    """Metadata read from the page's markup; `language` is None when the page declares none.

    `headlines` holds every form of the headline (JSON-LD, Open Graph, <h1>, <title>) so the text
    filters can recognise it; `title` is the best of them.
    """

    headlines: tuple[str, ...] = ()

    def detect_language(self, text: str | None) -> str | None:
        """ISO 639-1 code detected from the article text (py3langid), None for too little text.

        The first thousand characters decide: enough for a sure guess, and detection time grows
        with the length of the text.
        """
        if not text or len(text) < 40:
            return None
        code, _ = py3langid.classify(text[:1000])
        return str(code)


def _clean(value: Any) -> str | None:
    """A string's words one space apart, its HTML entities decoded: JSON-LD is not HTML-decoded
    by the parser, and CMSs escape meta contents twice ("&amp;#8217;")."""
    if not isinstance(value, str):
        return None
    text = " ".join(html.unescape(value).split())
    return text or None


def _collect(tree: HtmlElement) -> dict[str, list[HtmlElement]]:
    """The page's meta, script, link, time, h1 and title elements by tag, in page order."""
    found: dict[str, list[HtmlElement]] = {}
    for elem in tree.iter(*_MARKUP):
        if all(elem.get(name) is not None for name in _MARKUP[elem.tag]):
            found.setdefault(elem.tag, []).append(elem)
    return found


def _json_ld_objects(markup: dict[str, list[HtmlElement]]) -> Iterator[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD blocks, @graph members included."""
    for script in markup.get("script", []):
        if script.get("type") != _JSON_LD:
            continue
        try:
            data = json.loads(_SCRIPT_WRAPPER.sub("", script.text or ""), strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                if "@graph" in item:
                    stack.append(item["@graph"])


def _article_object(markup: dict[str, list[HtmlElement]]) -> dict[str, Any]:
    """The JSON-LD object describing the article (schema.org Article types), or {}."""
    for obj in _json_ld_objects(markup):
        types = obj.get("@type")
        names = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and _ARTICLE_TYPES.search(t) for t in names) and (
            "headline" in obj or "datePublished" in obj
        ):
            return obj
    return {}


def _meta_tags(markup: dict[str, list[HtmlElement]]) -> dict[str, list[str]]:
    """Meta tag contents by lower-cased property/name/itemprop/http-equiv, in page order.

    A property may list several names separated by spaces (RDFa): the content counts for each.
    """
    tags: dict[str, list[str]] = {}
    for meta in markup.get("meta", []):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        key = key or meta.get("http-equiv")
        content = _clean(meta.get("content"))
        if key and content:
            for name in key.lower().split():
                tags.setdefault(name, []).append(content)
    return tags


def _first(meta: dict[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        if meta.get(key):
            return meta[key][0]
    return None


def _names(value: Any) -> list[str]:
    """Author names from a JSON-LD author value (string, Person, list of either)."""
    if isinstance(value, list):
        return [name for item in value for name in _names(item)]
    if isinstance(value, dict):
        return _names(value.get("name"))
    return [text] if (text := _clean(value)) else []


def normalise_date(value: str | None) -> str | None:
    """ISO 8601 as the page states it: "YYYY-MM-DDTHH:MM:SS" with the page's offset ("Z" for UTC,
    else "+HH:MM"), without one when the page gives none, "YYYY-MM-DD" for a date alone.

    The offset is kept rather than the time converted to UTC: the day a reader sees in the record
    is then the page's own day (an article of 00:30 in Berlin is not of the day before), and the
    moment is the same for every reader that compares times (SQL, search, --since)."""
    if not value:
        return None
    value = value.strip()
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed is None or not 1990 <= parsed.year <= 2100:
        return None
    if len(value) <= 10 and "T" not in value:
        return parsed.strftime("%Y-%m-%d")
    local = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    offset = parsed.utcoffset()
    if offset is None:
        return local
    if offset == timedelta(0):
        return f"{local}Z"
    hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
    return f"{local}{'-' if offset < timedelta(0) else '+'}{hours:02d}:{minutes:02d}"


def _published(
    tree: HtmlElement,
    markup: dict[str, list[HtmlElement]],
    article: dict[str, Any],
    meta: dict[str, list[str]],
) -> str | None:
    candidates = [
        article.get("datePublished"),
        _first(
            meta,
            "article:published_time",
            "og:published_time",
            "datepublished",
            "pubdate",
            "publishdate",
            "publish-date",
            "date",
            "dc.date.issued",
            "dc.date",
            "sailthru.date",
        ),
        *(t.get("datetime") for t in markup.get("time", [])[:1]),
    ]
    for candidate in candidates:
        found = normalise_date(candidate if isinstance(candidate, str) else None)
        if found:
            return found
    guess = find_date(tree, extensive_search=False, original_date=True)
    return normalise_date(guess) if guess else None


def _language(tree: HtmlElement, meta: dict[str, list[str]]) -> str | None:
    for value in (tree.get("lang"), _first(meta, "content-language", "og:locale", "language")):
        match = _LANG.match((value or "").strip())
        if match:
            return match.group(1).lower()
    return None


def _tags(article: dict[str, Any], meta: dict[str, list[str]]) -> tuple[str, ...]:
    raw = list(meta.get("article:tag", []))
    keywords = article.get("keywords")
    if isinstance(keywords, list):
        raw.extend(k for k in keywords if isinstance(k, str))
    elif isinstance(keywords, str):
        raw.extend(keywords.split(","))
    if not raw:
        raw = [
            k
            for value in meta.get("news_keywords", meta.get("keywords", []))
            for k in value.split(",")
        ]
    tags: list[str] = []
    for tag in raw:
        tag = " ".join(tag.split())
        if tag and tag.lower() not in (t.lower() for t in tags):
            tags.append(tag)
    return tuple(tags)


def _image(article: dict[str, Any], meta: dict[str, list[str]]) -> str | None:
    image = article.get("image")
    while isinstance(image, list) and image:
        image = image[0]
    if isinstance(image, dict):
        image = image.get("url")
    return _first(meta, "og:image", "og:image:url", "og:image:secure_url", "twitter:image") or (
        _clean(image)
    )


def _headlines(
    markup: dict[str, list[HtmlElement]], article: dict[str, Any], meta: dict[str, list[str]]
) -> tuple[str, ...]:
    """Every form of the headline the page gives, the best first (`headline.choose`)."""
    trusted = [_clean(article.get("headline")), _clean(article.get("name"))]
    trusted += [_first(meta, "og:title"), _first(meta, "twitter:title")]
    declared = [form for form in trusted + [_first(meta, key) for key in _TITLE_META] if form]
    return headline.choose(
        declared,
        [form for form in trusted if form],
        [text for h in markup.get("h1", [])[:2] if (text := _clean(h.text_content()))],
        next(
            (text for t in markup.get("title", [])[:1] if (text := _clean(t.text_content()))), None
        ),
        [name for key in _SITE_META for name in meta.get(key, [])[:1]],
    )


def _authors(
    tree: HtmlElement, article: dict[str, Any], meta: dict[str, list[str]], title: str | None
) -> tuple[str, ...]:
    """JSON-LD's authors first, then the article's and Dublin Core's meta tags, then the other
    author meta names, then the byline."""
    sources = [
        _names(article.get("author")),
        [name for name in meta.get("article:author", []) if not name.startswith("http")],
        *(meta.get(key, []) for key in _AUTHOR_META),
    ]
    return byline.authors(tree, sources, title)


def _links(markup: dict[str, list[HtmlElement]]) -> dict[str, str]:
    return {
        rel: link.get("href").strip()
        for link in reversed(markup.get("link", []))
        for rel in link.get("rel").lower().split()
    }


def read_metadata(tree: HtmlElement, url: str) -> PageMetadata:
    """Read the page's metadata; absent fields are None or empty, never guessed from the URL."""
    markup = _collect(tree)
    meta = _meta_tags(markup)
    article = _article_object(markup)
    links = _links(markup)
    image = _image(article, meta)
    canonical = links.get("canonical") or _first(meta, "og:url")
    headlines = _headlines(markup, article, meta)
    return PageMetadata(
        title=headlines[0] if headlines else None,
        headlines=headlines,
        authors=_authors(tree, article, meta, headlines[0] if headlines else None),
        published=_published(tree, markup, article, meta),
        language=_language(tree, meta),
        description=_clean(article.get("description"))
        or _first(meta, "og:description", "description", "twitter:description"),
        tags=_tags(article, meta),
        image=absolute_http_url(image, url),
        canonical_url=absolute_http_url(canonical, url),
    )
