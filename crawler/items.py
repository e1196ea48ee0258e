"""What flows from the spider through the item pipelines, one stage adding to the last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archive.catalog import Validators
from archive.warcwriter import WarcLocation
from pipelines.extracted import Article
from pipelines.identity import Identity


@dataclass(frozen=True)
class FetchedPage:
    """An article page as fetched, with the WARC record that holds its bytes."""

    source: str
    feed_url: str | None
    url: str
    final_url: str
    body: bytes
    content_type: str | None
    fetched_at: datetime
    warc: WarcLocation
    validators: Validators
    listed_title: str | None
    listed_published: str | None
    recheck: bool = False  # requested as a recheck of an archived article


@dataclass(frozen=True)
class ExtractedPage:
    page: FetchedPage
    article: Article
    identity: Identity


@dataclass(frozen=True)
class ArticleVersion:
    """A page judged by dedup: what will be stored as one JSON record."""

    page: FetchedPage
    article: Article
    canonical_url: str
    aliases: frozenset[str]
    content_hash: str
    version: int
    previous: str | None
    duplicate_of: str | None
    names_source: str | None = None
    """The other site's URL the page names as its source, if any (`Identity.names_source`)."""
    demotes: str | None = None
    """The record that held this text until this page turned out to be the original: it gets a
    new version naming this one as what it duplicates."""
