"""The real `newsarchive schedule` daemon in a subprocess against the sample site.

Schedules here count seconds, not minutes (the test-only NEWSARCHIVE_TEST_SECONDS_TRIGGER), so
"*/5 * * * *" fires every 5 seconds. One daemon lives through a whole scenario (start, SIGHUP with
a new source, SIGHUP with a broken config, SIGTERM during a crawl); the tests read what it left.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import CRAWL_SETTINGS, REPO, newsarchive, records_of

from archive.catalog import Catalog
from archive.layout import ArchiveLayout
from crawler.config import load_config
from crawler.sample_server import SampleSite
from crawler.schedule import SECONDS_TRIGGER_ENV, overdue

EVERY_5S = "*/5 * * * *"
TWO_PER_RUN = "[schedule]\nmax_parallel_runs = 2\n"


@dataclass(frozen=True)
class Run:
    sources: tuple[str, ...]
    started: datetime
    finished: datetime | None


def runs_of(archive: Path) -> list[Run]:
    """Every run in the archive's catalog, oldest first."""
    path = ArchiveLayout(archive).catalog_path
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT sources, started_at, finished_at FROM runs ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    return [
        Run(tuple(json.loads(s)), _ts(started), _ts(done) if done else None)
        for s, started, done in rows
    ]


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def finished_runs(archive: Path, source: str) -> list[Run]:
    return [r for r in runs_of(archive) if source in r.sources and r.finished is not None]


def write_daemon_config(
    path: Path, site: SampleSite, archive: Path, schedules: dict[str, str], schedule_table: str = ""
) -> Path:
    """A config crawling the outlets named in `schedules`, each on its schedule."""
    blocks = [
        block.replace('schedule = "*/30 * * * *"', f'schedule = "{schedules[name]}"')
        for block in site.sources_toml().split("\n\n")
        for name in schedules
        if f'name = "{name}"\n' in block
    ]
    settings = CRAWL_SETTINGS.format(
        archive_dir=archive.as_posix(), timeout=1.5, allow_private="true"
    )
    path.write_text(settings + schedule_table + "\n" + "\n\n".join(blocks), encoding="utf-8")
    return path


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler", "schedule", "--config", str(config), "-v"],
            stderr=stream,
            stdout=stream,
            cwd=REPO,
            env={**os.environ, SECONDS_TRIGGER_ENV: "1"},
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def crawl_running(archive: Path) -> bool:
    lock = ArchiveLayout(archive).lock_path
    return lock.exists() and lock.read_text().strip().isdigit()


@dataclass
class Life:
    archive: Path
    log: Path
    first_runs: dict[str, list[Run]]
    """Runs of herald and wire before the first reload."""
    exit_code: int
    stop_seconds: float
    second_daemon: subprocess.CompletedProcess[str]
    herald_runs_before_broken_reload: int
    herald_runs_after_broken_reload: int


@pytest.fixture(scope="module")
def site() -> Iterator[SampleSite]:
    with SampleSite(slow_seconds=3.0) as running:
        yield running


@pytest.fixture(scope="module")
def life(site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    root = tmp_path_factory.mktemp("schedule")
    archive, config, log = root / "archive", root / "sources.toml", root / "daemon.log"
    two = {"herald": EVERY_5S, "wire": EVERY_5S}
    write_daemon_config(config, site, archive, two, TWO_PER_RUN)
    daemon = start_daemon(config, log)
    try:
        wait_for(lambda: all(len(finished_runs(archive, s)) >= 4 for s in two), 60, "4 runs each")
        first_runs = {source: finished_runs(archive, source) for source in two}
        second = subprocess.run(
            [sys.executable, "-m", "crawler", "schedule", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=30,
        )
        write_daemon_config(config, site, archive, {**two, "gazette": EVERY_5S}, TWO_PER_RUN)
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: bool(finished_runs(archive, "gazette")), 40, "the added source to run")
        config.write_text(
            config.read_text() + '\n[[source]]\nname = "broken"\nschedule = "*/61 * * * *"\n'
        )
        daemon.send_signal(signal.SIGHUP)
        wait_for(lambda: "config reload refused" in log.read_text(), 20, "the refused reload")
        before = len(finished_runs(archive, "herald"))
        wait_for(
            lambda: len(finished_runs(archive, "herald")) >= before + 2,
            40,
            "herald to keep running",
        )
        after = len(finished_runs(archive, "herald"))
        wait_for(lambda: crawl_running(archive), 40, "a crawl in progress")
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=90)
        yield Life(
            archive, log, first_runs, code, time.monotonic() - stopping, second, before, after
        )
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_each_source_runs_on_its_schedule(life: Life) -> None:
    for source, runs in life.first_runs.items():
        # runs[0] catches up a source that never ran, runs[1] may wait for it; then the cron
        for run in runs[2:]:
            late = run.started.second % 5
            assert late <= 2, f"{source} started at {run.started}, {late}s after its firing"
            assert set(run.sources) == {"herald", "wire"}, "max_parallel_runs = 2: one crawl"


def test_no_source_ever_runs_twice_at_once_nor_two_crawls_overlap(life: Life) -> None:
    runs = runs_of(life.archive)
    *done, _stopped = runs
    assert all(run.finished is not None for run in done), "only a run stopped by SIGTERM may"
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished is not None
        assert later.started >= earlier.finished, f"{later} started before {earlier} ended"


