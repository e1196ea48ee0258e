"""Peak memory and CPU time of a process and of its whole process tree, sampled from /proc (Linux).

Benchmarks start the real CLI in a subprocess and wrap it in `TreeSampler`, which samples in a
background thread until the process exits: the main process alone, and the process plus every
descendant (extraction workers, the forkserver). CPU seconds are load-independent where wall
time is not, so they show what each part costs even on a busy machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size of `pid` in KiB; 0 once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far; 0 once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu() -> float:
    """User + system CPU seconds of every descendant this process has reaped so far (a child
    counts what it reaped of its own children): a run's whole cost, once all of it has exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (children, grandchildren, ...)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        kids = [int(c) for c in children]
        found.extend(kids)
        frontier.extend(kids)
    return found


class TreeSampler:
    """Samples a running process every `interval` seconds until it exits or the block ends.

    After the block: `main_kib` and `tree_kib` are the peak resident sizes seen, `main_cpu` and
    `tree_cpu` the CPU seconds used (a process's last sample counts, so up to `interval` of each
    process's final CPU time may be missed).
    """

    def __init__(self, process: subprocess.Popen[str], interval: float = 0.1) -> None:
        self.process = process
        self.interval = interval
        self.main_kib = 0
        self.tree_kib = 0
        self._cpu: dict[int, float] = {}
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def main_cpu(self) -> float:
        return self._cpu.get(self.process.pid, 0.0)

    @property
    def tree_cpu(self) -> float:
        return sum(self._cpu.values())

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._thread.join()

    def _sample(self) -> None:
        pid = self.process.pid
        while self.process.poll() is None:
            tree = [pid, *descendants(pid)]
            sizes = [rss_kib(p) for p in tree]
            self.main_kib = max(self.main_kib, sizes[0])
            self.tree_kib = max(self.tree_kib, sum(sizes))
            for p in tree:
                self._cpu[p] = max(self._cpu.get(p, 0.0), cpu_seconds(p))
            time.sleep(self.interval)
