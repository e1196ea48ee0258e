"""verify while a crawl writes (issue #14, point 6): the crawl's work in progress is no problem."""

from __future__ import annotations

import time
from pathlib import Path

from support import CliResult, background_crawl, newsarchive, write_config

from archive.layout import ArchiveLayout
from crawler.sample_server import SampleSite

BULK = 250


def test_verify_passes_while_a_crawl_writes_and_repair_refuses(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    layout = ArchiveLayout(archive)
    with SampleSite(slow_seconds=1.0, bulk_articles=BULK) as site:
        # The bulk feed is built at its first request: on a loaded machine, over a second.
        config = write_config(tmp_path / "sources.toml", site, archive, timeout=5.0)
        first = newsarchive("crawl", "--config", config, "--source", "herald")
        assert first.returncode == 0, first.stderr
        with background_crawl(config, "--source", "bulk") as crawl:
            while crawl.running() and not any(layout.warc_dir.glob("*.warc.gz.open")):
                time.sleep(0.02)
            checks: list[CliResult] = []
            repair = None
            while crawl.running():
                checks.append(newsarchive("verify", "--archive-dir", archive))
                if repair is None and crawl.running():
                    repair = newsarchive("verify", "--repair", "--archive-dir", archive)
            done = crawl.finish(timeout=120)
        assert done.returncode == 0, done.stderr
    assert checks, "verify never ran while the crawl wrote"
    for check in checks:
        assert check.returncode == 0, check.stdout + check.stderr
        assert "verified: no problems" in check.stdout
    assert repair is not None and repair.returncode == 75, repair
    assert repair.stdout == ""
    (message,) = repair.stderr.strip().splitlines()
    assert "locked by another newsarchive process" in message
    after = newsarchive("verify", "--archive-dir", archive)
    assert after.returncode == 0, after.stdout
