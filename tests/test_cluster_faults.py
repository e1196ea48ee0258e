"""Workers killed mid-write and a Redis crash lose nothing and archive nothing twice.

Three workers crawl the sample site (with generated bulk articles, listed by three sources at
once, so workers race for the same articles) from the queue one scheduler fills every few
seconds. Each worker runs armed to SIGKILL itself, its crawl and the crawl's extraction workers
(`kill_at_stage.py`, armed in the worker's crawl by `kill_hook/sitecustomize.py`) at a seeded
write of one of five stages: mid-WARC-write, between WARC and JSON, mid-JSON-write, between JSON
and catalog commit, and between the catalog commit and the publish to Redis. A killed worker is
started again under its name with the next kill of the plan, 20 kills in all; halfway, Redis
itself is SIGKILLed, left down for 2 s (longer than its clients retry, so running crawls lose it)
and restarted on its AOF. After the last kill the workers run unarmed until
the collection holds every article, then stop. Then every article of an uninterrupted
single-process reference crawl must be there exactly once across the three shards, every shard
must verify (`verify` over the collection: each shard, with cross-shard revisits and duplicates
resolved across it), and no revisit record anywhere may point at a record missing from the
collection.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from crashes import stages_left
from kill_at_stage import PUBLISH_STAGE, STAGES
from redis_server import RedisServer, redis_server
from support import (
    CRAWL_SETTINGS,
    REPO,
    BackgroundCrawl,
    background_crawl,
    newsarchive,
    records_of,
    warc_records,
)

from archive.layout import ArchiveLayout
from crawler.cluster import keys
from crawler.cluster.index import watermark_key
from crawler.sample_server import SampleSite
from crawler.schedule import SECONDS_TRIGGER_ENV

KILLS = 20
SEED = 20261208
BULK_ARTICLES = 160
WORKERS = ("w1", "w2", "w3")
REDIS_CRASH_AFTER = KILLS // 2
REDIS_OUTAGE = 2.0
CLUSTER_STAGES = (*STAGES[:4], PUBLISH_STAGE)
HOOK = Path(__file__).with_name("kill_hook")
KILL_ENV = "NEWSARCHIVE_TEST_KILL"
INSTANCE_ENV = "NEWSARCHIVE_TEST_INSTANCE"
DEADLINE = 240.0
WORKER_OPTIONS = ("--visibility-timeout", "4", "--heartbeat", "1")


@pytest.fixture(scope="module")
def bulk_site() -> Iterator[SampleSite]:
    with SampleSite(slow_seconds=0.3, bulk_articles=BULK_ARTICLES) as running:
        yield running


def write_cluster_config(path: Path, site: SampleSite, archive: Path) -> Path:
    """Every outlet every 3 s (seconds trigger), the bulk feed listed by two more sources."""
    blocks = site.sources_toml().split("\n\n")
    bulk = next(block for block in blocks if 'name = "bulk"' in block)
    blocks += [bulk.replace('name = "bulk"', f'name = "bulk-{n}"') for n in (2, 3)]
    sources = "\n\n".join(blocks).replace('schedule = "*/30 * * * *"', 'schedule = "*/3 * * * *"')
    settings = CRAWL_SETTINGS.format(
        archive_dir=archive.as_posix(), timeout=1.0, allow_private="true"
    )
    path.write_text(settings + "\n" + sources, encoding="utf-8")
    return path


@dataclass
class Kill:
    """One planned kill and what it left."""

    stage: str
    nth: int
    worker: str = ""
    hit: str = "not yet"


@dataclass
class Fleet:
    """The scheduler and the three workers, each started again when it dies."""

    redis: RedisServer
    config: Path
    root: Path
    plan: list[Kill]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    armed: dict[str, Kill | None] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)
    exits: Counter[str] = field(default_factory=Counter)
    scheduler: subprocess.Popen[bytes] | None = None
    redis_crashed: bool = False

    def shard(self, worker: str) -> Path:
        return self.root / f"shard-{worker}"

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler",
            ["schedule", "--config", self.config, "--cluster", self.redis.url],
            {SECONDS_TRIGGER_ENV: "1"},
        )

    def start_worker(self, worker: str) -> None:
        kill = next((k for k in self.plan if not k.worker), None)
        env = {INSTANCE_ENV: f"{worker}-{self.starts[worker]}"}
        if kill is not None:
            kill.worker = worker
            env |= {KILL_ENV: f"{kill.stage}:{kill.nth}", "PYTHONPATH": str(HOOK)}
        self.armed[worker] = kill
        self.starts[worker] += 1
        args = ["worker", "--cluster", self.redis.url, "--archive-dir", self.shard(worker)]
        self.processes[worker] = self._spawn(
            worker, [*args, "--name", worker, *WORKER_OPTIONS], env
        )

    def _spawn(
        self, name: str, args: list[str | Path], env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "crawler", *map(str, args), "-v"],
                cwd=REPO,
                stdout=log,
                stderr=log,
                env={**os.environ, **env},
                start_new_session=True,
            )

    def tend(self) -> list[Kill]:
        """Start again every worker that exited; the kills that struck since the last call."""
        struck = []
        for worker, process in self.processes.items():
            if process.poll() is None:
                continue
            kill = self.armed[worker]
            instance = f"{worker}-{self.starts[worker] - 1}"
            wait_for_instance_to_die(instance)
            if process.returncode == -signal.SIGKILL and kill is not None:
                kill.hit = judge(self, worker, kill.stage)
                struck.append(kill)
            else:  # not a kill of ours: its kill goes back to the plan
                self.exits[f"{worker} exit {process.returncode}"] += 1
                if kill is not None:
                    kill.worker = ""
            self.start_worker(worker)
        if self.scheduler is not None and self.scheduler.poll() is not None:
            self.exits[f"scheduler exit {self.scheduler.returncode}"] += 1
            self.start_scheduler()
        return struck

    def serving(self) -> bool:
        """Every worker is past its start (its heartbeat is in Redis): a Redis lost now is lost
        mid-run. (Unreachable at a worker's start is exit 69, another case.)"""
        beats = self.redis.client().hgetall(keys.WORKERS)
        return all(
            json.loads(beats.get(worker, "{}")).get("pid") == process.pid
            for worker, process in self.processes.items()
        )

    def crash_redis(self) -> None:
        """SIGKILL Redis mid-run and start it again on its AOF after an outage the workers'
        clients cannot retry through: their crawls lose it mid-run."""
        self.redis.stop(kill=True)
        time.sleep(REDIS_OUTAGE)
        self.redis.start()
        self.redis_crashed = True

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every process (a worker stops its crawl cleanly); their exit codes."""
        running = [p for p in (self.scheduler, *self.processes.values()) if p is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in [("scheduler", self.scheduler), *self.processes.items()]:
            assert process is not None
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = None
        return codes


def wait_for_instance_to_die(instance: str) -> None:
    """Every process a worker started (its crawl, extraction workers) is gone with it."""
    marker = f"{INSTANCE_ENV}={instance}".encode()
    deadline = time.monotonic() + 10
    while True:
        alive = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker in environ.read_bytes().split(b"\0"):
                    alive.append(environ.parent.name)
            except OSError:
                continue
        if not alive:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes {alive} of {instance} survived its SIGKILL")
        time.sleep(0.05)


def judge(fleet: Fleet, worker: str, stage: str) -> str:
    """The stage the shard's files (and the index's watermark) show the kill struck in."""
    shard = fleet.shard(worker)
    if stage == PUBLISH_STAGE:
        return stage if unpublished(fleet.redis, shard, worker) else f"not {stage}"
    scratch = fleet.root / f"scratch-{worker}"
    scratch.mkdir(exist_ok=True)
    return stage if stage in stages_left(shard, scratch) else f"not {stage}"


def unpublished(redis: RedisServer, shard: Path, worker: str) -> bool:
    """The shard committed records past its published watermark."""
    published = int(redis.client().hget(watermark_key(worker), "records") or 0)
    with sqlite3.connect(f"file:{ArchiveLayout(shard).catalog_path}?mode=ro", uri=True) as db:
        committed = db.execute("SELECT coalesce(max(rowid), 0) FROM search_docs").fetchone()[0]
    return bool(committed > published)


def archived_ids(shards: list[Path]) -> Counter[str]:
    """Record ids committed in the shards' catalogs (each counted once per shard holding it)."""
    found: Counter[str] = Counter()
    for shard in shards:
        catalog = ArchiveLayout(shard).catalog_path
        if not catalog.exists():
            continue
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
            found.update(row[0] for row in db.execute("SELECT record_id FROM articles"))
    return found


