"""What each source's last run did and when it runs next, read from the catalog.

`newsarchive status` and the scheduler's catch-up both read the catalog's ``runs`` table here,
read-only, so status works while a crawl or the daemon writes. A run records the warnings and
errors it logged (`RunErrors`) in its summary, which is how status shows "errors of the last run".
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archive.layout import ArchiveLayout
from crawler.config import Config
from crawler.schedule import RunRecord, latest_runs, source_trigger

MAX_ERRORS = 20
"""A run keeps its first this-many warning/error lines; the rest are only counted."""


class RunErrors(logging.Handler):
    """Collects the WARNING+ lines of one crawl run for its row in the catalog.

    Attach it to the root logger for the run; `as_summary()` is merged into the run's summary.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.total = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.total += 1
        if len(self.messages) < MAX_ERRORS:
            self.messages.append(f"{record.levelname} {record.getMessage()}".splitlines()[0])

    def as_summary(self, fatal: Exception | None) -> dict[str, Any]:
        """What the run's summary keeps: the lines, their count, and the failure that stopped
        the run early, if one did."""
        kept: dict[str, Any] = {"errors": self.messages, "errors_total": self.total}
        if fatal is not None:
            kept["fatal"] = str(fatal)
        return kept


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
                "summary": run.summary,
            },
            "next_run": _iso(self.next_run),
        }


def source_status(config: Config, now: datetime | None = None) -> list[SourceStatus]:
    """Status of every configured source, in config order."""
    now = now or datetime.now(UTC)
    layout = ArchiveLayout(config.archive.dir)
    runs = latest_runs(layout)
    crawling = crawl_in_progress(layout)
    statuses = []
    for source in config.sources:
        run = runs.get(source.name)
        next_fire = source_trigger(source).get_next_fire_time(None, now)
        statuses.append(
            SourceStatus(
                name=source.name,
                schedule=source.schedule,
                timezone=source.timezone,
                last_run=run,
                outcome=_outcome(run, crawling and run is not None and run.id == _newest(runs)),
                next_run=next_fire.astimezone(UTC) if next_fire else None,
            )
        )
    return statuses


def crawl_in_progress(layout: ArchiveLayout) -> bool:
    """Whether a live process holds the archive lock, judged by the pid the holder writes into
    the lock file (never by taking the lock, which would make a starting crawl fail)."""
    try:
        text = layout.lock_path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return False
    if not text.isdigit():
        return False
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def format_status(statuses: list[SourceStatus]) -> str:
    """Plain text, one block per source, times in UTC."""
    blocks = []
    for status in statuses:
        lines = [f"{status.name}  ({status.schedule}, {status.timezone})"]
        run = status.last_run
        if run is None:
            lines.append("  last run: never")
        else:
            took = f", took {_took(run)}" if run.finished_at else ""
            lines.append(f"  last run: {_iso(run.started_at)}{took}, {status.outcome}")
            if run.summary:
                lines.append(f"  counts:   {_counts(run.summary)}")
            if len(run.sources) > 1:
                lines.append(f"  (one run with: {', '.join(run.sources)})")
            errors = run.summary.get("errors", [])
            total = run.summary.get("errors_total", len(errors))
            if total:
                shown = f" (first {len(errors)})" if total > len(errors) else ""
                lines.append(f"  errors:   {total}{shown}")
                lines.extend(f"    {message}" for message in errors)
        lines.append(f"  next run: {_iso(status.next_run) or 'none'}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _outcome(run: RunRecord | None, running: bool) -> str:
    if run is None:
        return "never ran"
    if run.finished_at is None:
        return "running" if running else "interrupted"
    if run.summary.get("fatal"):
        return f"failed: {run.summary['fatal']}"
    return "finished"


def _newest(runs: dict[str, RunRecord]) -> int:
    return max(run.id for run in runs.values())


def _counts(summary: dict[str, Any]) -> str:
    def n(key: str) -> int:
        return int(summary.get(key, 0))

    return (
        f"feeds {n('feeds_polled')} polled, {n('feeds_failed')} failed; "
        f"articles {n('articles_new')} new, {n('articles_updated')} updated, "
        f"{n('articles_duplicate')} duplicate, {n('articles_failed')} failed; "
        f"{n('warc_bytes')} WARC bytes"
    )


def _took(run: RunRecord) -> str:
    seconds = run.summary.get("seconds")
    if seconds is None and run.finished_at is not None:
        seconds = (run.finished_at - run.started_at).total_seconds()
    return f"{float(seconds or 0):.1f}s"


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def status_json(statuses: list[SourceStatus]) -> str:
    """One JSON object: ``{"sources": [...]}``, times as ISO 8601 UTC."""
    return json.dumps({"sources": [status.as_dict() for status in statuses]})
