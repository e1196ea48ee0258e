"""`newsarchive schedule --cluster URL`: the same daemon and triggers, but a due run goes on the
cluster's queue for any worker to take instead of into a local crawl."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import redis

from crawler.cluster import keys
from crawler.cluster.connection import reason, redacted
from crawler.cluster.queue import enqueue
from crawler.config import Config, Source
from crawler.schedule import QueueFactory, RunQueue, missed_firing

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How times are written into Redis (UTC, whole seconds), as the catalog writes them."""


def cluster_queue(url: str, client: redis.Redis) -> QueueFactory:
    """What `Daemon` builds its queue with in cluster mode."""

    def build(config: Config, snapshot: Path, log_args: Sequence[str]) -> RunQueue:
        return ClusterRunQueue(config, snapshot, url, client)

    return build


class ClusterRunQueue(RunQueue):
    """A `RunQueue` whose run is putting the batch on the cluster's stream.

    Firings coalesce as in the local queue, and also across the cluster: a source already
    queued or being crawled by a worker is not queued again. While Redis cannot be reached the
    batch waits here and is retried (one line when Redis is lost, one when it is back)."""

    def __init__(self, config: Config, snapshot: Path, url: str, client: redis.Redis) -> None:
        super().__init__(config, snapshot, ())
        self._url = url
        self._client = client
        self._lost = False

    def serving(self) -> AbstractContextManager[object]:
        """Nothing to lock: the scheduler writes no archive, and Redis coalesces its runs."""
        return contextlib.nullcontext()

    def overdue(self, sources: Sequence[Source], now: datetime) -> list[str]:
        """Those of `sources` that missed a firing since their last final run on any worker
        (as the workers reported it to Redis), or never ran on one."""
        started = {}
        try:
            for source in sources:
                last = self._client.hget(keys.source(source.name), "last")
                if last:
                    when = json.loads(last).get("started")
                    started[source.name] = datetime.strptime(when, TIME_FORMAT).replace(tzinfo=UTC)
        except (redis.RedisError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("cannot read the last runs from Redis (%s); catching up all", exc)
        return missed_firing(sources, started, now)

    def _run(self, batch: tuple[str, ...]) -> bool:
        """Queue `batch`; True if Redis could not be reached (the batch is retried)."""
        names = ", ".join(batch)
        try:
            message_id, queued = enqueue(
                self._client,
                batch,
                self._snapshot.read_text(encoding="utf-8"),
                datetime.now(UTC).strftime(TIME_FORMAT),
                socket.gethostname(),
            )
        except redis.RedisError as exc:
            if not self._lost:
                logger.warning(
                    "lost Redis at %s (%s); %s waits and is retried",
                    redacted(self._url),
                    reason(exc),
                    names,
                )
            self._lost = True
            return True
        if self._lost:
            logger.info("Redis at %s is back", redacted(self._url))
            self._lost = False
        skipped = [name for name in batch if name not in queued]
        if skipped:
            self.coalesced += len(skipped)
            logger.info(
                "%s: already queued or being crawled in the cluster; coalesced", ", ".join(skipped)
            )
        if message_id is not None:
            self.runs += 1
            logger.info("run queued: %s (%s)", ", ".join(queued), message_id)
        return False
