"""The `newsarchive schedule` daemon: every source on its own cron, every run its own process.

What operators can rely on:

- One APScheduler job per source fires on the source's cron, in its time zone. A firing only
  marks the source due; `RunQueue` starts ``python -m crawler crawl --source NAME...`` for due
  sources, one crawl process at a time per archive, because a crawl holds the archive-wide lock
  (two processes never write one archive). Up to ``max_parallel_runs`` due sources are crawled
  together in that one process; the others wait their turn in order.
- A source is never in two runs at once. Firings while it waits or runs coalesce into one more
  run, never N. A crawl that finds the archive locked (a cron-mode crawl) is retried, not dropped.
- The catalog's ``runs`` table is the job store: when the daemon starts, a source whose last
  finished run began before its latest firing (or that never ran) runs at once, once.
- SIGHUP re-reads the config and reschedules; an invalid config is logged and the old schedule
  (and the old config, kept as a snapshot the crawls read) stays in force.
- SIGTERM/SIGINT stop firing, ask the running crawl to stop (it finishes its current writes and
  closes its WARC file), wait up to ``stop_timeout``, and exit 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from archive.catalog import connect_read_only
from archive.errors import ArchiveError, ArchiveLockedError, ConfigError
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.reindex import recover_files
from crawler.config import Config, Source, cron_trigger, load_config
from crawler.crawlprocess import EXIT_LOCKED, CrawlResult, start_crawl

logger = logging.getLogger(__name__)

SECONDS_TRIGGER_ENV = "NEWSARCHIVE_TEST_SECONDS_TRIGGER"
"""Tests only: set to 1, a schedule's minute field counts seconds (``*/3`` = every 3 s)."""
LOCKED_RETRY_SECONDS = 3.0
"""How long a run waits before retrying when another process holds the archive lock."""
SETTLE_SECONDS = 0.3
"""Sources whose firings arrive this close together can share one crawl process."""


def source_trigger(source: Source) -> BaseTrigger:
    """The trigger `source` fires on: its cron in its time zone (see `cron_trigger`)."""
    if os.environ.get(SECONDS_TRIGGER_ENV) == "1":
        return CronTrigger(second=source.schedule.split()[0], timezone=source.timezone)
    return cron_trigger(source.schedule, source.timezone)


@dataclass(frozen=True)
class RunRecord:
    """One row of the catalog's ``runs`` table."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    """None while the run goes on, or for ever if it was killed."""
    sources: tuple[str, ...]
    summary: dict[str, Any]
    """The run's summary counts plus ``errors`` / ``errors_total``; empty until it finishes."""


