"""A one-line progress display for a crawl run in a terminal.

When stderr is a terminal, one line rewritten in place shows feeds polled, articles stored and
WARC bytes written; it is erased when the run ends. Anywhere else (cron, systemd, a log file) the
extension switches itself off, so logs stay one line per event.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import AsyncioLoopingCall, create_looping_call

from crawler import summary
from crawler.session import session_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.task import LoopingCall

CLEAR_LINE = "\r\x1b[K"


class ProgressDisplay:
    """Scrapy extension; ``NEWSARCHIVE_PROGRESS_INTERVAL`` (seconds, 0 = off) sets the pace."""

    def __init__(self, crawler: Crawler, stream: TextIO, interval: float) -> None:
        self.crawler = crawler
        self.stream = stream
        self.interval = interval
        self.task: AsyncioLoopingCall | LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressDisplay:
        interval = crawler.settings.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL", 0.5)
        if not interval or not sys.stderr.isatty():
            raise NotConfigured
        display = cls(crawler, sys.stderr, interval)
        crawler.signals.connect(display.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(display.spider_closed, signal=signals.spider_closed)
        return display

    def spider_opened(self, spider: Spider) -> None:
        self.task = create_looping_call(self.show)
        self.task.start(self.interval)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.task and self.task.running:
            self.task.stop()
        self.stream.write(CLEAR_LINE)
        self.stream.flush()

    def show(self) -> None:
        self.stream.write(CLEAR_LINE + self.line())
        self.stream.flush()

    def line(self) -> str:
        """The current figures, short enough for an 80-column terminal."""
        assert self.crawler.stats is not None
        stats = self.crawler.stats

        def n(key: str) -> int:
            return int(stats.get_value(summary.PREFIX + key, 0))

        stored = n(summary.ARTICLES_NEW) + n(summary.ARTICLES_UPDATED)
        return (
            f"feeds {n(summary.FEEDS_POLLED)} ({n(summary.FEEDS_FAILED)} failed)  "
            f"articles {stored} stored, {n(summary.ARTICLES_FAILED)} failed  "
            f"WARC {_size(session_of(self.crawler).warc.bytes_written)}"
        )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
