"""The distributed mode's queue end to end: the real `schedule --cluster`, `worker` and
`status --cluster` commands in subprocesses, a real redis-server (AOF, password, loopback) and
the sample site.

Workers here use a 3 s visibility timeout and a 0.5 s heartbeat, so a redelivery takes seconds.
Until the shared dedup index lands, two shards may archive one article; these tests assert what
the queue promises: every run done, acknowledged once, no source crawled by two workers at once,
every shard verifying.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis_server import PASSWORD, RedisServer, redis_server
from support import REPO, closed_port, newsarchive, records_of
from test_schedule import wait_for, write_daemon_config

from archive.collection import Collection
from archive.layout import ArchiveLayout
from archive.verify import verify_collection
from crawler.cluster import CLUSTER_ENV, keys
from crawler.cluster.queue import enqueue
from crawler.cluster.worker import is_final
from crawler.crawlprocess import CrawlResult
from crawler.sample_server import SampleSite
from crawler.schedule import SECONDS_TRIGGER_ENV
from crawler.status import lock_holder

VISIBILITY = 3.0
TIMING = ("--visibility-timeout", str(VISIBILITY), "--heartbeat", "0.5")


@contextmanager
def worker(
    redis: RedisServer, shard: Path, name: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`newsarchive worker` as `name` into `shard`, logging to `log`, the Redis URL (with its
    password) in its environment as a systemd unit gives it; killed if still running when the
    block ends."""
    command = [sys.executable, "-m", "crawler", "worker", "--cluster", "--archive-dir", str(shard)]
    with log.open("ab") as stream:
        process = subprocess.Popen(
            [*command, "--name", name, *TIMING, "-v"],
            stdout=stream,
            stderr=stream,
            cwd=REPO,
            env={**os.environ, CLUSTER_ENV: redis.url},
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def queue_run(redis: RedisServer, config: Path, *sources: str) -> str:
    """Queue a run of `sources` as the scheduler does; its message id."""
    message_id, queued = enqueue(
        redis.client(), sources, config.read_text(encoding="utf-8"), "2024-08-13T09:00:00Z", "test"
    )
    assert message_id is not None and queued == sources
    return message_id


def last_result(redis: RedisServer, source: str) -> dict[str, object]:
    text = redis.client().hget(keys.source(source), "last")
    return json.loads(text) if text else {}


def slow_run_config(site: SampleSite, folder: Path) -> Path:
    """A config of the sample site's `daily`, whose slow page keeps its run busy for seconds."""
    return write_daemon_config(folder / "s.toml", site, folder / "unused", {"daily": "0 * * * *"})


@dataclass(frozen=True)
class SlowRun:
    """A run of the sample site's slow `daily` under way on worker w1 (logging to `log`)."""

    redis: RedisServer
    w1: subprocess.Popen[bytes]
    crawl: int
    """The pid of w1's crawl."""
    message: str
    log: Path


@contextmanager
def slow_run_under_way(site: SampleSite, tmp_path: Path, shard: Path) -> Iterator[SlowRun]:
    """Redis, a queued run of `daily`, and worker w1 crawling it into `shard`, a second into it."""
    config, log = slow_run_config(site, tmp_path), tmp_path / "w1.log"
    with redis_server(tmp_path / "redis") as redis:
        message = queue_run(redis, config, "daily")
        with worker(redis, shard, "w1", log) as w1:
            crawl = crawl_of(shard)
            time.sleep(1)  # mid-run: the sample site's slow page holds it for seconds
            yield SlowRun(redis, w1, crawl, message, log)


def runs_of(shard: Path) -> list[tuple[str, datetime, datetime | None]]:
    """(source, started, finished) of every run of every source in the shard's catalog."""
    path = ArchiveLayout(shard).catalog_path
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT sources, started_at, finished_at FROM runs").fetchall()
    finally:
        db.close()
    return [
        (name, _ts(started), _ts(finished) if finished else None)
        for sources, started, finished in rows
        for name in json.loads(sources)
    ]


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def crawl_of(shard: Path) -> int:
    """Wait until a crawl holds the shard (its run is under way); its pid."""
    lock = ArchiveLayout(shard).lock_path
    wait_for(lambda: lock_holder(lock) is not None, 30, "a crawl of the shard")
    pid = lock_holder(lock)
    assert pid is not None
    return pid


def settled(shard: Path) -> None:
    """Wait until no crawl holds the shard (an orphaned one stops when its worker dies)."""
    wait_for(lambda: lock_holder(ArchiveLayout(shard).lock_path) is None, 30, "the shard free")


def verifies(*shards: Path) -> bool:
    """The shards verify as one collection: a revisit may refer to a record of another shard.
    Without the collection's shared dedup index (cluster-index's branch), two shards may each
    archive one article, under the same record id: that problem alone is not this test's (the
    fault test asserts every article exactly once across the shards)."""
    found = verify_collection(Collection.of(*shards))
    problems = [problem for problem in found if " already used at " not in problem.message]
    assert not problems, problems
    return True


def test_redis_unreachable_at_start_is_exit_69_one_line_and_nothing_written(
    site: SampleSite, tmp_path: Path
) -> None:
    shard, archive = tmp_path / "shard", tmp_path / "archive"
    config = write_daemon_config(tmp_path / "s.toml", site, archive, {"wire": "* * * * *"})
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0"
    for done in (
        newsarchive("worker", "--cluster", url, "--archive-dir", shard, "--name", "w1"),
        newsarchive("schedule", "--config", config, "--cluster", url),
        newsarchive("status", "--cluster", url),
    ):
        assert done.returncode == 69
        assert done.stderr.count("\n") == 1 and "cannot reach Redis" in done.stderr
        assert PASSWORD not in done.stderr
    assert not shard.exists() and not archive.exists()


def test_a_worker_refuses_a_name_a_live_worker_elsewhere_uses(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as redis:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        beat = {"host": "elsewhere", "shard": "/srv/a", "heartbeat": now, "every": 10}
        redis.client().hset(keys.WORKERS, "w1", json.dumps(beat))
        other = newsarchive(
            "worker", "--cluster", redis.url, "--archive-dir", tmp_path / "s", "--name", "w1"
        )
    assert other.returncode == 2, other.stderr
    assert other.stderr.count("\n") == 1 and "used by a live worker on elsewhere" in other.stderr


@pytest.mark.parametrize(
    ("code", "stdout", "final"),
    [
        (0, '{"outcome": "finished"}', True),
        (1, "", True),  # an archive problem: the same again would fail the same way
        (2, '{"outcome": "error"}', True),
        (69, '{"outcome": "failed"}', True),  # every feed failed: the run is over
        (69, '{"outcome": "cluster_unavailable"}', False),
        (75, '{"outcome": "locked"}', False),
        (-9, "", False),
    ],
)
def test_only_a_final_result_is_acknowledged(code: int, stdout: str, final: bool) -> None:
    assert is_final(CrawlResult(code, stdout)) is final


def test_enqueue_coalesces_sources_already_queued_or_being_crawled(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as redis:
        client = redis.client()
        first, queued = enqueue(client, ["a", "b"], "[archive]\n", "now", "host")
        assert first and queued == ("a", "b")
        assert enqueue(client, ["a", "c"], "[archive]\n", "now", "host")[1] == ("c",)
        client.set(keys.lease("d"), "w9")
        assert enqueue(client, ["d", "b"], "[archive]\n", "now", "host") == (None, ())
        assert client.xlen(keys.RUNS) == 2
        client.xdel(keys.RUNS, first)  # a run gone from the stream no longer holds its sources
        assert enqueue(client, ["a", "b"], "[archive]\n", "now", "host")[1] == ("a", "b")


def test_scheduler_queues_and_three_workers_crawl_into_their_shards(
    site: SampleSite, tmp_path: Path
) -> None:
    schedules = {"herald": "*/4 * * * *", "wire": "*/4 * * * *", "gazette": "0 * * * *"}
    config = write_daemon_config(tmp_path / "sources.toml", site, tmp_path / "unused", schedules)
    names = ("w1", "w2", "w3")
    shards = {name: tmp_path / f"shard-{name}" for name in names}
    with redis_server(tmp_path / "redis") as redis, ExitStack() as stack:
        workers = [
            stack.enter_context(worker(redis, shards[n], n, tmp_path / f"{n}.log")) for n in names
        ]
        with (tmp_path / "schedule.log").open("ab") as log:
            scheduler = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "crawler",
                    "schedule",
                    "--config",
                    str(config),
                    "--cluster",
                    redis.url,
                    "-v",
                ],
                stdout=log,
                stderr=log,
                cwd=REPO,
                env={**os.environ, SECONDS_TRIGGER_ENV: "1"},
            )
        try:

            def herald_runs() -> int:
                return sum(
                    s == "herald" and done is not None
                    for shard in shards.values()
                    for s, _, done in runs_of(shard)
                )

            wait_for(lambda: all(last_result(redis, s) for s in schedules), 40, "every source")
            wait_for(lambda: herald_runs() >= 2, 30, "herald run again by its trigger")
            status = newsarchive("status", "--cluster", redis.url)
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=30) == 0
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
        for process in workers:
            process.send_signal(signal.SIGTERM)
        assert [process.wait(timeout=60) for process in workers] == [0, 0, 0]
        assert redis.client().hlen(keys.WORKERS) == 0, "a stopped worker leaves the list"
    assert status.returncode == 0, status.stderr
    for name in names:
        shown = [line for line in status.stdout.splitlines() if line.startswith(f"{name} ")]
        assert shown and " alive " in shown[0], status.stdout
    assert "queue: " in status.stdout
    for source in schedules:
        assert any(line.startswith(f"{source} ") for line in status.stdout.splitlines())
    assert not (tmp_path / "unused").exists(), "the scheduler writes no archive of its own"
    runs = sorted(
        (run for shard in shards.values() for run in runs_of(shard)), key=lambda r: (r[0], r[1])
    )
    assert {source for source, _, _ in runs} == set(schedules)
    for earlier, later in itertools.pairwise(runs):
        if earlier[0] == later[0]:
            assert earlier[2] is not None and later[1] >= earlier[2], f"{later} overlaps {earlier}"
    used = [name for name in names if runs_of(shards[name])]
    assert len(used) >= 2, "the runs were spread over the workers"
    for name in used:
        warcs = list(ArchiveLayout(shards[name]).warc_dir.glob("*.warc.gz"))
        assert warcs and all(path.name.startswith(f"{name}-") for path in warcs)
    assert verifies(*(shards[name] for name in used))
    assert {record["source"] for n in used for record in records_of(shards[n])} == set(schedules)


