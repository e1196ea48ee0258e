"""What one crawl run did, counted in Scrapy's stats and reported as one line.

Components count with `count(stats, key, source)`; the run turns the stats into a `Summary` at
the end, and into per-source counts (`per_source`) for `newsarchive status`. Failures of the
outside world are counted here, never raised.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from scrapy.statscollectors import StatsCollector

PREFIX = "newsarchive/"

FEEDS_POLLED = "feeds_polled"
FEEDS_NOT_MODIFIED = "feeds_not_modified"
FEEDS_FAILED = "feeds_failed"
SITEMAPS_POLLED = "sitemaps_polled"
SITEMAPS_NOT_MODIFIED = "sitemaps_not_modified"
SITEMAPS_FAILED = "sitemaps_failed"
ARTICLES_NEW = "articles_new"
ARTICLES_UPDATED = "articles_updated"
ARTICLES_DUPLICATE = "articles_duplicate"
ARTICLES_UNCHANGED = "articles_unchanged"
ARTICLES_FAILED = "articles_failed"
ARTICLES_REFUSED = "articles_refused"
ARTICLES_OFF_SITE = "articles_off_site"
ARTICLES_ALREADY_ARCHIVED = "articles_already_archived"
# What a listing (feed or sitemap) counts as polled, not modified, failed.
LISTING_COUNTERS = {
    "feed": (FEEDS_POLLED, FEEDS_NOT_MODIFIED, FEEDS_FAILED),
    "sitemap": (SITEMAPS_POLLED, SITEMAPS_NOT_MODIFIED, SITEMAPS_FAILED),
}
ARTICLES_DEFERRED = "articles_deferred"

EXIT_UNAVAILABLE = 69
"""`crawl` exit code when every feed and sitemap polled failed (sysexits' EX_UNAVAILABLE): the
outlets were unreachable or broken, which monitoring must see even though nothing else failed."""
ALL_FEEDS_FAILED = "every feed failed"
# Articles a run stored or found unchanged: listings that gave these did not all fail.
ARCHIVED_COUNTERS = (ARTICLES_NEW, ARTICLES_UPDATED, ARTICLES_DUPLICATE, ARTICLES_UNCHANGED)


def count(stats: StatsCollector, key: str, source: str | None = None, n: int = 1) -> None:
    """Count `key` for the run and, when known, for `source`."""
    stats.inc_value(PREFIX + key, n)
    if source is not None:
        stats.inc_value(f"{PREFIX}source/{source}/{key}", n)


def per_source(stats: dict[str, Any], names: list[str]) -> dict[str, dict[str, int]]:
    """The counters of each source of the run, by name (only those that were counted)."""
    counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for key, value in stats.items():
        name, _, counter = key.removeprefix(PREFIX + "source/").rpartition("/")
        if key.startswith(PREFIX + "source/") and name in counts:
            counts[name][counter] = int(value)
    return counts


def all_feeds_failed(counts: dict[str, Any]) -> bool:
    """Whether every listing polled (feed, sitemap, child sitemap) failed and no article came of
    them: an outage. A malformed feed whose recovered entries were archived is not one."""
    polled = int(counts.get(FEEDS_POLLED, 0)) + int(counts.get(SITEMAPS_POLLED, 0))
    failed = int(counts.get(FEEDS_FAILED, 0)) + int(counts.get(SITEMAPS_FAILED, 0))
    archived = sum(int(counts.get(key, 0)) for key in ARCHIVED_COUNTERS)
    return polled > 0 and failed == polled and archived == 0


@dataclass(frozen=True)
class Summary:
    """The figures an operator reads after a run; `--json` prints them as they are, each key
    named as its label in the line (`articles_off_site` is "off-site")."""

    sources: int
    feeds_polled: int
    feeds_not_modified: int
    feeds_failed: int
    sitemaps_polled: int
    sitemaps_not_modified: int
    sitemaps_failed: int
    articles_new: int
    articles_updated: int
    articles_duplicate: int
    articles_unchanged: int
    articles_failed: int
    articles_refused: int
    articles_off_site: int
    articles_already_archived: int
    articles_deferred: int
    warc_bytes: int
    seconds: float

    @classmethod
    def from_stats(
        cls, stats: dict[str, Any], sources: int, warc_bytes: int, seconds: float
    ) -> Summary:
        def get(key: str) -> int:
            return int(stats.get(PREFIX + key, 0))

        return cls(
            sources=sources,
            feeds_polled=get(FEEDS_POLLED),
            feeds_not_modified=get(FEEDS_NOT_MODIFIED),
            feeds_failed=get(FEEDS_FAILED),
            sitemaps_polled=get(SITEMAPS_POLLED),
            sitemaps_not_modified=get(SITEMAPS_NOT_MODIFIED),
            sitemaps_failed=get(SITEMAPS_FAILED),
            articles_new=get(ARTICLES_NEW),
            articles_updated=get(ARTICLES_UPDATED),
            articles_duplicate=get(ARTICLES_DUPLICATE),
            articles_unchanged=get(ARTICLES_UNCHANGED),
            articles_failed=get(ARTICLES_FAILED),
            articles_refused=get(ARTICLES_REFUSED),
            articles_off_site=get(ARTICLES_OFF_SITE),
            articles_already_archived=get(ARTICLES_ALREADY_ARCHIVED),
            articles_deferred=get(ARTICLES_DEFERRED),
            warc_bytes=warc_bytes,
            seconds=round(seconds, 2),
        )

    @property
    def outcome(self) -> str:
        """``finished``, or ``failed`` when every feed and sitemap failed (see `exit_code`)."""
        return "failed" if all_feeds_failed(asdict(self)) else "finished"

    @property
    def exit_code(self) -> int:
        return EXIT_UNAVAILABLE if self.outcome == "failed" else 0

    def as_json(self) -> str:
        return json.dumps({"outcome": self.outcome, **asdict(self)}, separators=(",", ":"))

    def as_line(self) -> str:
        return (
            f"{self.sources} sources; feeds {self.feeds_polled} polled, "
            f"{self.feeds_not_modified} not modified, {self.feeds_failed} failed; "
            f"sitemaps {self.sitemaps_polled} polled, {self.sitemaps_not_modified} not modified, "
            f"{self.sitemaps_failed} failed; "
            f"articles {self.articles_new} new, {self.articles_updated} updated, "
            f"{self.articles_duplicate} duplicate, {self.articles_unchanged} unchanged, "
            f"{self.articles_failed} failed, {self.articles_refused} refused, "
            f"{self.articles_off_site} off-site, "
            f"{self.articles_already_archived} already archived, "
            f"{self.articles_deferred} deferred; "
            f"{self.warc_bytes} WARC bytes in {self.seconds:.1f}s"
        ) + (f"; FAILED: {ALL_FEEDS_FAILED}" if self.outcome == "failed" else "")