def dangling_revisits(shards: list[Path]) -> list[str]:
    """Revisit records, anywhere in the collection, whose WARC-Refers-To names no record. (A
    304's revisit may name none: what it was is not known as a capture of that URL.)"""
    ids, refers = set(), []
    for shard in shards:
        for _, record in warc_records(shard):
            ids.add(record.rec_headers.get_header("WARC-Record-ID"))
            target = record.rec_headers.get_header("WARC-Refers-To")
            if record.rec_type == "revisit" and target is not None:
                refers.append(target)
    return [target for target in refers if target not in ids]


def crawl_through_faults(
    fleet: Fleet, reference_crawl: BackgroundCrawl, reference: Path
) -> tuple[list[Kill], set[str]]:
    """Run the fleet through its kills and the Redis crash, then until the shards hold every
    article of the reference crawl; the kills that struck and the reference's record ids."""
    fleet.start_scheduler()
    for worker in WORKERS:
        fleet.start_worker(worker)
    shards = [fleet.shard(worker) for worker in WORKERS]
    deadline = time.monotonic() + DEADLINE
    struck: list[Kill] = []
    expected: set[str] | None = None
    while len(struck) < KILLS or expected is None or not expected <= archived_ids(shards).keys():
        assert time.monotonic() < deadline, (struck, fleet.exits)
        struck += fleet.tend()
        if len(struck) >= REDIS_CRASH_AFTER and not fleet.redis_crashed and fleet.serving():
            fleet.crash_redis()
        if expected is None and not reference_crawl.running():
            assert reference_crawl.finish(timeout=10).returncode == 0
            expected = {record["id"] for record in records_of(reference)}
            assert len(expected) > BULK_ARTICLES
        time.sleep(0.1)
    return struck, expected