def test_a_worker_killed_mid_run_has_its_run_redelivered_after_the_visibility_timeout(
    site: SampleSite, tmp_path: Path
) -> None:
    first, second = tmp_path / "shard-w1", tmp_path / "shard-w2"
    with slow_run_under_way(site, tmp_path, first) as run:
        redis, client, message = run.redis, run.redis.client(), run.message
        with worker(redis, second, "w2", tmp_path / "w2.log"):
            run.w1.kill()
            killed = time.monotonic()
            wait_for(lambda: client.get(keys.lease("daily")) == "w2", 20, "the redelivery")
            taken = time.monotonic() - killed
            wait_for(lambda: bool(last_result(redis, "daily")), 30, "the run done")
            assert client.xlen(keys.RUNS) == 0 and not client.hgetall(keys.QUEUED)
            assert client.xpending(keys.RUNS, keys.GROUP)["pending"] == 0
        last = last_result(redis, "daily")
    assert VISIBILITY - 1 <= taken <= 3 * VISIBILITY, f"taken over after {taken:.1f}s"
    assert last["worker"] == "w2" and last["exit_code"] == 0
    assert f"run of daily ({message}) taken over" in (tmp_path / "w2.log").read_text()
    assert [source for source, _, done in runs_of(second) if done] == ["daily"]
    settled(first)  # the killed worker's crawl was told to stop (it does not crawl on alone)
    assert verifies(first, second)


