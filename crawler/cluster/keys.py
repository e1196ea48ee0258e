"""The names of everything newsarchive keeps in the cluster's Redis, in one place.

Every key starts with `PREFIX`, so one Redis (or one database of it) can be inspected, backed up
or emptied as a whole (``redis-cli --scan --pattern 'newsarchive:*'``).
"""

from __future__ import annotations

PREFIX = "newsarchive:"

RUNS = PREFIX + "runs"
"""Stream of due runs: one message per run, ``{sources, config, due, enqueued_by}``."""
GROUP = "workers"
"""The consumer group of `RUNS`; each worker reads as the consumer of its own name."""
QUEUED = PREFIX + "queued"
"""Hash: source name -> id of the message that will crawl it, from enqueue until its final
acknowledgement, so that the scheduler coalesces firings instead of queueing one run per firing."""
WORKERS = PREFIX + "workers"
"""Hash: worker name -> its heartbeat as JSON (host, pid, shard, run, started, heartbeat, every)."""


def lease(source: str) -> str:
    """String: the worker crawling `source` now; set NX with an expiry its heartbeat renews."""
    return f"{PREFIX}lease:{source}"


def source(name: str) -> str:
    """Hash: the last final run of source `name` (worker, started, finished, outcome, summary)."""
    return f"{PREFIX}source:{name}"
