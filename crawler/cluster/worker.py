"""A cluster worker: takes runs off the queue and crawls each into its own shard.

The loop, and what an operator can rely on:

- At start, the runs this worker took and never finished come first, then runs whose worker
  went silent for the visibility timeout (XAUTOCLAIM), then new ones (XREADGROUP).
- A run is the ordinary crawl, in a subprocess, into the shard, with the message's config
  written to ``SHARD/.cluster/run-config.toml``. While it runs, the worker renews its claim on
  the message and its sources' leases every heartbeat; if another worker took either over, the
  crawl is asked to stop.
- Only a final result is acknowledged (see `is_final`); anything else (the crawl lost Redis,
  was killed, found the shard locked, or the worker was stopped) leaves the message pending:
  another worker, or this one, takes it again after the visibility timeout.
- Redis lost while waiting or crawling: one line, then retries with a growing pause until it is
  back; the running crawl goes on (it stops itself if it needs Redis). Nothing is lost: an
  unacknowledged message stays in Redis.
- SIGTERM/SIGINT: take nothing more, ask a running crawl to stop (it commits its current batch
  and closes its WARC file), leave its run pending, exit 0. A second signal kills the crawl.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import redis

from archive.errors import ArchiveError, ArchiveLockedError, UsageError, one_line
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from crawler.cluster import CLUSTER_ENV, keys
from crawler.cluster.connection import reason, redacted
from crawler.cluster.queue import RunMessage, RunStream, ensure_group
from crawler.cluster.scheduler import TIME_FORMAT
from crawler.cluster.status import json_object, liveness
from crawler.crawlprocess import CrawlResult, start_crawl
from crawler.summary import EXIT_UNAVAILABLE

logger = logging.getLogger(__name__)

T = TypeVar("T")
POLL_SECONDS = 0.5
"""How often the worker looks at its crawl and at signals."""
MAX_BACKOFF_SECONDS = 10.0
FINAL_CODES = (0, 1, 2)
"""Crawl exit codes after which running the same run again would end the same way: done (0),
an archive problem (1), a bad config (2). 69 too, unless it is the cluster being unreachable."""


def is_final(result: CrawlResult) -> bool:
    """Whether the run is over for good (acknowledged) rather than to be tried again."""
    if result.code == EXIT_UNAVAILABLE:
        return result.outcome != "cluster_unavailable"
    return result.code in FINAL_CODES


@dataclass(frozen=True)
class WorkerOptions:
    url: str
    shard: Path
    name: str
    visibility_timeout: float
    heartbeat: float
    log_args: tuple[str, ...] = ()

    @property
    def visibility_ms(self) -> int:
        return int(self.visibility_timeout * 1000)


class Worker:
    """One worker process: the loop of the module's docstring."""

    def __init__(self, options: WorkerOptions, client: redis.Redis) -> None:
        self.options = options
        self.queue = RunStream(client, options.name)
        self.layout = ArchiveLayout(options.shard)
        self._stop = threading.Event()
        self._signals = 0
        self._process: subprocess.Popen[str] | None = None
        self._lost = False
        self._run: RunMessage | None = None
        self._run_started: str | None = None
        self._last_beat = -math.inf

    def serve(self) -> int:
        """Work until SIGTERM/SIGINT; 0. ArchiveLockedError if another worker or daemon serves
        the shard, ArchiveError if the shard cannot be written."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            with ArchiveLock(self.layout.schedule_lock_path):
                return self._serve()
        except ArchiveLockedError:
            raise ArchiveLockedError(
                f"another newsarchive worker or daemon serves {self.layout.root}; nothing done"
            ) from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _serve(self) -> int:
        options = self.options
        logger.info(
            "worker %s serving %s from %s (visibility timeout %gs, heartbeat %gs)",
            options.name,
            options.shard,
            redacted(options.url),
            options.visibility_timeout,
            options.heartbeat,
        )
        self._redis(self._check_name)
        own = self._redis(self.queue.own_pending) or []
        if own:
            logger.info("taking back %d runs this worker had not finished", len(own))
        while not self._stop.is_set():
            self._beat()
            message = own.pop(0) if own else self._redis(self._next)
            if message is not None and not self._stop.is_set():
                self._crawl(message)
        self._redis(lambda: self.queue.client.hdel(keys.WORKERS, options.name), retry=False)
        logger.info("worker %s stopped", options.name)
        return 0

    def _check_name(self) -> None:
        """Refuse a name a live worker elsewhere uses: two would share one pending list. (This
        worker restarted, on the same host and shard, is no other.)"""
        beat = json_object(self.queue.client.hget(keys.WORKERS, self.options.name))
        if (beat.get("host"), beat.get("shard")) == (socket.gethostname(), str(self.options.shard)):
            return
        if liveness(beat, datetime.now(UTC))[1]:
            raise UsageError(
                f"worker name {self.options.name!r} is used by a live worker on "
                f"{one_line(str(beat.get('host')))} (shard {one_line(str(beat.get('shard')))}); "
                "give each worker of the cluster its own --name"
            )

    def _next(self) -> RunMessage | None:
        block = int(min(self.options.heartbeat, 1.0) * 1000)
        return self.queue.take_stale(self.options.visibility_ms) or self.queue.take_new(block)

    def _crawl(self, message: RunMessage) -> None:
        snapshot = self._write_snapshot(message)
        owner = self._redis(lambda: self.queue.lease(message, self.options.visibility_ms))
        if owner is not None:
            logger.info("%s: being crawled by %s; the run waits", message.names, owner)
            return
        if self._stop.is_set():
            self._redis(lambda: self.queue.give_back(message), retry=False)
            return
        self._run, self._run_started = message, _now()
        self._beat(force=True)
        options = self.options
        extra = ("--cluster", "--worker-name", options.name, *options.log_args)
        self._process = start_crawl(
            snapshot,
            options.shard,
            message.sources,
            extra,
            env={CLUSTER_ENV: options.url},  # not in its arguments, which `ps` shows
            die_with_parent=True,
        )
        logger.info("run started: %s (%s, pid %d)", message.names, message.id, self._process.pid)
        result, asked_to_stop = self._wait(message, self._process)
        result.log(message.names, logger)
        if is_final(result) and not asked_to_stop:
            record = self._result(result)
            self._redis(lambda: self.queue.finish(message, record))
        else:
            logger.info("run of %s not finished; left for redelivery", message.names)
            self._redis(lambda: self.queue.give_back(message), retry=False)
        self._process = self._run = self._run_started = None
        self._beat(force=True)

    def _wait(
        self, message: RunMessage, process: subprocess.Popen[str]
    ) -> tuple[CrawlResult, bool]:
        """Wait for the crawl, holding its run every heartbeat; how it ended, and whether it
        was asked to stop (by a signal, or because another worker took the run over)."""
        asked = False
        while True:
            try:  # a retried communicate keeps what it read: the last returns all of stdout
                stdout, _ = process.communicate(timeout=POLL_SECONDS)
                return CrawlResult(process.returncode, stdout), asked
            except subprocess.TimeoutExpired:
                pass
            if self._stop.is_set() and not asked:
                logger.info("asking the running crawl (pid %d) to stop", process.pid)
                process.send_signal(signal.SIGTERM)
                asked = True
            if self._beat():
                held = self._redis(
                    lambda: self.queue.hold(message, self.options.visibility_ms), retry=False
                )
                if held is False and not asked:
                    logger.warning("%s: run taken over by another worker; stopping", message.names)
                    process.send_signal(signal.SIGTERM)
                    asked = True

    def _beat(self, *, force: bool = False) -> bool:
        """Write the heartbeat if one is due (or `force`); True if it was due."""
        now = time.monotonic()
        if not force and now - self._last_beat < self.options.heartbeat:
            return False
        self._last_beat = now
        options = self.options
        beat = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "shard": str(options.shard),
            "run": list(self._run.sources) if self._run else None,
            "message": self._run.id if self._run else None,
            "started": self._run_started,
            "heartbeat": _now(),
            "every": options.heartbeat,
        }
        self._redis(
            lambda: self.queue.client.hset(keys.WORKERS, options.name, json.dumps(beat)),
            retry=False,
        )
        return True

    def _result(self, result: CrawlResult) -> dict[str, Any]:
        """What a source keeps as its last result in Redis (read by `status --cluster`)."""
        return {
            "worker": self.options.name,
            "started": self._run_started,
            "finished": _now(),
            "exit_code": result.code,
            "outcome": result.outcome,
            "summary": result.summary,
        }

    def _write_snapshot(self, message: RunMessage) -> Path:
        """The message's config as a file the crawl reads (its archive dir is overridden)."""
        path = self.layout.root / ".cluster" / "run-config.toml"
        staged = path.with_suffix(".new")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staged.write_text(message.config, encoding="utf-8")
            os.replace(staged, path)
        except OSError as exc:
            raise ArchiveError(f"cannot write the run's config to {path}: {exc}") from exc
        return path

    def _redis(self, call: Callable[[], T], *, retry: bool = True) -> T | None:
        """`call`'s answer; when Redis cannot be reached, one line, then (with `retry`) tries
        again with a growing pause until it answers or the worker stops: None then."""
        pause = POLL_SECONDS
        while True:
            try:
                answer = call()
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # other errors are bugs
                if not self._lost:
                    logger.warning(
                        "lost Redis at %s (%s); retrying", redacted(self.options.url), reason(exc)
                    )
                self._lost = True
                if not retry or self._stop.wait(pause):
                    return None
                pause = min(pause * 2, MAX_BACKOFF_SECONDS)
                continue
            except redis.ResponseError as exc:
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    raise
                # Redis came back without its data (no append-only file): start a new queue
                logger.warning("the queue is gone from Redis; creating it again")
                ensure_group(self.queue.client)
                return None
            if self._lost:
                logger.info("Redis at %s is back", redacted(self.options.url))
                self._lost = False
            return answer

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._stop.set()
        process = self._process
        if self._signals > 1 and process is not None and process.poll() is None:
            process.kill()


def _now() -> str:
    return datetime.now(UTC).strftime(TIME_FORMAT)