def latest_runs(layout: ArchiveLayout, *, finished_only: bool = False) -> dict[str, RunRecord]:
    """The latest run (only finished ones if `finished_only`) of every source the catalog knows,
    by source name; empty if there is no catalog yet. Read-only, so safe during a crawl."""
    if not layout.catalog_path.exists():
        return {}
    where = "WHERE r.finished_at IS NOT NULL" if finished_only else ""
    try:
        db = connect_read_only(layout.catalog_path)
        try:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
                return {}
            rows = db.execute(
                "SELECT s.value, r.id, r.started_at, r.finished_at, r.sources, r.summary "
                "FROM runs r JOIN json_each(r.sources) s "
                f"WHERE r.id IN (SELECT MAX(r.id) FROM runs r, json_each(r.sources) s {where} "
                "GROUP BY s.value)"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ArchiveError(f"{layout.catalog_path}: cannot read catalog: {exc}") from exc
    latest: dict[str, RunRecord] = {}
    for name, run_id, started, finished, sources, summary in rows:
        run = RunRecord(
            id=run_id,
            started_at=_parse_ts(started),
            finished_at=_parse_ts(finished) if finished else None,
            sources=tuple(json.loads(sources)),
            summary=json.loads(summary) if summary else {},
        )
        if name not in latest or latest[name].id < run.id:
            latest[name] = run
    return latest


def overdue(sources: Sequence[Source], layout: ArchiveLayout, now: datetime) -> list[str]:
    """Names of the `sources` that missed a firing since their last finished run in the archive
    at `layout` began, or never ran there (see `missed_firing`)."""
    runs = latest_runs(layout, finished_only=True)
    return missed_firing(sources, {name: run.started_at for name, run in runs.items()}, now)


def missed_firing(
    sources: Sequence[Source], last_started: Mapping[str, datetime], now: datetime
) -> list[str]:
    """Names of the `sources` that missed a firing since their last finished run began (by
    name in `last_started`), or never ran: the catch-up a (re)started daemon owes, one run each
    however much was missed."""
    due = []
    for source in sources:
        started = last_started.get(source.name)
        # started times have whole seconds: the first firing strictly after the run began
        fire = (
            source_trigger(source).get_next_fire_time(None, started + timedelta(seconds=1))
            if started
            else now
        )
        if fire is not None and fire <= now:
            due.append(source.name)
    return due


class RunQueue:
    """Runs due sources in crawl subprocesses, one process at a time, in the order they fell due.

    Thread-safe: `mark_due` is called from scheduler threads, `stop` from the main thread.
    """

    def __init__(self, config: Config, snapshot: Path, log_args: Sequence[str]) -> None:
        self._config = config
        self._snapshot = snapshot
        self._log_args = tuple(log_args)
        self._pending: list[str] = []
        self._running: tuple[str, ...] = ()
        self._process: subprocess.Popen[str] | None = None
        self._stopping = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="run-queue", daemon=True)
        self.runs = 0
        self.coalesced = 0

    def start(self) -> None:
        self._thread.start()

    def serving(self) -> AbstractContextManager[object]:
        """Held while the daemon serves: the archive's schedule lock, one daemon per archive
        (ArchiveLockedError if another holds it)."""
        return ArchiveLock(ArchiveLayout(self._config.archive.dir).schedule_lock_path)

    def overdue(self, sources: Sequence[Source], now: datetime) -> list[str]:
        """Those of `sources` that missed a firing since their last finished run (`overdue`)."""
        return overdue(sources, ArchiveLayout(self._config.archive.dir), now)

    def reconfigure(self, config: Config) -> None:
        """Use `config` from the next run on; sources no longer configured stop being due."""
        with self._cond:
            self._config = config
            names = {source.name for source in config.sources}
            self._pending = [name for name in self._pending if name in names]

    def mark_due(self, *names: str) -> None:
        """`names` should run: queue each unless it already waits (then this firing coalesces)."""
        with self._cond:
            if self._stopping:
                return
            for name in names:
                if name in self._pending:
                    self.coalesced += 1
                    logger.info("%s: due again while waiting; coalesced into one run", name)
                else:
                    self._pending.append(name)
            self._cond.notify_all()

    def stop(self, timeout: float) -> None:
        """Run nothing more; ask a running crawl to finish (SIGTERM), kill it after `timeout`
        seconds, and close any WARC file a killed crawl left open."""
        with self._cond:
            self._stopping = True
            if self._pending:
                logger.info("not started, due at the next start: %s", ", ".join(self._pending))
            self._pending.clear()
            process = self._process
            self._cond.notify_all()
        if process is not None and process.poll() is None:
            logger.info("asking the running crawl (pid %d) to finish", process.pid)
            process.send_signal(signal.SIGTERM)
        self._thread.join(timeout)
        if process is not None and process.poll() is None:
            logger.error(
                "crawl (pid %d) still running after %.0fs; killing it", process.pid, timeout
            )
            process.kill()
            self._thread.join()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                self._cond.wait(SETTLE_SECONDS)
                if self._stopping:
                    return
                batch = tuple(self._pending[: self._config.schedule.max_parallel_runs])
                del self._pending[: len(batch)]
                self._running = batch
            try:
                locked = self._run(batch)
            finally:
                with self._cond:
                    self._running = ()
            if locked:
                with self._cond:
                    self._pending[:0] = [n for n in batch if n not in self._pending]
                    self._cond.wait(LOCKED_RETRY_SECONDS)

    def _run(self, batch: tuple[str, ...]) -> bool:
        """Crawl `batch` in one subprocess; True if it must be retried (the archive was locked
        by another process)."""
        config = self._config
        with self._cond:
            if self._stopping:
                return False
            self._process = start_crawl(self._snapshot, config.archive.dir, batch, self._log_args)
        names = ", ".join(batch)
        logger.info("run started: %s (pid %d)", names, self._process.pid)
        stdout, _ = self._process.communicate()
        result = CrawlResult(self._process.returncode, stdout)
        with self._cond:
            self._process = None
        self.runs += 1
        result.log(names, logger)
        if result.code < 0:
            self._close_left_open()
        return result.code == EXIT_LOCKED

    def _close_left_open(self) -> None:
        """Make whole the files a killed crawl left (an open WARC, a torn JSON line) at once,
        rather than at the next run, so a stopped daemon leaves nothing half-written."""
        layout = ArchiveLayout(self._config.archive.dir)
        try:
            with ArchiveLock(layout.lock_path):
                for action in recover_files(layout).actions():
                    logger.warning("after the killed crawl: %s", action)
        except ArchiveLockedError:
            logger.warning("another crawl holds the archive; it repairs what the killed one left")


