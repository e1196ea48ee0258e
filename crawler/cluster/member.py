"""What a crawl run knows of the cluster it works for: its Redis and its worker name."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

import redis

from archive.errors import UsageError
from crawler.cluster.connection import connect

# A worker's name becomes part of file names: letters, digits, dot, dash and underscore only.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ClusterMember:
    """A crawl run as one worker of a cluster: `client` is the collection's Redis (checked
    reachable), `worker` names this worker and prefixes its shard's WARC files."""

    url: str
    client: redis.Redis
    worker: str


def default_worker_name() -> str:
    """The host's name: one worker per machine needs no name of its own."""
    return socket.gethostname().split(".")[0] or "worker"


def cluster_member(url: str, worker: str | None) -> ClusterMember:
    """Connect to the cluster at `url` before anything is written (ClusterUnavailableError,
    exit 69, when it does not answer)."""
    name = worker or default_worker_name()
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"worker name {name!r}: use 1-64 letters, digits, '.', '-' or '_' (it names files)"
        )
    return ClusterMember(url, connect(url), name)
