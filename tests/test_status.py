"""`newsarchive status`: last run, its counts and errors, and the next run of every source."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import (
    LocalSite,
    background_crawl,
    local_config,
    newsarchive,
    serve,
    story_feed,
    story_page,
    write_config,
)

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from crawler.config import load_config
from crawler.sample_server import SampleSite
from crawler.status import source_status
from crawler.summary import EXIT_UNAVAILABLE

pytestmark = pytest.mark.start_early  # runs for minutes: see conftest.py


def status_json(config: Path) -> dict[str, Any]:
    result = newsarchive("status", "--config", config, "--json")
    assert result.returncode == 0, result.stderr
    by_source: dict[str, Any] = {s["source"]: s for s in json.loads(result.stdout)["sources"]}
    return by_source


def test_status_before_any_run_and_after_a_cron_mode_crawl(
    site: SampleSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    before = status_json(config)
    assert set(before) == set(site.outlets)
    assert all(s["outcome"] == "never ran" and s["last_run"] is None for s in before.values())
    assert before["herald"]["next_run"] is None, "no daemon serves the archive: no next run"

    crawled = newsarchive("crawl", "--config", config, "--source", "gazette", "--json")
    assert crawled.returncode == 0, crawled.stderr
    after = status_json(config)
    gazette = after["gazette"]
    assert gazette["outcome"] == "finished"
    summary = gazette["last_run"]["summary"]
    assert summary["articles_new"] == crawled.summary()["articles_new"] > 0
    assert summary["errors_total"] >= 1, "the page robots.txt forbids is logged and kept"
    assert any("robots.txt" in line for line in summary["errors"])
    assert after["herald"]["outcome"] == "never ran"

    text = newsarchive("status", "--config", config)
    assert text.returncode == 0
    block = text.stdout.split("\n\n")[1 + [*site.outlets].index("gazette")]
    assert block.startswith("gazette  (*/30 * * * *, UTC)")
    assert "  last run: " in block and ", finished" in block
    assert f"articles {summary['articles_new']} new" in block
    assert "  errors:   " in block and "robots.txt" in block
    assert "  next run: none (no daemon serves this archive)" in block
    assert text.stdout.startswith("daemon: not running")


def test_status_shows_a_crawl_in_progress(site: SampleSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    with background_crawl(config, "--source", "daily") as crawl:
        deadline = time.monotonic() + 20
        while (outcome := status_json(config)["daily"]["outcome"]) == "never ran":
            assert time.monotonic() < deadline, "the run never showed up"
            time.sleep(0.2)
        assert outcome == "running"
        done = crawl.finish(timeout=60)
        assert done.returncode == 0, done.stderr
    assert status_json(config)["daily"]["outcome"] == "finished"


def test_next_run_follows_the_source_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[schedule]\ntimezone = "Asia/Tokyo"\n'
        '[[source]]\nname = "morning"\nfeeds = ["https://m.example/rss"]\n'
        'schedule = "0 9 * * 1-5"\n',
        encoding="utf-8",
    )
    saturday = datetime(2024, 8, 17, 12, 0, tzinfo=UTC)
    (status,) = source_status(load_config(path), now=saturday, daemon_pid=1).sources
    assert status.outcome == "never ran"
    # 09:00 on Monday in Tokyo is 00:00 UTC that Monday
    assert status.next_run == datetime(2024, 8, 19, 0, 0, tzinfo=UTC)


def two_sources(site: LocalSite, down: str = "/down.xml") -> str:
    """`up` lists two stories, one of them missing (404); `down`'s one feed is missing."""
    base = site.base_url
    site.pages["/up.xml"] = story_feed(base, range(2))
    site.pages["/story/0.html"] = story_page(0)
    return (
        f'[[source]]\nname = "up"\nfeeds = ["{base}/up.xml"]\n\n'
        f'[[source]]\nname = "down"\nfeeds = ["{base}{down}"]\n'
    )


def test_a_run_where_every_feed_failed_exits_69_and_is_not_finished(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        config = local_config(tmp_path / "c.toml", tmp_path / "archive", two_sources(site))
        crawled = newsarchive("crawl", "--config", config, "--source", "down", "--json")
        text = newsarchive("crawl", "--config", config, "--source", "down")
    assert crawled.returncode == text.returncode == EXIT_UNAVAILABLE == 69, crawled.stderr
    summary = crawled.summary()
    assert summary["outcome"] == "failed" and summary["feeds_failed"] == 1
    assert text.stdout.rstrip().endswith("FAILED: every feed failed")
    down = status_json(config)["down"]
    assert down["outcome"] == "failed: every feed failed"
    shown = newsarchive("status", "--config", config).stdout
    assert "down  (" in shown and ", failed: every feed failed" in shown


def test_status_of_a_two_source_run_gives_each_source_its_own_counts_and_errors(
    tmp_path: Path,
) -> None:
    with serve(LocalSite()) as site:
        config = local_config(tmp_path / "c.toml", tmp_path / "archive", two_sources(site))
        crawled = newsarchive("crawl", "--config", config, "--json")
    assert crawled.returncode == 0, "one source answered: not an outage"
    assert crawled.summary()["outcome"] == "finished"
    by_source = status_json(config)
    up, down = by_source["up"], by_source["down"]
    assert up["outcome"] == "finished"
    assert down["outcome"] == "failed: every feed failed"
    assert up["last_run"]["counts"]["articles_new"] == 1
    assert up["last_run"]["counts"]["articles_failed"] == 1
    assert "feeds_failed" not in up["last_run"]["counts"]
    assert down["last_run"]["counts"]["feeds_failed"] == 1
    assert "articles_new" not in down["last_run"]["counts"]
    assert all(line.startswith("WARNING up: ") for line in up["last_run"]["counts"]["errors"])
    assert all(line.startswith("WARNING down: ") for line in down["last_run"]["counts"]["errors"])
    text = newsarchive("status", "--config", config).stdout
    up_block, down_block = text.split("\n\n")[1:]
    assert "articles 1 new, 0 updated, 0 duplicate, 1 failed" in up_block
    assert "/story/1.html" in up_block and "down.xml" not in up_block
    assert "feeds 1 polled, 1 failed" in down_block and "/story/" not in down_block


def test_status_says_whether_a_daemon_serves_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with serve(LocalSite()) as site:
        config = local_config(tmp_path / "c.toml", archive, two_sources(site))
    without = newsarchive("status", "--config", config)
    assert without.stdout.startswith("daemon: not running")
    assert status_json(config)["up"]["next_run"] is None
    archive.mkdir()
    # The lock `newsarchive schedule` holds while it serves the archive, held here by this
    # live process.
    with ArchiveLock(ArchiveLayout(archive).schedule_lock_path):
        served = newsarchive("status", "--config", config, "--json")
        shown = newsarchive("status", "--config", config).stdout
    daemon = json.loads(served.stdout)["daemon"]
    assert daemon == {"running": True, "pid": os.getpid()}
    assert shown.startswith(f"daemon: running (pid {os.getpid()})")
    assert json.loads(served.stdout)["sources"][0]["next_run"].endswith(("00:00Z", "30:00Z"))
