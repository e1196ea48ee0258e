"""Item pipeline that writes the JSON records and commits the catalog: the one commit point.

Write order, per batch (group commit, every `BATCH_SECONDS` or `BATCH_ITEMS` records): the WARC
records written by the capture middleware are fsynced first; then the batch's JSON lines are
appended and fsynced; then the catalog (and its full-text index) is committed. So a JSON record
never points at WARC bytes that are not on disk, and the catalog never knows a record that is not
on disk. A crash loses at most the uncommitted batch, which the next run fetches again; a record
written but not committed is added back (`archive.reindex.recover_after_crash`) before fetching.
Nothing else commits the catalog during a crawl.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from twisted.internet.task import LoopingCall

from archive.catalog import Validators
from archive.errors import ArchiveError
from archive.fulltext import FullTextIndex
from crawler import summary
from crawler.items import ArticleVersion
from crawler.session import RUN_STOPPERS, SessionComponent


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


def demoted_record(copy: Mapping[str, Any], original: Mapping[str, Any]) -> dict[str, Any]:
    """A new version of `copy` that names `original` as the record holding its text: what the
    copy's record would have been had the original been fetched first. Dated when found."""
    version = copy["version"] + 1
    return {
        **copy,
        "id": record_id(copy["canonical_url"], version, copy["content_hash"]),
        "version": version,
        "previous": copy["id"],
        "fetched_at": original["fetched_at"],
        "text": None,
        "duplicate_of": original["id"],
    }


class StorePipeline(SessionComponent):
    BATCH_SECONDS = 0.5
    BATCH_ITEMS = 64

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pending: list[dict[str, Any]] = []
        self._timer = LoopingCall(self.flush)

    def open_spider(self) -> None:
        self._index = FullTextIndex(self.session.catalog.db)  # its tables made once per run
        self._timer.start(self.BATCH_SECONDS, now=False)

    def close_spider(self) -> None:
        if self._timer.running:
            self._timer.stop()
        self.flush()

    def process_item(self, item: ArticleVersion) -> dict[str, Any]:
        """Remember the record in the open catalog transaction (so dedup sees it at once) and
        queue its line for the next group commit."""
        if self.session.archive_failed:
            raise DropItem("the archive cannot be written")
        records = [build_record(item)]
        try:
            self.session.catalog.remember_record(
                records[0], item.page.validators, item.aliases, names=item.names_source
            )
            if item.demotes is not None:
                records.append(self._demote(item.demotes, records[0]))
                self.count(summary.ARTICLES_DUPLICATE, item.page.source)
        except ArchiveError as exc:
            self.stop_run(exc)
            raise DropItem(str(exc)) from exc
        self._pending.extend(records)
        if item.duplicate_of:
            key = summary.ARTICLES_DUPLICATE
        elif item.version > 1:
            key = summary.ARTICLES_UPDATED
        else:
            key = summary.ARTICLES_NEW
        self.count(key, item.page.source)
        if len(self._pending) >= self.BATCH_ITEMS:
            self.flush()
        return records[0]

    def _demote(self, copy_id: str, original: dict[str, Any]) -> dict[str, Any]:
        """Remember, and return, the new version of the record `copy_id` naming `original`."""
        copy = demoted_record(self._record(copy_id), original)
        catalog = self.session.catalog
        archived = catalog.article(copy["canonical_url"])
        validators = archived.validators if archived else Validators(None, None)
        catalog.remember_record(copy, validators)
        return copy

    def _record(self, record_id: str) -> dict[str, Any]:
        """A stored record by id: still pending in this batch, or read back from its file."""
        for pending in reversed(self._pending):
            if pending["id"] == record_id:
                return pending
        location = self._index.location(record_id)
        if location is None:
            raise ArchiveError(
                f"record {record_id} is not in the catalog: run `newsarchive reindex`"
            )
        return self.session.records.read(location)

    def flush(self) -> None:
        """One group commit: WARC fsync, JSON lines + fsync, full-text index, catalog commit.

        On failure the run stops and rolls the catalog's open transaction back
        (`Catalog.rollback`), so no row of a record that is not on disk is ever committed.
        As a cluster member, what the commit made durable is then published to the collection's
        index; if Redis is lost, the run stops with this batch committed (the next run of this
        shard publishes it)."""
        session = self.session
        if session.archive_failed:
            return
        pending, self._pending = self._pending, []
        try:
            session.warc.sync()
            for record in pending:
                self._index.add(record, session.records.append(record))
            if pending:
                session.records.sync()
            session.catalog.commit()
            if session.publisher is not None:
                session.publisher.publish()
        except RUN_STOPPERS as exc:
            self.stop_run(exc)
