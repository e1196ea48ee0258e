"""A synthetic archive of N earlier articles, written through the archive's own writers.

Crawling 100,000 articles to get a big archive would take an hour; this writes what such a crawl
leaves, much faster: one small WARC exchange per article (so payload rows point at real bytes),
its JSON record spread over two years of daily files, the catalog and search-index rows, the
WARC's CDXJ index and one finished run, so the next crawl starts as it would on a real archive.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.catalog import Catalog, Validators
from archive.cdxj import write_missing_indexes
from archive.columnar import compact_archive
from archive.fulltext import FullTextIndex
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from archive.warcwriter import HttpExchange, WarcWriter

START = datetime(2023, 1, 1, tzinfo=UTC)
BATCH = 5000


def _exchange(n: int, fetched_at: datetime) -> HttpExchange:
    text = f"Archived article {n}. " * 20
    return HttpExchange(
        url=f"https://old.example/{n // 1000}/story-{n}.html",
        method="GET",
        request_headers=(("Host", "old.example"),),
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        response_headers=(("Content-Type", "text/html; charset=utf-8"),),
        body=f"<html><body><article><p>{text}</p></article></body></html>".encode(),
        fetched_at=fetched_at,
    )


def _record(n: int, exchange: HttpExchange, warc: dict[str, object]) -> dict[str, object]:
    text = exchange.body.decode()[32:-36]
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return {
        "id": hashlib.sha256(f"synthetic {n}".encode()).hexdigest()[:32],
        "version": 1,
        "previous": None,
        "source": "old",
        "feed_url": "https://old.example/feed.xml",
        "url": exchange.url,
        "final_url": exchange.url,
        "canonical_url": exchange.url,
        "title": f"Archived article {n}",
        "authors": ["A. Writer"],
        "published": exchange.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fetched_at": exchange.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "language": "en",
        "description": None,
        "tags": [],
        "text": text,
        "content_hash": digest,
        "duplicate_of": None,
        "warc": warc,
    }


def fill_archive(root: Path, count: int) -> None:
    """Write `count` archived articles into a new archive at `root`, fetched over two years."""
    layout = ArchiveLayout(root)
    layout.root.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(layout.catalog_path)
    index = FullTextIndex(catalog.db)
    records = RecordStore(layout.records_dir)
    step = timedelta(days=730) / max(count, 1)
    with WarcWriter(layout.warc_dir, info={"isPartOf": "synthetic"}) as warc:
        for n in range(count):
            exchange = _exchange(n, START + n * step)
            location = warc.write_exchange(exchange)
            catalog.remember_capture(location)
            record = _record(
                n,
                exchange,
                {
                    "filename": location.filename,
                    "offset": location.offset,
                    "length": location.length,
                    "record_id": location.record_id,
                    "payload_digest": location.payload_digest,
                },
            )
            index.add(record, records.append(record))
            catalog.remember_record(record, Validators(etag=None, last_modified=None))
            if n % BATCH == BATCH - 1:
                catalog.commit()
    records.close()
    write_missing_indexes(layout)
    compact_archive(layout)
    # As if a crawl had just written all of it: the next run starts from a clean finish.
    run = catalog.start_run(["old"], datetime.now(UTC))
    catalog.finish_run(run, datetime.now(UTC), {"articles_new": count})
    catalog.close()
