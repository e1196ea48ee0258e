"""Crawl workers against one process on a politeness-bound site of many hosts.

    python bench/scale.py [--hosts 16] [--articles 20] [--workers 1 2 4] [--quick]

Serves `--hosts` outlets on 127.0.0.2, 127.0.0.3, ..., each its own host with its own generated
articles (bench.corpus) and section feeds, answering every request after a seeded 100-300 ms.
The crawls use the default `[crawl]` settings, per-host delay included, so each host is fetched
as politely as a real outlet would be and one host's articles arrive no faster than the delay
allows: the way past that is more hosts crawled side by side.

- one process: `newsarchive crawl` of every source into one archive.
- K workers (for each of `--workers`): a fresh redis-server (tests/redis_server.py: loopback,
  password, AOF), every source put on the run queue once, then K `newsarchive worker --cluster URL
  --archive-dir SHARD_i` side by side until the queue is drained (every run acknowledged).

Printed per line: articles archived, wall seconds (start of the first process to the end of the
last run), articles/s, speed-up over one worker, CPU milliseconds per article of every process of
the run (user + sys, from getrusage of the reaped children: crawls, extraction workers, workers)
and Redis's own CPU per article (INFO cpu, idle time included), also as a share of the run's own
CPU per article ("of run": what Redis adds) and of the one-process crawl's ("of 1-proc").
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from redis_server import RedisServer, redis_server  # noqa: E402

from archive.catalog import connect_read_only  # noqa: E402
from archive.layout import ArchiveLayout  # noqa: E402
from bench.corpus import Corpus, CorpusServer  # noqa: E402
from bench.procmem import children_cpu  # noqa: E402
from crawler.cluster import keys  # noqa: E402
from crawler.cluster.queue import enqueue  # noqa: E402
from crawler.config import load_config  # noqa: E402

LATENCY = (0.1, 0.3)
IDLE_SECONDS = 3.0
SEED = 16
SETTINGS = """\
[archive]
dir = "{archive}"

[crawl]
allow_private_addresses = true

"""


@dataclass(frozen=True)
class Run:
    """One measured crawl: articles archived, wall seconds, CPU seconds of its processes and of
    Redis (0 without)."""

    label: str
    articles: int
    seconds: float
    cpu: float
    redis_cpu: float = 0.0
    redis_idle: float = 0.0
    """Redis's CPU seconds per second before any client used it (its own housekeeping)."""

    @property
    def rate(self) -> float:
        return self.articles / self.seconds

    def per_article_ms(self, seconds: float) -> float:
        return 1000 * seconds / max(self.articles, 1)


@contextmanager
def outlets(hosts: int, articles: int) -> Iterator[list[CorpusServer]]:
    """`hosts` slow outlets on 127.0.0.2 upwards, each with its own `articles` articles."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                CorpusServer(
                    Corpus(articles, seed=SEED + n), host=f"127.0.0.{n + 2}", latency=LATENCY
                )
            )
            for n in range(hosts)
        ]


def sources_toml(servers: list[CorpusServer]) -> str:
    """One `[[source]]` per outlet: its section feeds, its host."""
    return "\n".join(
        f'[[source]]\nname = "outlet-{n:02d}"\nfeeds = {json.dumps(server.corpus.feed_urls)}\n'
        f'allowed_domains = ["{server.host}"]\n'
        for n, server in enumerate(servers)
    )


def write_config(path: Path, archive: Path, servers: list[CorpusServer]) -> Path:
    path.write_text(SETTINGS.format(archive=archive.as_posix()) + sources_toml(servers))
    return path


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "crawler", *map(str, args)]


def archived(shard: Path) -> int:
    """Articles in a shard's catalog."""
    db = connect_read_only(ArchiveLayout(shard).catalog_path)
    try:
        count: int = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        return count
    finally:
        db.close()


def one_process(work: Path, servers: list[CorpusServer]) -> Run:
    """`newsarchive crawl` of every source into one archive."""
    archive = work / "single"
    config = write_config(work / "single.toml", archive, servers)
    cpu, started = children_cpu(), time.monotonic()
    done = subprocess.run(
        command("crawl", "--config", config, "--json"), cwd=REPO, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"crawl failed with exit {done.returncode}: {done.stderr[-2000:]}")
    return Run("1 process", archived(archive), seconds, children_cpu() - cpu)


