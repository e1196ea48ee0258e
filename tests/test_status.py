"""`newsarchive status`: last run, its counts and errors, and the next run of every source."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support import background_crawl, newsarchive, write_config

from crawler.config import load_config
from crawler.sample_server import SampleSite
from crawler.status import source_status


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
    assert before["herald"]["next_run"].endswith(("00:00Z", "30:00Z")), "*/30 * * * *, UTC"

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
    block = text.stdout.split("\n\n")[[*site.outlets].index("gazette")]
    assert block.startswith("gazette  (*/30 * * * *, UTC)")
    assert "  last run: " in block and ", finished" in block
    assert f"articles {summary['articles_new']} new" in block
    assert "  errors:   " in block and "robots.txt" in block
    assert "  next run: " in block


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
    (status,) = source_status(load_config(path), now=saturday)
    assert status.outcome == "never ran"
    # 09:00 on Monday in Tokyo is 00:00 UTC that Monday
    assert status.next_run == datetime(2024, 8, 19, 0, 0, tzinfo=UTC)
