"""One crawl run as a subprocess: how `schedule` and `worker` start `newsarchive crawl` and read
what it ended with.

Scrapy's reactor cannot restart inside one process, so both the daemon and a cluster worker run
each crawl as ``python -m crawler crawl ... --json`` and judge it by its exit code and the JSON
summary it prints last.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import ArchiveLockedError
from crawler.summary import ALL_FEEDS_FAILED, EXIT_UNAVAILABLE

EXIT_LOCKED = ArchiveLockedError.exit_code
_PR_SET_PDEATHSIG = 1


def start_crawl(
    config: Path,
    archive_dir: Path,
    sources: Sequence[str],
    extra_args: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    die_with_parent: bool = False,
) -> subprocess.Popen[str]:
    """Start ``crawl --config config --archive-dir archive_dir --json [extra_args] --source ...``
    in a session of its own (a Ctrl-C in the terminal reaches the parent, which decides), with
    `env` added to its environment; stdout is piped for the summary. With `die_with_parent`
    (Linux), the crawl gets SIGTERM when its parent dies, however it dies: it stops gracefully
    instead of crawling on unsupervised."""
    command = [sys.executable, "-m", "crawler", "crawl", "--config", str(config)]
    command += ["--archive-dir", str(archive_dir), "--json", *extra_args]
    command += [f"--source={name}" for name in sources]  # a name never reads as an option
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **env} if env else None,
        preexec_fn=_term_with_parent if die_with_parent and sys.platform == "linux" else None,
    )


def _term_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class CrawlResult:
    """How a crawl subprocess ended: its exit code and the JSON line it printed last."""

    code: int
    stdout: str

    @property
    def summary(self) -> dict[str, Any]:
        """The last line of stdout as JSON (the summary, or ``{"outcome": ...}`` of a failure);
        empty if there is none (killed before it printed)."""
        lines = self.stdout.strip().splitlines()
        try:
            summary = json.loads(lines[-1])
        except (IndexError, ValueError):
            return {}
        return summary if isinstance(summary, dict) else {}

    @property
    def outcome(self) -> str:
        return str(self.summary.get("outcome", "killed" if self.code < 0 else "unknown"))

    def summary_line(self) -> str:
        summary = self.summary
        if not summary:
            return "no summary"
        return ", ".join(f"{key} {value}" for key, value in summary.items() if value)

    def log(self, names: str, logger: logging.Logger) -> None:
        """One line on `logger` saying how the run of `names` ended."""
        if self.code == 0:
            logger.info("run finished: %s: %s", names, self.summary_line())
        elif self.code == EXIT_UNAVAILABLE and self.outcome == "failed":
            logger.warning("run of %s: %s: %s", names, ALL_FEEDS_FAILED, self.summary_line())
        elif self.code == EXIT_UNAVAILABLE:
            logger.warning("run of %s: %s: %s", names, self.outcome, self.summary.get("error"))
        elif self.code == EXIT_LOCKED:
            logger.warning("%s: archive locked by another crawl; retrying", names)
        elif self.code < 0:
            logger.warning("run stopped by signal %d: %s", -self.code, names)
        else:
            logger.error("run of %s failed with exit code %d (see its log above)", names, self.code)
