"""The result of extracting one page, apart from the extractor that makes it.

Its own module so that the crawl process, which receives these from its workers and never
extracts, can unpickle them without importing trafilatura.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from archive.controls import strip_controls


@dataclass(frozen=True)
class Metadata:
    """What a page says about its article. Fields the page does not give are None or empty.

    Every string, and every string in a tuple, is stripped of control characters when the object
    is made (`archive.controls`), whoever makes it: what is left empty is None, or left out.
    """

    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    language: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    image: str | None = None
    canonical_url: str | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, str):
                object.__setattr__(self, field.name, strip_controls(value) or None)
            elif isinstance(value, tuple):
                cleaned = tuple(filter(None, map(strip_controls, value)))
                object.__setattr__(self, field.name, cleaned)


@dataclass(frozen=True)
class Article(Metadata):
    """What one page yields: its metadata, and its text (None when no article was found)."""

    text: str | None = None