def test_a_source_being_crawled_is_not_crawled_by_a_second_worker_at_the_same_time(
    site: SampleSite, tmp_path: Path
) -> None:
    config = slow_run_config(site, tmp_path)
    first, second = tmp_path / "shard-w1", tmp_path / "shard-w2"
    with redis_server(tmp_path / "redis") as redis, ExitStack() as stack:
        client = redis.client()
        for name, shard in (("w1", first), ("w2", second)):
            stack.enter_context(worker(redis, shard, name, tmp_path / f"{name}.log"))
        wait_for(lambda: client.hlen(keys.WORKERS) == 2, 30, "both workers ready")
        queue_run(redis, config, "daily")
        wait_for(lambda: client.exists(keys.lease("daily")), 20, "a worker to take the run")
        crawl_of(first if client.get(keys.lease("daily")) == "w1" else second)
        # a second run of the source while the first goes on, as a second scheduler with a
        # stale view could queue it: its lease keeps it waiting until the first run ends
        fields = {"sources": "daily", "config": config.read_text(), "due": "", "enqueued_by": ""}
        client.xadd(keys.RUNS, fields)
        wait_for(lambda: client.xlen(keys.RUNS) == 0, 60, "both runs done")
    waited = [
        (tmp_path / f"{name}.log").read_text().count("being crawled by") for name in ("w1", "w2")
    ]
    assert sum(waited) >= 1, "the second run found its source leased"
    one, other = sorted(runs_of(first) + runs_of(second), key=lambda run: run[1])
    assert one[2] is not None and other[1] >= one[2], "the second run began after the first ended"


