"""What an archive holds: records per source per day, duplicates, versions, failures, WARC bytes.

Everything comes from the catalog (its search index and run history, opened read-only) and the
sizes of the WARC files, so it takes no scan of the records and never blocks a crawl.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from archive.catalog import retry_counts
from archive.collection import Collection, as_collection
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from archive.query import open_catalog, reading_catalog

# Run-summary counters (crawler/summary.py) that count failures of the outside world.
FAILURE_COUNTERS = ("feeds_failed", "sitemaps_failed", "articles_failed", "articles_refused")


# What `per_day` counts by: the UTC day records were fetched, or published (None: not known).
DAY_COLUMNS = {"fetched": "fetched_at", "published": "published"}


@dataclass(frozen=True)
class DayCount:
    """Records of one source fetched (or published) on one UTC day."""

    day: str | None
    source: str
    records: int
    duplicates: int
    new_versions: int


@dataclass(frozen=True)
class ArchiveStats:
    records: int
    articles: int  # distinct canonical URLs
    duplicates: int  # records whose text duplicates another URL's
    new_versions: int  # records with version > 1
    runs: int
    failures: dict[str, int]  # summed over every finished run
    warc_files: int
    warc_bytes: int
    per_day: list[DayCount]
    retries: dict[str, dict[str, int]]
    """Per source, articles on the retry list: ``waiting`` for another try, ``given_up``."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def archive_stats(archive: ArchiveLayout | Collection, by: str = "fetched") -> ArchiveStats:
    """Count what the archive (or every shard of a collection) holds, per source and day `by`
    "fetched" or "published" (records whose page gave no date count under None); an
    unreadable catalog is an ArchiveError. A collection's figures are its shards' summed, but
    an article whose versions lie in several shards counts once."""
    shards = as_collection(archive).shards
    if len(shards) == 1:
        return _shard_stats(shards[0], DAY_COLUMNS[by])
    parts = [_shard_stats(shard, DAY_COLUMNS[by]) for shard in shards]
    days: Counter[tuple[str | None, str]] = Counter()
    duplicates: Counter[tuple[str | None, str]] = Counter()
    versions: Counter[tuple[str | None, str]] = Counter()
    retries: dict[str, Counter[str]] = {}
    for part in parts:
        for day in part.per_day:
            key = (day.day, day.source)
            days[key] += day.records
            duplicates[key] += day.duplicates
            versions[key] += day.new_versions
        for source, counts in part.retries.items():
            retries.setdefault(source, Counter()).update(counts)
    canonical: set[str] = set()
    for shard in shards:
        with reading_catalog(shard) as db:
            canonical.update(url for (url,) in db.execute("SELECT canonical_url FROM search_docs"))
    return ArchiveStats(
        records=sum(part.records for part in parts),
        articles=len(canonical),
        duplicates=sum(part.duplicates for part in parts),
        new_versions=sum(part.new_versions for part in parts),
        runs=sum(part.runs for part in parts),
        failures={key: sum(part.failures[key] for part in parts) for key in FAILURE_COUNTERS},
        warc_files=sum(part.warc_files for part in parts),
        warc_bytes=sum(part.warc_bytes for part in parts),
        per_day=[
            DayCount(day, source, days[day, source], duplicates[day, source], versions[day, source])
            for day, source in sorted(days, key=lambda key: (key[0] or "", key[1]))
        ],
        retries={source: dict(counts) for source, counts in sorted(retries.items())},
    )


def _shard_stats(layout: ArchiveLayout, column: str) -> ArchiveStats:
    db = open_catalog(layout)
    try:
        # One read transaction, so one snapshot: a crawl committing between two of these
        # queries would make the totals and the per-day counts disagree.
        db.execute("BEGIN")
        records, articles, duplicates, versions = db.execute(
            "SELECT count(*), count(DISTINCT canonical_url), coalesce(sum(duplicate), 0), "
            "coalesce(sum(version > 1), 0) FROM search_docs"
        ).fetchone()
        per_day = [
            DayCount(*row)
            for row in db.execute(
                f"SELECT substr({column}, 1, 10) AS day, source, count(*), sum(duplicate), "
                "sum(version > 1) FROM search_docs GROUP BY day, source ORDER BY day, source"
            )
        ]
        runs, failures = _run_failures(db)
        retries = {
            source: {"waiting": waiting, "given_up": given_up}
            for source, (waiting, given_up) in retry_counts(db).items()
        }
    except sqlite3.Error as exc:
        raise ArchiveError(f"{layout.catalog_path}: cannot read catalog: {exc}") from exc
    finally:
        db.close()
    warcs = [path.stat().st_size for path in layout.warc_dir.glob("*.warc.gz*")]
    return ArchiveStats(
        records,
        articles,
        duplicates,
        versions,
        runs,
        failures,
        len(warcs),
        sum(warcs),
        per_day,
        retries,
    )


def _run_failures(db: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    failures = dict.fromkeys(FAILURE_COUNTERS, 0)
    runs = 0
    for (summary,) in db.execute("SELECT summary FROM runs WHERE summary IS NOT NULL"):
        runs += 1
        counts = json.loads(summary)
        for key in FAILURE_COUNTERS:
            value = counts.get(key, 0)
            failures[key] += value if isinstance(value, int) else 0
    return runs, failures
