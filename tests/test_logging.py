"""Cron mode: `newsarchive crawl` logs one line per event, honours -v/--quiet/--log-file, shows
progress only on a terminal, and exits 75 without touching an archive another crawl holds."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from support import EVENT, REPO, newsarchive, write_config

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from crawler.sample_server import SampleSite


def crawl_gazette(config: Path, *options: str | Path) -> tuple[int, str]:
    """Crawl the outlet whose robots.txt forbids a page: a run with one warning to log."""
    result = newsarchive("crawl", "--config", config, "--source", "gazette", *options)
    return result.returncode, result.stderr


def test_log_file_gets_one_line_per_event_and_stderr_stays_clean(
    site: SampleSite, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    log = tmp_path / "crawl.log"
    code, stderr = crawl_gazette(config, "-v", "--log-file", log)
    assert code == 0
    assert stderr == ""
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        assert EVENT.match(line), f"not one event per line: {line!r}"
    assert any(
        " WARNING crawler.spiders.news: gazette: " in line and "robots.txt" in line
        for line in lines
    ), "a warning names its level, its logger and its source"
    assert not any(" INFO scrapy." in line for line in lines), "Scrapy's chatter needs -vv"


def test_default_shows_warnings_and_quiet_only_errors(site: SampleSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    code, stderr = crawl_gazette(config)
    assert code == 0
    lines = stderr.splitlines()
    assert any(" WARNING " in line and "robots.txt" in line for line in lines)
    assert not any(" INFO " in line for line in lines)
    assert all(EVENT.match(line) for line in lines)
    assert "\x1b" not in stderr, "no progress display when stderr is not a terminal"

    code, stderr = crawl_gazette(config, "--quiet")
    assert code == 0
    assert not any(" WARNING " in line or " INFO " in line for line in stderr.splitlines())


def test_locked_archive_exits_75_and_writes_nothing(site: SampleSite, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "sources.toml", site, archive)
    layout = ArchiveLayout(archive)
    with ArchiveLock(layout.lock_path):
        code, stderr = crawl_gazette(config)
    assert code == 75
    assert stderr.startswith("newsarchive: error: archive ") and "is locked" in stderr
    assert len(stderr.splitlines()) == 1
    assert not layout.warc_dir.exists() and not layout.catalog_path.exists()


def test_progress_line_on_a_terminal(site: SampleSite, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    controller, terminal = pty.openpty()
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", "--config", str(config), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        cwd=REPO,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the crawl
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert crawl.wait(timeout=60) == 0
    text = shown.decode("utf-8", "replace")
    assert re.search(r"feeds \d+ \(\d+ failed\)  articles \d+ stored, \d+ failed  WARC ", text)
    assert text.endswith("\r\x1b[K"), "the line is erased when the run ends"
