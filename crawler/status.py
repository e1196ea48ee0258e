"""What each source's last run did and when it runs next, read from the catalog.

`newsarchive status` and the scheduler's catch-up both read the catalog's ``runs`` table here,
read-only, so status works while a crawl or the daemon writes. A run records the warnings and
errors it logged (`RunErrors`) in its summary, which is how status shows "errors of the last run".
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.catalog import connect_read_only, retry_counts
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from crawler.config import Config
from crawler.schedule import RunRecord, latest_runs, source_trigger
from crawler.summary import ALL_FEEDS_FAILED, all_feeds_failed

MAX_ERRORS = 20
"""A run keeps its first this-many warning/error lines; the rest are only counted."""


class RunErrors(logging.Handler):
    """Collects the WARNING+ lines of one crawl run for its row in the catalog.

    A line is the source's when it starts with the source's name (``bbc: article ...``), as the
    crawl's messages about a source do; other lines belong to the run. Attach it to the root
    logger for the run; `as_summary()` is merged into the run's summary.
    """

    def __init__(self, sources: Sequence[str] = ()) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.total = 0
        self._lines: dict[str | None, list[str]] = {name: [] for name in (*sources, None)}
        self._totals: Counter[str | None] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.levelname} {record.getMessage()}".splitlines()[0]
        name = record.getMessage().partition(": ")[0]
        owner = name if name in self._lines else None
        self.total += 1
        self._totals[owner] += 1
        for kept in (self.messages, self._lines[owner]):
            if len(kept) < MAX_ERRORS:
                kept.append(line)

    def as_summary(self, fatal: Exception | None) -> dict[str, Any]:
        """What the run's summary keeps: the lines, their count, the lines that named no
        source (``run_errors``), and the failure that stopped the run early, if one did."""
        kept: dict[str, Any] = {"errors": self.messages, "errors_total": self.total}
        kept |= {"run_errors": self._lines[None], "run_errors_total": self._totals[None]}
        if fatal is not None:
            kept["fatal"] = str(fatal)
        return kept

    def of_source(self, name: str) -> dict[str, Any]:
        """The lines about source `name` (the first `MAX_ERRORS`) and how many there were."""
        return {"errors": self._lines[name], "errors_total": self._totals[name]}


@dataclass(frozen=True)
class SourceStatus:
    """Status of one configured source, as `newsarchive status` shows it."""

    name: str
    schedule: str
    timezone: str
    last_run: RunRecord | None
    outcome: str
    """``never ran``, ``running``, ``interrupted``, ``failed: <why>`` or ``finished``."""
    next_run: datetime | None
    """The next firing of its cron while a daemon serves the archive; None when none does."""
    retries: tuple[int, int] = (0, 0)
    """Its articles on the retry list: waiting for another try, and given up."""

    @property
    def counts(self) -> dict[str, Any]:
        """The last run's counts and errors for this source alone (runs recorded before they
        were kept per source: the whole run's)."""
        if self.last_run is None:
            return {}
        summary = self.last_run.summary
        return dict(summary.get("per_source", {}).get(self.name, summary))

    def as_dict(self) -> dict[str, Any]:
        run = self.last_run
        return {
            "source": self.name,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "outcome": self.outcome,
            "last_run": None
            if run is None
            else {
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "sources": list(run.sources),
                "counts": self.counts,
                "summary": run.summary,
            },
            "next_run": _iso(self.next_run),
            "retries": {"waiting": self.retries[0], "given_up": self.retries[1]},
        }


@dataclass(frozen=True)
class ArchiveStatus:
    """What `newsarchive status` reports: the daemon serving the archive, if any, and every
    configured source."""

    daemon_pid: int | None
    sources: list[SourceStatus]


def source_status(
    config: Config, now: datetime | None = None, *, daemon_pid: int | None = None
) -> ArchiveStatus:
    """Status of every configured source, in config order. The daemon is the live process
    holding the archive's schedule lock, unless `daemon_pid` names one."""
    now = now or datetime.now(UTC)
    layout = ArchiveLayout(config.archive.dir)
    runs = latest_runs(layout)
    crawling = lock_holder(layout.lock_path) is not None
    daemon_pid = daemon_pid or lock_holder(layout.schedule_lock_path)
    retries = _retry_counts(layout)
    statuses = []
    for source in config.sources:
        run = runs.get(source.name)
        next_fire = source_trigger(source).get_next_fire_time(None, now) if daemon_pid else None
        status = SourceStatus(
            name=source.name,
            schedule=source.schedule,
            timezone=source.timezone,
            last_run=run,
            outcome="",
            next_run=next_fire.astimezone(UTC) if next_fire else None,
            retries=retries.get(source.name, (0, 0)),
        )
        running = crawling and run is not None and run.id == _newest(runs)
        statuses.append(replace(status, outcome=_outcome(status, running)))
    return ArchiveStatus(daemon_pid, statuses)