def test_redis_killed_and_restarted_loses_no_run_and_the_worker_carries_on(
    site: SampleSite, tmp_path: Path
) -> None:
    schedules = {"daily": "0 * * * *", "wire": "0 * * * *"}
    config = write_daemon_config(tmp_path / "s.toml", site, tmp_path / "unused", schedules)
    shard, log = tmp_path / "shard", tmp_path / "w1.log"

    def outage(times: int) -> None:
        """Kill Redis, wait for the worker's `times`-th lost line, start Redis on its AOF."""
        redis.stop(kill=True)
        # The worker's own line: its crawl (a cluster member since cluster-index) logs its own.
        lost = "crawler.cluster.worker: lost Redis"
        wait_for(lambda: log.read_text().count(lost) == times, 10, "the worker to notice")
        time.sleep(1)
        redis.start()

    with redis_server(tmp_path / "redis") as redis:
        queue_run(redis, config, "daily")
        redis.restart(kill=True)  # a crash: what is left is what the AOF holds
        assert redis.client().xlen(keys.RUNS) == 1
        with worker(redis, shard, "w1", log) as w1:
            crawl_of(shard)  # the queued run, taken after the crash
            outage(1)  # while the run goes on
            wait_for(lambda: bool(last_result(redis, "daily")), 30, "the run done")
            outage(2)  # while the worker waits for a run
            queue_run(redis, config, "wire")
            wait_for(lambda: bool(last_result(redis, "wire")), 30, "a run queued after")
            client = redis.client()
            assert client.xlen(keys.RUNS) == 0 and not client.hgetall(keys.QUEUED)
            client.flushall()  # as a Redis restarted without its append-only file comes back
            wait_for(lambda: "the queue is gone" in log.read_text(), 10, "the worker to notice")
            wait_for(lambda: client.hexists(keys.WORKERS, "w1"), 10, "its next heartbeat")
            assert w1.poll() is None, "the worker survived the outages"
            w1.send_signal(signal.SIGTERM)
            assert w1.wait(timeout=30) == 0
    text = log.read_text()
    assert text.count("WARNING crawler.cluster.worker: lost Redis at redis://:***@") == 2
    assert text.count("INFO crawler.cluster.worker: Redis at redis://:***@") == 2  # back
    assert PASSWORD not in text
    assert {s for s, _, done in runs_of(shard) if done} == set(schedules)
    assert verifies(shard)


def test_sigterm_stops_the_crawl_and_leaves_its_run_which_the_restarted_worker_takes_first(
    site: SampleSite, tmp_path: Path
) -> None:
    shard = tmp_path / "shard"
    with slow_run_under_way(site, tmp_path, shard) as run:
        redis, client, log = run.redis, run.redis.client(), run.log
        for pid in (run.w1.pid, run.crawl):  # what `ps` shows every user
            assert PASSWORD not in Path(f"/proc/{pid}/cmdline").read_text()
        run.w1.send_signal(signal.SIGTERM)
        assert run.w1.wait(timeout=30) == 0
        assert not last_result(redis, "daily"), "a stopped run is not acknowledged"
        assert client.xpending(keys.RUNS, keys.GROUP)["consumers"] == [{"name": "w1", "pending": 1}]
        assert client.get(keys.lease("daily")) is None, "its source is free for another worker"
        assert not list(ArchiveLayout(shard).warc_dir.glob("*.open")), "the WARC file was closed"
        assert verifies(shard)
        with worker(redis, shard, "w1", log):
            wait_for(lambda: bool(last_result(redis, "daily")), 30, "the run taken back")
        assert client.xlen(keys.RUNS) == 0
    assert "taking back 1 runs this worker had not finished" in log.read_text()


def test_status_shows_stale_workers_and_escapes_what_redis_holds(tmp_path: Path) -> None:
    hostile = "evil\x1b]0;owned\x07host"
    with redis_server(tmp_path / "redis") as redis:
        client = redis.client()
        beat = {"host": hostile, "pid": 1, "shard": "/s", "run": ["daily"], "every": 1}
        client.hset(keys.WORKERS, "w1", json.dumps({**beat, "heartbeat": "2024-08-13T09:00:00Z"}))
        client.hset(keys.source("daily"), "last", json.dumps({"worker": hostile, "outcome": "x"}))
        client.hset(keys.QUEUED, "wire", "1-0")
        done = newsarchive("status", "--cluster", redis.url)
        as_json = newsarchive("status", "--cluster", redis.url, "--json")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "evil\\x1b]0;owned\\x07host" in done.stdout
    assert "workers: 0 alive, 1 stale" in done.stdout
    (worker_line,) = [line for line in done.stdout.splitlines() if line.startswith("w1 ")]
    assert " stale " in worker_line and " daily " in worker_line
    (wire,) = [line for line in done.stdout.splitlines() if line.startswith("wire ")]
    assert " queued " in wire
    status = json.loads(as_json.stdout)
    assert status["workers"][0]["host"] == hostile and not status["workers"][0]["alive"]