def test_sighup_with_a_new_source_schedules_it(life: Life) -> None:
    assert finished_runs(life.archive, "gazette")
    assert "config reloaded: 3 sources (1 added, 0 removed, 0 changed)" in life.log.read_text()


def test_sighup_with_a_broken_config_keeps_the_old_schedule(life: Life) -> None:
    text = life.log.read_text()
    assert "ERROR crawler.schedule: config reload refused, the old schedule stays:" in text
    assert "source[4].schedule: bad cron expression '*/61 * * * *'" in text
    assert life.herald_runs_after_broken_reload >= life.herald_runs_before_broken_reload + 2
    assert "exit code 2" not in text, "crawls must keep reading the config the daemon accepted"


def test_a_second_daemon_on_the_same_archive_is_refused(life: Life) -> None:
    assert life.second_daemon.returncode == 75
    assert "another newsarchive schedule daemon serves" in life.second_daemon.stderr


def test_sigterm_exits_0_with_every_warc_closed_and_the_archive_verifying(life: Life) -> None:
    assert life.exit_code == 0
    assert life.stop_seconds < 30
    warc_dir = ArchiveLayout(life.archive).warc_dir
    assert not list(warc_dir.glob("*.open"))
    assert list(warc_dir.glob("*.warc.gz"))
    verified = newsarchive("verify", "--archive-dir", life.archive)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_sigterm_lets_a_running_crawl_finish_its_writes(site: SampleSite, tmp_path: Path) -> None:
    archive, config, log = tmp_path / "archive", tmp_path / "sources.toml", tmp_path / "daemon.log"
    write_daemon_config(config, site, archive, {"daily": "0 * * * *"})
    daemon = start_daemon(config, log)
    try:
        wait_for(lambda: bool(records_of(archive)), 30, "the crawl's first record")
        assert crawl_running(archive), "the slow page keeps the crawl busy for seconds"
        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=90) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert time.monotonic() - stopping < 30
    (run,) = runs_of(archive)
    assert run.finished is not None, "the crawl closed its run in the catalog"
    assert not list(ArchiveLayout(archive).warc_dir.glob("*.open"))
    assert records_of(archive)
    verified = newsarchive("verify", "--archive-dir", archive)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_restart_after_a_kill_catches_up_once_without_duplicates(
    site: SampleSite, tmp_path: Path
) -> None:
    archive, config, log = tmp_path / "archive", tmp_path / "sources.toml", tmp_path / "daemon.log"
    write_daemon_config(config, site, archive, {"daily": "*/3 * * * *"})
    daemon = start_daemon(config, log)
    try:
        wait_for(lambda: bool(records_of(archive)), 30, "the crawl's first record")
        assert crawl_running(archive), "the slow page keeps the crawl busy for seconds"
        crawler_pid = int(ArchiveLayout(archive).lock_path.read_text())
        daemon.kill()
        os.kill(crawler_pid, signal.SIGKILL)
        daemon.wait()
        time.sleep(7)  # two firings or more missed
        restarted = start_daemon(config, log)
        try:
            wait_for(lambda: bool(finished_runs(archive, "daily")), 30, "the catch-up run")
            restarted.send_signal(signal.SIGTERM)
            assert restarted.wait(timeout=90) == 0
        finally:
            if restarted.poll() is None:
                restarted.kill()
    finally:
        if daemon.poll() is None:
            daemon.kill()
    text = log.read_text()
    assert text.count("daily: missed a run (or never ran); running it now") == 2, "once per start"
    records = records_of(archive)
    assert records
    assert len({r["id"] for r in records}) == len(records)
    versions = [(r["canonical_url"], r["version"]) for r in records]
    assert len(set(versions)) == len(versions), "no article stored twice"
    verified = newsarchive("verify", "--archive-dir", archive)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_missed_firings_coalesce_into_one_catch_up(tmp_path: Path) -> None:
    config = load_config(
        write_plain(tmp_path, 'schedule = "*/5 * * * *"'),
    )
    layout = ArchiveLayout(tmp_path / "data")
    layout.root.mkdir()
    catalog = Catalog(layout.catalog_path)
    ten = datetime(2024, 8, 13, 10, 0, tzinfo=UTC)
    run = catalog.start_run(["daily"], ten)
    catalog.finish_run(run, ten + timedelta(seconds=40), {})
    catalog.close()
    sources = config.sources
    assert overdue(sources, layout, ten + timedelta(minutes=4)) == ["never"]
    assert overdue(sources, layout, ten + timedelta(minutes=5)) == ["daily", "never"]
    assert overdue(sources, layout, ten + timedelta(hours=7)) == ["daily", "never"], "one each"


def write_plain(tmp_path: Path, schedule: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[archive]\ndir = "data"\n'
        f'[[source]]\nname = "daily"\nfeeds = ["https://d.example/rss"]\n{schedule}\n'
        f'[[source]]\nname = "never"\nfeeds = ["https://n.example/rss"]\n{schedule}\n',
        encoding="utf-8",
    )
    return path


def test_a_bad_config_stops_the_daemon_before_it_starts(tmp_path: Path) -> None:
    path = write_plain(tmp_path, 'schedule = "0 6 * * 8"')
    result = newsarchive("schedule", "--config", path)
    assert result.returncode == 2
    assert "source[1].schedule: bad cron expression '0 6 * * 8'" in result.stderr
    assert not (tmp_path / "data").exists()
