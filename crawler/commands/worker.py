"""Run as a cluster worker: take due runs off the cluster's queue in Redis and crawl each into
this worker's shard (a normal archive: its own WARC files, named after the worker, its own
records, catalog and lock), until SIGTERM or SIGINT.

`newsarchive schedule --config F --cluster URL` puts the runs on the queue; the message carries
the config, so a worker needs none. A run whose worker dies is taken over by another after
--visibility-timeout seconds; a source is crawled by one worker at a time.

Exit codes: 0 stopped by SIGTERM/SIGINT (a running crawl is asked to stop and its run is left
for another worker), 1 the shard cannot be written, 2 bad usage, 69 Redis cannot be reached at
start (nothing written; once running, a lost Redis is waited for), 75 another worker or daemon
serves this shard.

examples:
  newsarchive worker --cluster redis://:PASSWORD@127.0.0.1:6379/0 --archive-dir /srv/shard-a
  newsarchive worker --cluster rediss://:PASSWORD@redis.example:6380/0 --archive-dir shard-b \\
      --name b -v
"""

from __future__ import annotations

import argparse
from pathlib import Path

from archive.errors import UsageError
from crawler.commands.arguments import cluster_option, cluster_url, log_args, logging_options

NAME = "worker"
HELP = "cluster worker: crawl runs from the Redis queue into this worker's shard"


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cluster_option(parser, "the cluster's Redis (required)")
    parser.add_argument(
        "--archive-dir", type=Path, required=True, metavar="SHARD", help="this worker's shard"
    )
    parser.add_argument(
        "--name",
        help="this worker's name, unique in the cluster; prefixes its WARC files (default: "
        "the host name)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=seconds,
        default=60.0,
        metavar="S",
        help="a run whose worker is silent this long goes to another worker (default: 60)",
    )
    parser.add_argument(
        "--heartbeat",
        type=seconds,
        default=10.0,
        metavar="S",
        help="how often the worker reports and renews its run (default: 10; keep it well "
        "under the visibility timeout)",
    )
    logging_options(parser)


def run(args: argparse.Namespace) -> int:
    from crawler.cluster.member import cluster_member
    from crawler.cluster.worker import Worker, WorkerOptions

    if args.heartbeat >= args.visibility_timeout:
        raise UsageError("--heartbeat must be shorter than --visibility-timeout")
    url = cluster_url(args)
    if url is None:
        raise UsageError("worker needs --cluster URL (or --cluster and $NEWSARCHIVE_CLUSTER)")
    member = cluster_member(url, args.name)
    options = WorkerOptions(
        url=url,
        shard=args.archive_dir.resolve(),
        name=member.worker,
        visibility_timeout=args.visibility_timeout,
        heartbeat=args.heartbeat,
        log_args=tuple(log_args(args)),
    )
    return Worker(options, member.client).serve()