def redis_cpu(redis: RedisServer) -> float:
    info = redis.client().info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def workers(work: Path, servers: list[CorpusServer], count: int) -> Run:
    """`count` workers crawling every source once, taken from a queue filled beforehand."""
    root = work / f"workers-{count}"
    config = write_config(work / f"cluster-{count}.toml", root / "unused", servers)
    with redis_server(root / "redis") as redis:
        idle = redis_cpu(redis)
        time.sleep(IDLE_SECONDS)
        idle = (redis_cpu(redis) - idle) / IDLE_SECONDS
        enqueue_all(redis, config)
        cpu, redis_before, started = children_cpu(), redis_cpu(redis), time.monotonic()
        shards = [root / f"shard-{n}" for n in range(1, count + 1)]
        processes = [
            subprocess.Popen(
                command(
                    "worker", "--cluster", redis.url, "--archive-dir", shard, "--name", shard.name
                ),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=(root / f"{shard.name}.log").open("wb"),
            )
            for shard in shards
        ]
        try:
            wait_drained(redis, processes)
            seconds = time.monotonic() - started
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
        used = children_cpu() - cpu
        by_redis = redis_cpu(redis) - redis_before
    total = sum(archived(shard) for shard in shards if ArchiveLayout(shard).catalog_path.exists())
    return Run(f"{count} worker" + "s" * (count > 1), total, seconds, used, by_redis, idle)


def enqueue_all(redis: RedisServer, config: Path) -> None:
    """Put one run of every source of `config` on the queue, one message each, as a scheduler
    whose sources all fell due at once would."""
    due = datetime.now(UTC).isoformat()
    for source in load_config(config).sources:
        enqueue(redis.client(), [source.name], config.read_text(), due, "bench")


def wait_drained(redis: RedisServer, processes: list[subprocess.Popen[bytes]]) -> None:
    """Until every queued run is acknowledged (a finished run's message is deleted); a worker
    exiting first is a failed bench."""
    client = redis.client()
    while client.xlen(keys.RUNS):
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a worker exited before the queue was drained (see its log)")
        time.sleep(0.2)


def table(runs: list[Run]) -> str:
    """One line per run; the Redis columns: its CPU per article, as a share of the CPU the
    run's own processes used per article, and of the one-process crawl's CPU per article."""
    single = next(run for run in runs if run.label == "1 process")
    one_worker = next((run for run in runs if run.label == "1 worker"), None)
    lines = [
        f"{'':10} {'articles':>8} {'seconds':>8} {'art/s':>6} {'speed-up':>8} {'CPU ms/art':>10} "
        f"{'Redis ms/art':>12} {'of run':>7} {'of 1-proc':>9}"
    ]
    for run in runs:
        speedup = f"{run.rate / one_worker.rate:.2f}x" if one_worker and run.redis_cpu else "-"
        redis = (
            "-"
            if not run.redis_cpu
            else (
                f"{run.per_article_ms(run.redis_cpu):12.2f} {run.redis_cpu / run.cpu:7.1%} "
                f"{run.per_article_ms(run.redis_cpu) / single.per_article_ms(single.cpu):9.1%}"
            )
        )
        lines.append(
            f"{run.label:10} {run.articles:8d} {run.seconds:8.1f} {run.rate:6.2f} {speedup:>8} "
            f"{run.per_article_ms(run.cpu):10.1f} {redis:>30}"
        )
    idle = [run.redis_idle for run in runs if run.redis_cpu]
    if idle:
        lines.append(
            f"Redis idle, before any client: {1000 * max(idle):.2f} ms CPU per second "
            "(included in Redis ms/art)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=16, help="outlets, one host each")
    parser.add_argument("--articles", type=int, default=20, help="articles per outlet")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--quick", action="store_true", help="8 hosts of 8 articles")
    args = parser.parse_args()
    if args.quick:
        args.hosts, args.articles = 8, 8
    print("$ python bench/scale.py " + shlex.join(sys.argv[1:]), flush=True)
    print(
        f"{args.hosts} hosts x {args.articles} articles, {LATENCY[0]:g}-{LATENCY[1]:g} s per "
        "answer, default [crawl] settings (per-host delay)",
        flush=True,
    )
    with outlets(args.hosts, args.articles) as servers, tempfile.TemporaryDirectory() as tmp:
        runs = [one_process(Path(tmp), servers)]
        for count in args.workers:
            runs.append(workers(Path(tmp), servers, count))
            print(f"  {runs[-1].label}: {runs[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    print(table(runs))


if __name__ == "__main__":
    main()