def test_twenty_worker_kills_and_a_redis_crash_lose_nothing_and_duplicate_nothing(
    bulk_site: SampleSite, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    most = {STAGES[0]: 12, PUBLISH_STAGE: 2}
    plan = [
        Kill(stage, rng.randint(1, most.get(stage, 3)))
        for stage in (CLUSTER_STAGES[kill % len(CLUSTER_STAGES)] for kill in range(KILLS))
    ]
    reference = tmp_path / "reference"
    reference_config = write_cluster_config(tmp_path / "reference.toml", bulk_site, reference)
    config = write_cluster_config(tmp_path / "cluster.toml", bulk_site, tmp_path / "unused")
    # The reference crawl runs beside the cluster's: it is needed only to tell when to stop.
    with (
        background_crawl(reference_config, "-q") as reference_crawl,
        redis_server(tmp_path / "redis") as redis,
    ):
        fleet = Fleet(redis, config, tmp_path, plan)
        try:
            struck, expected = crawl_through_faults(fleet, reference_crawl, reference)
        finally:
            codes = fleet.stop()

    shards = [fleet.shard(worker) for worker in WORKERS]
    got = Counter(record["id"] for shard in shards for record in records_of(shard))
    # Each shard, with what a record or revisit names looked for across the collection.
    verify = newsarchive("verify", *(arg for shard in shards for arg in ("--archive-dir", shard)))
    figures = {
        "kills": len(struck),
        "stages": dict(Counter(kill.hit for kill in struck)),
        "lost": len(expected - got.keys()),
        "duplicated": sum(count - 1 for count in got.values()),
        "unexpected": len(got.keys() - expected),
        "dangling_revisits": len(dangling_revisits(shards)),
        "leftover_open": sum(len(list((s / "warc").glob("*.open"))) for s in shards),
        "other_exits": dict(fleet.exits),
        "stop_codes": codes,
    }
    print(json.dumps(figures))
    assert all(figures[name] == 0 for name in ("lost", "duplicated", "unexpected")), figures
    assert figures["dangling_revisits"] == 0, figures
    assert verify.returncode == 0, verify.stdout
    assert figures["leftover_open"] == 0, figures
    assert figures["other_exits"] == {}, figures  # a lost Redis is waited for, not an exit
    assert all(kill.hit == kill.stage for kill in struck), figures
    assert set(codes.values()) == {0}, figures
