"""Pure article extraction: HTML bytes or text in, clean text and metadata out.

`extract_article` is the one function the crawl uses; it imports no Scrapy and keeps no state, so
it can run in a process pool and be tested without a crawl. The page is parsed once; trafilatura
picks the main content, `pipelines.boilerplate` removes what trafilatura lets through and
`pipelines.metadata` reads title, authors, dates and the rest from the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura
from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura.baseline import baseline
from trafilatura.settings import Document
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt

from pipelines.agreement import bound_by, readability_text
from pipelines.boilerplate import (
    clean_body,
    clean_lines,
    drop_page_header,
    mark_links,
    prune_page,
)
from pipelines.charset import decode_html
from pipelines.metadata import PageMetadata, read_metadata

__all__ = ["Article", "decode_html", "extract_article"]

# Below this share of the page's running text, the first extraction gets a second opinion.
SECOND_OPINION_SHARE = 0.45
# A fast first pass (no fallback extractors) is trusted when it holds this share of the running
# text and this many characters; otherwise trafilatura's full pass (with fallbacks) runs too.
FAST_SHARE = 0.6
FAST_MIN = 1000


@dataclass(frozen=True)
class Article:
    """What one page yields. Fields the page does not give are None or empty."""

    text: str | None
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    language: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    canonical_url: str | None = None


def _main_content(tree: HtmlElement, url: str, meta: PageMetadata, fast: bool) -> str:
    """trafilatura's main-content pass over the (marked) tree, then the boilerplate filters."""
    doc = trafilatura.bare_extraction(
        tree, url=url, include_comments=False, favor_precision=True, fast=fast
    )
    if not isinstance(doc, Document) or doc.body is None:
        return ""
    return _filtered(doc.body, meta)


def _all_paragraphs(tree: HtmlElement, meta: PageMetadata) -> str:
    """trafilatura's baseline (every paragraph-like element), then the boilerplate filters.

    The baseline may hand back a whole article container as one line, page header included;
    that header is cut off. The baseline may change the tree; it is the last reader of it.
    """
    body, _, _ = baseline(tree)
    return drop_page_header(_filtered(body, meta), meta.headlines, meta.description)


def _filtered(body: _Element, meta: PageMetadata) -> str:
    clean_body(body, meta.headlines, meta.description)
    return clean_lines(xmltotxt(body, include_formatting=False))


def _body_text(tree: HtmlElement, url: str, meta: PageMetadata) -> str | None:
    """The article text, paragraphs separated by one blank line, or None when there is none.

    trafilatura runs first without its fallback extractors, which is fast and on most pages the
    same; when that result looks wrong (short, or short against the page's running text, i.e.
    paragraphs of sentence length) its full pass runs. A second opinion is asked only when the
    result is still much shorter than the running text: trafilatura's baseline, which keeps
    every paragraph, then gets a turn, and its filtered text is used when it is longer. Last,
    the text is bounded by readability's reading of the page where the two agree on the article
    (`pipelines.agreement`): what lies before or after their shared stretch is cut.
    """
    running = prune_page(tree)
    mark_links(tree)
    text = _main_content(tree, url, meta, fast=True)
    if len(text) < FAST_SHARE * running or len(text) < FAST_MIN:
        text = max(text, _main_content(tree, url, meta, fast=False), key=len)
    if len(text) < SECOND_OPINION_SHARE * running:
        text = max(text, _all_paragraphs(tree, meta), key=len)
    text = bound_by(text, readability_text(tree))
    return text.replace("\n", "\n\n") if text else None


def extract_article(html: str | bytes, url: str, content_type: str | None = None) -> Article:
    """Extract the article body (paragraphs separated by a blank line) and its metadata.

    Never raises on what a web server may send: empty, broken or binary input gives
    `Article(text=None)` with whatever metadata could be read.
    """
    try:
        tree = load_html(decode_html(html, content_type))
    except (ValueError, TypeError):
        tree = None
    if tree is None:
        return Article(text=None)
    meta = read_metadata(tree, url)
    text = _body_text(tree, url, meta)
    return Article(
        text=text,
        title=meta.title,
        authors=meta.authors,
        published=meta.published,
        language=meta.language or meta.detect_language(text),
        description=meta.description,
        tags=meta.tags,
        image=meta.image,
        canonical_url=meta.canonical_url,
    )