def _retry_counts(layout: ArchiveLayout) -> dict[str, tuple[int, int]]:
    if not layout.catalog_path.exists():
        return {}
    try:
        db = connect_read_only(layout.catalog_path)
        try:
            return retry_counts(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ArchiveError(f"{layout.catalog_path}: cannot read catalog: {exc}") from exc


def lock_holder(path: Path) -> int | None:
    """The pid of the live process holding the lock at `path` (`ArchiveLock`), judged by the
    pid the holder writes into the file (never by taking the lock, which would make a starting
    crawl or daemon fail); None when no live process holds it."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return int(text)


def format_status(status: ArchiveStatus) -> str:
    """Plain text: the daemon, then one block per source, times in UTC."""
    if status.daemon_pid:
        blocks = [f"daemon: running (pid {status.daemon_pid})"]
    else:
        blocks = ["daemon: not running (sources run only when `newsarchive crawl` is started)"]
    for source in status.sources:
        lines = [f"{source.name}  ({source.schedule}, {source.timezone})"]
        run = source.last_run
        if run is None:
            lines.append("  last run: never")
        else:
            took = f", took {_took(run)}" if run.finished_at else ""
            lines.append(f"  last run: {_iso(run.started_at)}{took}, {source.outcome}")
            counts = source.counts
            if run.summary:
                lines.append(f"  counts:   {_counts(counts, run.summary)}")
            if len(run.sources) > 1:
                lines.append(f"  (one run with: {', '.join(run.sources)})")
            lines += _errors("errors:  ", counts.get("errors", []), counts.get("errors_total"))
            if "per_source" in run.summary:
                summary = run.summary
                lines += _errors(
                    "run errors (naming no source):",
                    summary["run_errors"],
                    summary["run_errors_total"],
                )
        if any(source.retries):
            waiting, given_up = source.retries
            lines.append(f"  retries:  {waiting} articles to try again, {given_up} given up")
        next_run = _iso(source.next_run) or "none (no daemon serves this archive)"
        lines.append(f"  next run: {next_run}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _errors(title: str, errors: list[str], total: int | None) -> list[str]:
    """`title` with the count, then the lines kept (the first `MAX_ERRORS`); none if none."""
    total = len(errors) if total is None else total
    if not total:
        return []
    shown = f" (first {len(errors)})" if total > len(errors) else ""
    return [f"  {title} {total}{shown}", *(f"    {message}" for message in errors)]


def _outcome(status: SourceStatus, running: bool) -> str:
    run = status.last_run
    if run is None:
        return "never ran"
    if run.finished_at is None:
        return "running" if running else "interrupted"
    if run.summary.get("fatal"):
        return f"failed: {run.summary['fatal']}"
    if all_feeds_failed(status.counts):
        return f"failed: {ALL_FEEDS_FAILED}"
    return "finished"


def _newest(runs: dict[str, RunRecord]) -> int:
    return max(run.id for run in runs.values())


def _counts(counts: dict[str, Any], run: dict[str, Any]) -> str:
    def n(key: str) -> int:
        return int(counts.get(key, 0))

    return (
        f"feeds {n('feeds_polled')} polled, {n('feeds_failed')} failed; "
        f"articles {n('articles_new')} new, {n('articles_updated')} updated, "
        f"{n('articles_duplicate')} duplicate, {n('articles_failed')} failed; "
        f"{int(run.get('warc_bytes', 0))} WARC bytes (the run's)"
    )


def _took(run: RunRecord) -> str:
    seconds = run.summary.get("seconds")
    if seconds is None and run.finished_at is not None:
        seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{float(seconds or 0):.1f}s"


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def status_json(status: ArchiveStatus) -> str:
    """One JSON object: ``{"daemon": {"running", "pid"}, "sources": [...]}``, times as ISO 8601
    UTC."""
    daemon = {"running": status.daemon_pid is not None, "pid": status.daemon_pid}
    return json.dumps(
        {"daemon": daemon, "sources": [source.as_dict() for source in status.sources]}
    )
