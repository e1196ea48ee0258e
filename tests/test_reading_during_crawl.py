"""Research commands on an archive a crawl is writing: they answer, and see only whole records."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import duckdb
import pytest
from archives import sql
from support import (
    BackgroundCrawl,
    CliResult,
    background_crawl,
    newsarchive,
    records_of,
    write_config,
)

from crawler.sample_server import SampleSite

pytestmark = pytest.mark.start_early  # runs for minutes: see conftest.py

BULK = 1000
EVERY = ("--all-versions", "--include-duplicates", "--limit", "0")  # every record


def test_query_sql_export_and_stats_while_a_crawl_writes(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with SampleSite(slow_seconds=1.0, bulk_articles=BULK) as site:
        # The bulk feed is built at its first request: on a loaded machine, over a second.
        config = write_config(tmp_path / "sources.toml", site, archive, timeout=5.0)
        outlets = [arg for outlet in SampleSite.OUTLETS for arg in ("--source", outlet)]
        first = newsarchive("crawl", "--config", config, *outlets)
        assert first.returncode == 0, first.stderr
        before = len(records_of(archive))
        with background_crawl(config, "--source", "bulk") as crawl:
            readers = [
                partial(_query, archive),
                partial(_sql_count, archive),
                partial(_stats, archive),
                partial(_export, archive, tmp_path / "export.parquet"),
            ]
            with ThreadPoolExecutor(len(readers)) as pool:
                rounds = [pool.submit(_while_running, crawl, reader) for reader in readers]
                results = [future.result() for future in rounds]
            done = crawl.finish(timeout=120)
        assert done.returncode == 0, done.stderr
    after = len(records_of(archive))
    assert after == before + BULK
    assert all(results), "a reader never ran while the crawl did"
    for counts in results:  # whole records only, never fewer than a moment before
        assert all(before <= n <= after for n in counts) and counts == sorted(counts), counts
    sql_counts = results[1]
    assert any(before < n < after for n in sql_counts), f"no count saw the crawl midway: {results}"


def _while_running(crawl: BackgroundCrawl, reader: Callable[[], int]) -> list[int]:
    """`reader` again and again until the crawl ends; what each call returned."""
    seen = []
    while crawl.running():
        seen.append(reader())
    return seen


def _ok(result: CliResult) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _query(archive: Path) -> int:
    out = _ok(newsarchive("query", "--archive-dir", archive, *EVERY, "--format", "jsonl"))
    return len([json.loads(line)["id"] for line in out.splitlines()])  # whole records only


def _sql_count(archive: Path) -> int:
    return int(str(sql(archive, "SELECT count(*) AS n FROM articles")[0]["n"]))


def _stats(archive: Path) -> int:
    figures = json.loads(_ok(newsarchive("stats", "--archive-dir", archive, "--json")))
    assert figures["records"] == sum(day["records"] for day in figures["per_day"])
    return int(figures["records"])


def _export(archive: Path, parquet: Path) -> int:
    _ok(newsarchive("export", "--archive-dir", archive, "--format", "parquet", parquet, *EVERY))
    count: int = duckdb.connect().execute(f"SELECT count(*) FROM '{parquet}'").fetchall()[0][0]
    return count