QueueFactory = Callable[[Config, Path, Sequence[str]], RunQueue]
"""Builds a daemon's run queue from the config, its snapshot file and the crawls' log options."""


class Daemon:
    """`newsarchive schedule`: owns the scheduler, the run queue and the signal handling."""

    def __init__(
        self,
        config_path: Path,
        *,
        archive_dir: Path | None,
        log_args: Sequence[str] = (),
        queue: QueueFactory = RunQueue,
    ) -> None:
        """`queue` builds what due runs go to: local crawls (`RunQueue`), or a cluster's queue."""
        self._config_path = config_path
        self._archive_dir = archive_dir
        self._workdir = tempfile.TemporaryDirectory(prefix="newsarchive-schedule-")
        self._snapshot = Path(self._workdir.name) / "config.toml"
        try:
            self.config = self._load()
        except ConfigError:
            self._workdir.cleanup()
            raise
        self.queue = queue(self.config, self._snapshot, log_args)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            # None: a late firing still runs, however late; coalesce: once, not N times
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._stop = threading.Event()
        self._reload = threading.Event()

    def run(self) -> int:
        """Schedule every source and serve until SIGTERM/SIGINT; returns the exit code (0).
        Raises ArchiveLockedError if another daemon serves this archive."""
        try:
            with self.queue.serving():
                return self._serve()
        except ArchiveLockedError:
            raise ArchiveLockedError(
                f"another newsarchive schedule daemon serves {self.config.archive.dir}; "
                "nothing done"
            ) from None
        finally:
            self._workdir.cleanup()

    def _serve(self) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.queue.start()
            self._schedule(self.config.sources)
            self._scheduler.start()
            self._catch_up(self.config.sources)
            logger.info(
                "scheduling %d sources from %s", len(self.config.sources), self._config_path
            )
            while not self._stop.wait(0.5):
                if self._reload.is_set():
                    self._reload.clear()
                    self.reload()
            logger.info("stopping")
            self._scheduler.shutdown(wait=False)
            self.queue.stop(self.config.schedule.stop_timeout.total_seconds())
            logger.info(
                "stopped after %d runs (%d coalesced)", self.queue.runs, self.queue.coalesced
            )
            return 0
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def reload(self) -> None:
        """Re-read the config and reschedule; keep the old schedule if the new config is bad."""
        try:
            config = self._load()
        except ConfigError as exc:
            logger.error("config reload refused, the old schedule stays: %s", exc)
            return
        if config.archive.dir != self.config.archive.dir:
            logger.error(
                "config reload refused, the old schedule stays: archive.dir changed from %s "
                "to %s (restart the daemon to switch archives)",
                self.config.archive.dir,
                config.archive.dir,
            )
            return
        old = {source.name: source for source in self.config.sources}
        new = {source.name: source for source in config.sources}
        for name in old.keys() - new.keys():
            self._scheduler.remove_job(name)
        self.queue.reconfigure(config)
        changed = [s for s in config.sources if old.get(s.name) != s]
        self._schedule(changed)
        self.config = config
        added = [s for s in config.sources if s.name not in old]
        self._catch_up(added)
        logger.info(
            "config reloaded: %d sources (%d added, %d removed, %d changed)",
            len(new),
            len(added),
            len(old.keys() - new.keys()),
            len(changed) - len(added),
        )

    def _schedule(self, sources: Sequence[Source]) -> None:
        for source in sources:
            self._scheduler.add_job(
                self.queue.mark_due,
                trigger=source_trigger(source),
                args=[source.name],
                id=source.name,
                name=source.name,
                replace_existing=True,
            )

    def _catch_up(self, sources: Sequence[Source]) -> None:
        due = self.queue.overdue(sources, datetime.now(UTC))
        for name in due:
            logger.info("%s: missed a run (or never ran); running it now", name)
        self.queue.mark_due(*due)

    def _load(self) -> Config:
        """Validate the config file and keep a snapshot of it for the crawls to read, so that a
        later broken edit cannot reach a crawl before a reload has accepted it."""
        config = load_config(self._config_path, archive_dir=self._archive_dir)
        staged = self._snapshot.with_suffix(".new")
        try:
            staged.write_bytes(self._config_path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"{self._config_path}: cannot read config file: {exc}") from None
        checked = load_config(staged, archive_dir=config.archive.dir)
        os.replace(staged, self._snapshot)
        return checked

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload.set()
        else:
            self._stop.set()


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
