"""Stopping a crawl with SIGTERM or SIGINT, at any moment, leaves one line per event on stderr.

Three moments: while Scrapy is imported; once the crawl holds the archive lock, before Scrapy's
engine handles the signals (the run ends at once, as before); and as the worker pool starts.
A crawl killed while it held the pool left its semaphores to multiprocessing's resource tracker,
which printed a "leaked semaphore" warning on every such stop.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import EVENT, BackgroundCrawl, background_crawl, write_config

from archive.layout import ArchiveLayout
from crawler.sample_server import SampleSite


def children(pid: int) -> list[int]:
    """The processes `pid` started (the worker pool's resource tracker comes first)."""
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


def wait_until(condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def loading_scrapy(crawl: BackgroundCrawl, archive: Path) -> None:
    """Scrapy's imports have reached `cryptography` (through Twisted), whose library is mapped."""
    maps = Path(f"/proc/{crawl.process.pid}/maps")
    wait_until(lambda: "cryptography" in maps.read_text(), 30)


def locked(crawl: BackgroundCrawl, archive: Path) -> None:
    lock = ArchiveLayout(archive).lock_path
    wait_until(lambda: lock.exists() and lock.read_text().strip(), 30)


def pool_started(crawl: BackgroundCrawl, archive: Path) -> None:
    wait_until(lambda: children(crawl.process.pid), 30)
    time.sleep(0.2)  # its semaphores are registered with the tracker by then


@pytest.mark.parametrize("moment", [loading_scrapy, locked, pool_started])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_crawl_leaves_no_warning_nor_traceback(
    site: SampleSite,
    tmp_path: Path,
    signum: signal.Signals,
    moment: Callable[[BackgroundCrawl, Path], None],
) -> None:
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "sources.toml", site, archive)
    with background_crawl(config, "--source", "daily") as crawl:
        moment(crawl, archive)
        started = children(crawl.process.pid)
        crawl.process.send_signal(signum)
        returncode = crawl.finish(timeout=60).returncode
        # The resource tracker warns as it ends, after the crawl: wait for it.
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in started), 20)
        crawl.stderr.seek(0)
        stderr = crawl.stderr.read().decode("utf-8", "replace")
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    assert all(EVENT.match(line) for line in stderr.splitlines()), stderr
    # killed before the engine ran (SIGINT while importing: 128 + 2), or stopped gracefully
    assert returncode in (-signum, 128 + signum, 0)
