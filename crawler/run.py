"""One crawl run: take the archive lock, open the archive, run the spider, report.

The Twisted reactor cannot restart inside one process, so a run is one process; the scheduler
starts one per run.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import asdict
from datetime import UTC, datetime

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from archive.catalog import Catalog, DedupState
from archive.cdxj import write_missing_indexes
from archive.columnar import compact_archive
from archive.errors import ArchiveError, ClusterUnavailableError
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.records import RecordStore
from archive.reindex import recover_after_crash, recover_files
from archive.warcwriter import WarcWriter
from crawler.cluster.layered import join_collection
from crawler.cluster.member import ClusterMember
from crawler.config import Config, Source
from crawler.session import ArchiveSession
from crawler.settings import scrapy_settings
from crawler.spiders.news import NewsSpider
from crawler.status import RunErrors
from crawler.summary import Summary, per_source
from crawler.workers import Workers

logger = logging.getLogger(__name__)


def run_crawl(
    config: Config,
    sources: tuple[Source, ...],
    *,
    log_level: str = "WARNING",
    member: ClusterMember | None = None,
) -> Summary:
    """Crawl `sources` once into the config's archive. Raises ArchiveLockedError if another
    process holds the archive, ArchiveError if the archive cannot be written.

    As a cluster `member`, the archive is that worker's shard and its WARC files carry the
    worker's name."""
    layout = ArchiveLayout(config.archive.dir)
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"cannot create archive directory {layout.root}: {exc}") from exc
    started = time.monotonic()
    # Until Scrapy's engine stops gracefully on it, SIGINT ends the run at once, as SIGTERM does
    # (the run shows as interrupted): a KeyboardInterrupt would land in Twisted's callbacks.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with ArchiveLock(layout.lock_path):
        recovery = recover_files(layout)
        catalog = Catalog(layout.catalog_path)
        recover_after_crash(layout, catalog, recovery)
        dedup: DedupState = catalog
        publisher = None
        if member is not None:
            try:
                dedup, publisher = join_collection(member, catalog)
            except ClusterUnavailableError:
                catalog.close()
                raise
        run_started = datetime.now(UTC)
        run_id = catalog.start_run([s.name for s in sources], run_started)
        warc = WarcWriter(
            layout.warc_dir,
            prefix=member.worker if member else "newsarchive",
            max_bytes=config.archive.warc_max_bytes,
            info={
                "isPartOf": layout.root.name,
                "robots": "obey" if config.crawl.obey_robots else "ignore",
            },
        )
        session = ArchiveSession(
            config=config,
            sources=sources,
            layout=layout,
            catalog=catalog,
            warc=warc,
            records=RecordStore(layout.records_dir),
            workers=Workers(),
            dedup=dedup,
            cluster=publisher.index if publisher else None,
            publisher=publisher,
        )
        process = CrawlerProcess(scrapy_settings(config, log_level=log_level))
        crawler = process.create_crawler(NewsSpider)
        crawler.signals.connect(session.workers.start, signal=signals.engine_started)
        process.crawl(crawler, session=session)
        errors = RunErrors([s.name for s in sources])  # kept with the run, for `status`
        logging.getLogger().addHandler(errors)
        process.start()
        logging.getLogger().removeHandler(errors)
        session.workers.close()
        if publisher is not None:
            publisher.index.release_all()
        warc.close()
        session.records.close()
        if session.fatal is None:  # else the next run indexes what this one closed
            write_missing_indexes(layout)
            compact_archive(layout)
        assert crawler.stats is not None
        summary = Summary.from_stats(
            crawler.stats.get_stats(), len(sources), warc.bytes_written, time.monotonic() - started
        )
        if session.archive_failed:
            catalog.rollback()  # rows of records that never reached the disk
        if session.fatal is not None:
            catalog.forget_feed_validators(run_started)  # their feeds must list them again
        counts = per_source(crawler.stats.get_stats(), [s.name for s in sources])
        catalog.finish_run(
            run_id,
            datetime.now(UTC),
            {
                **asdict(summary),
                **errors.as_summary(session.fatal),
                "per_source": {
                    name: {**counted, **errors.of_source(name)} for name, counted in counts.items()
                },
            },
        )
        catalog.close()
    if session.fatal is not None:
        raise session.fatal
    return summary
