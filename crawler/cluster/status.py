"""`newsarchive status --cluster URL`: the workers, the queue and each source, read from Redis.

Read-only. Everything shown comes from Redis, which any worker (or anyone with the password)
writes: it is shown through the terminal-safe table code, never printed raw.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from archive.table import render_table
from crawler.cluster import keys
from crawler.cluster.scheduler import TIME_FORMAT

STALE_BEATS = 3
"""A worker whose last heartbeat is older than this many of its heartbeat periods is stale."""


@dataclass(frozen=True)
class WorkerState:
    name: str
    alive: bool
    host: str
    pid: object
    shard: str
    run: str
    """The sources of the run it crawls, or empty."""
    started: str
    heartbeat: str
    age: float | None
    """Seconds since its last heartbeat; None if the heartbeat cannot be read."""


@dataclass(frozen=True)
class Consumer:
    name: str
    pending: int
    idle: float
    """Seconds since it last read or renewed a message."""


@dataclass(frozen=True)
class SourceState:
    name: str
    state: str
    """``queued``, ``crawling on <worker>`` or ``idle``."""
    last: dict[str, Any]
    """Its last final run as the worker reported it (worker, started, finished, outcome, ...)."""


@dataclass(frozen=True)
class ClusterStatus:
    workers: list[WorkerState]
    queued: int
    """Runs in the stream: waiting or being crawled (finished ones are deleted)."""
    pending: int
    """Of those, taken by a worker and not finished."""
    consumers: list[Consumer]
    sources: list[SourceState]

    def as_json(self) -> str:
        return json.dumps(asdict(self))


def cluster_status(
    client: redis.Redis, names: Sequence[str] = (), now: datetime | None = None
) -> ClusterStatus:
    """The cluster as Redis knows it; `names` the sources to show (default: every one Redis
    has heard of)."""
    now = now or datetime.now(UTC)
    workers = [
        _worker(str(name), str(text), now)
        for name, text in sorted(client.hgetall(keys.WORKERS).items())
    ]
    consumers: list[Consumer] = []
    queued = pending = 0
    if client.exists(keys.RUNS):
        queued = int(client.xlen(keys.RUNS))
        for group in client.xinfo_groups(keys.RUNS):
            if group["name"] == keys.GROUP:
                pending = int(group["pending"])
                consumers = [
                    Consumer(c["name"], int(c["pending"]), int(c["idle"]) / 1000)
                    for c in client.xinfo_consumers(keys.RUNS, keys.GROUP)
                ]
    marks = {str(name) for name in client.hgetall(keys.QUEUED)}
    if not names:
        known = {key.removeprefix(keys.source("")) for key in client.scan_iter(keys.source("*"))}
        known |= {key.removeprefix(keys.lease("")) for key in client.scan_iter(keys.lease("*"))}
        names = sorted(known | marks)
    sources = []
    for name in names:
        owner = client.get(keys.lease(name))
        state = f"crawling on {owner!s}" if owner else "queued" if name in marks else "idle"
        sources.append(
            SourceState(name, state, json_object(client.hget(keys.source(name), "last")))
        )
    return ClusterStatus(workers, queued, pending, consumers, sources)


def liveness(beat: Mapping[str, Any], now: datetime) -> tuple[float | None, bool]:
    """Seconds since the heartbeat `beat` (a worker's entry, as JSON) was written, and whether
    the worker counts as alive; (None, False) when the entry cannot be read."""
    try:
        when = datetime.strptime(str(beat.get("heartbeat")), TIME_FORMAT).replace(tzinfo=UTC)
        age = max(0.0, (now - when).total_seconds())
        return age, age <= STALE_BEATS * float(beat.get("every", 10))
    except (ValueError, TypeError):
        return None, False


def _worker(name: str, text: str, now: datetime) -> WorkerState:
    beat = json_object(text)
    age, alive = liveness(beat, now)
    run = beat.get("run")
    return WorkerState(
        name=name,
        alive=alive,
        host=str(beat.get("host", "")),
        pid=beat.get("pid"),
        shard=str(beat.get("shard", "")),
        run=", ".join(map(str, run)) if isinstance(run, list) else "",
        started=str(beat.get("started") or ""),
        heartbeat=str(beat.get("heartbeat", "")),
        age=age,
    )


def json_object(text: object) -> dict[str, Any]:
    """`text` read as a JSON object; empty if it is none (Redis's strings are untrusted)."""
    try:
        found = json.loads(str(text or "{}"))
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def format_cluster_status(status: ClusterStatus, width: int | None = None) -> str:
    """Three tables (workers, queue per consumer, sources), every cell terminal-safe."""
    width = width or shutil.get_terminal_size().columns
    alive = sum(w.alive for w in status.workers)
    lines = [f"workers: {alive} alive, {len(status.workers) - alive} stale"]
    rows: list[tuple[object, ...]] = [
        (
            w.name,
            "alive" if w.alive else "stale",
            f"{w.age:.0f}s ago" if w.age is not None else "unreadable",
            w.run or "-",
            w.started,
            w.host,
            w.pid,
            w.shard,
        )
        for w in status.workers
    ]
    header: tuple[str, ...] = (
        "worker",
        "state",
        "heartbeat",
        "run",
        "since",
        "host",
        "pid",
        "shard",
    )
    lines += render_table(header, rows, width)
    lines += [
        "",
        f"queue: {status.queued} runs, {status.queued - status.pending} waiting, "
        f"{status.pending} taken by a worker",
    ]
    rows = [(c.name, c.pending, f"{c.idle:.0f}s") for c in status.consumers]
    lines += render_table(("consumer", "pending", "idle"), rows, width)
    lines += ["", "sources:"]
    rows = [
        (
            s.name,
            s.state,
            s.last.get("outcome", "never ran"),
            s.last.get("finished", ""),
            s.last.get("worker", ""),
            s.last.get("exit_code", ""),
        )
        for s in status.sources
    ]
    header = ("source", "now", "last run", "finished", "by worker", "exit code")
    lines += render_table(header, rows, width)
    return "\n".join(lines)
