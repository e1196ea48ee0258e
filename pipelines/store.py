"""Item pipeline that writes the JSON record, then the catalog: the last step of a fetch.

Write order: the WARC record was flushed by the capture middleware; the JSON line goes next; the
catalog commit last. A crash between them leaves a record the catalog does not know yet, never a
catalog entry without its record.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from typing import Any, Self

from scrapy.crawler import Crawler

from archive.urls import canonical_url
from crawler import summary
from crawler.items import ArticleVersion
from crawler.session import ArchiveSession, session_of


def record_id(canonical: str, version: int, content_hash: str) -> str:
    """Stable for one version of one article, so a rebuilt catalog finds the same ids."""
    key = f"{canonical}\n{version}\n{content_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def build_record(item: ArticleVersion) -> dict[str, Any]:
    """The JSON record of design.md, field for field."""
    page, article = item.page, item.article
    return {
        "id": record_id(item.canonical_url, item.version, item.content_hash),
        "version": item.version,
        "previous": item.previous,
        "source": page.source,
        "feed_url": page.feed_url,
        "url": page.url,
        "final_url": page.final_url,
        "canonical_url": item.canonical_url,
        "title": article.title or page.listed_title,
        "authors": list(article.authors),
        "published": article.published or page.listed_published,
        "fetched_at": page.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "language": article.language,
        "description": article.description,
        "tags": list(article.tags),
        "text": None if item.duplicate_of else article.text,
        "content_hash": item.content_hash,
        "duplicate_of": item.duplicate_of,
        "warc": {
            "filename": page.warc.filename,
            "offset": page.warc.offset,
            "length": page.warc.length,
            "record_id": page.warc.record_id,
            "payload_digest": page.warc.payload_digest,
        },
    }


class StorePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @property
    def session(self) -> ArchiveSession:
        return session_of(self.crawler)

    def process_item(self, item: ArticleVersion) -> dict[str, Any]:
        record = build_record(item)
        session = self.session
        session.records.append(record)
        session.catalog.record_version(record, item.page.fetched_at, item.page.validators)
        session.catalog.remember_urls(
            item.canonical_url, {canonical_url(item.page.url), canonical_url(item.page.final_url)}
        )
        session.catalog.commit()
        if item.duplicate_of:
            key = summary.ARTICLES_DUPLICATE
        elif item.version > 1:
            key = summary.ARTICLES_UPDATED
        else:
            key = summary.ARTICLES_NEW
        assert self.crawler.stats is not None
        summary.count(self.crawler.stats, key)
        return record
