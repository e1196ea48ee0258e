"""Pure article extraction: HTML bytes or text in, clean text and metadata out.

`extract_article` is the one function the crawl uses; it imports no Scrapy and keeps no state, so
it can run in a process pool and be tested without a crawl.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura
from w3lib.encoding import html_to_unicode


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


def decode_html(html: str | bytes, content_type: str | None = None) -> str:
    """Decode page bytes by HTTP charset, BOM, <meta charset> or detection, as browsers do."""
    if isinstance(html, str):
        return html
    _, text = html_to_unicode(content_type, html)
    return text


def extract_article(html: str | bytes, url: str, content_type: str | None = None) -> Article:
    """Extract the article body (paragraphs separated by a blank line) and its metadata."""
    doc = trafilatura.bare_extraction(
        decode_html(html, content_type), url=url, with_metadata=True, include_comments=False
    )
    if doc is None:
        return Article(text=None)
    text = doc.text.replace("\n", "\n\n") if doc.text else None
    return Article(
        text=text,
        title=doc.title,
        authors=tuple(a.strip() for a in (doc.author or "").split(";") if a.strip()),
        published=doc.date,
        language=doc.language,
        description=doc.description,
        tags=tuple(doc.tags or ()),
        image=doc.image,
        canonical_url=doc.url if doc.url and doc.url != url else None,
    )
