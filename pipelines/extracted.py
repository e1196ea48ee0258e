"""The result of extracting one page, apart from the extractor that makes it.

Its own module so that the crawl process, which receives these from its workers and never
extracts, can unpickle them without importing trafilatura.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metadata:
    """What a page says about its article. Fields the page does not give are None or empty."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    language: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    canonical_url: str | None = None


@dataclass(frozen=True)
class Article(Metadata):
    """What one page yields: its metadata, and its text (None when no article was found)."""

    text: str | None = None
