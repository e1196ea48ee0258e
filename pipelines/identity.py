"""What makes two fetches the same article: its canonical URL, and a hash of its text.

Both are derived from the page and its extracted text alone, so the extraction worker computes
them beside the text (`extract_identified`): hashing a long text and canonicalising URLs would
otherwise cost the reactor thread, which every download waits on, a share of each article.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from archive.urls import canonical_url, same_site
from pipelines.extracted import Article


@dataclass(frozen=True)
class Identity:
    """Dedup keys of one page: who the article is, which URLs name it, what its text is."""

    canonical_url: str
    aliases: frozenset[str]
    content_hash: str | None  # None when no text was found
    names_source: str | None = None
    """Another site's URL the page names as its own (cross-site rel=canonical or og:url): the
    original this page is a copy of."""


def content_hash(text: str) -> str:
    """sha256 of the text with white space folded, so layout-only changes are not versions."""
    folded = " ".join(text.split())
    return "sha256:" + hashlib.sha256(folded.encode("utf-8")).hexdigest()


def article_identity(final_url: str, declared_canonical: str | None) -> str:
    """The page's `<link rel=canonical>` when it stays on the same site (a site cannot claim
    another's articles), else the canonicalised final URL."""
    if declared_canonical and same_site(declared_canonical, final_url):
        return canonical_url(declared_canonical)
    return canonical_url(final_url)


def identify(article: Article, url: str, final_url: str) -> Identity:
    declared = article.canonical_url
    return Identity(
        canonical_url=article_identity(final_url, declared),
        aliases=frozenset({canonical_url(url), canonical_url(final_url)}),
        content_hash=content_hash(article.text) if article.text else None,
        names_source=canonical_url(declared)
        if declared and not same_site(declared, final_url)
        else None,
    )


def extract_identified(
    body: bytes, url: str, final_url: str, content_type: str | None
) -> tuple[Article, Identity]:
    """`extract_article` of the page, with its dedup keys: one call per page in a worker.

    The crawl process only names this function; importing trafilatura there would cost every
    run a quarter of a second for nothing, so the extractor is imported where it runs (workers
    have it preloaded).
    """
    from pipelines.article import extract_article

    article = extract_article(body, final_url, content_type)
    return article, identify(article, url, final_url)
