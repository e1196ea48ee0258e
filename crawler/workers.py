"""The crawl's process pool for CPU-bound work: article extraction, feed and sitemap parsing.

The reactor thread only does I/O; anything that parses runs here, one worker per core, so a huge
or hostile feed cannot stall downloads and a crawl uses every core. Workers start from a
forkserver that has the parsers imported already, so neither the reactor's threads nor its
sockets are forked. One worker per core this process may run on (its CPU affinity, which
`taskset` or a container's cpuset narrows): more would only add switching, since the reactor
thread needs a share of a core too.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

PRELOAD = ["pipelines.article", "crawler.feeds", "crawler.sitemaps", "pipelines.identity"]


def _end_with(crawl: int) -> None:
    """Worker initializer: exit as soon as the crawl process is gone, however it went.

    A crawl that is SIGKILLed cannot shut its pool down, and a worker would wait for work forever
    (it holds its own queue's write end, and keeps the forkserver alive with it): ~100 MB each,
    for every killed run of an unattended daemon.
    """
    handle = os.pidfd_open(crawl)
    threading.Thread(target=_exit_when_readable, args=(handle,), daemon=True).start()


def _exit_when_readable(handle: int) -> None:
    select.select([handle], [], [])  # a pidfd becomes readable when its process ends
    os._exit(1)


class Workers:
    """The pool starts with `start`, or at the first `run`.

    A crawl starts it when Scrapy's engine starts, once Scrapy handles SIGTERM and SIGINT by
    stopping gracefully: killed by a signal before that, the crawl holds no pool, whose
    semaphores the resource tracker would otherwise report as leaked on stderr.
    """

    def __init__(self, count: int | None = None) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self.count = count or len(os.sched_getaffinity(0))
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the pool if it is not: its first task starts the forkserver, which imports the
        parsers (about 0.5 s); in a thread, that overlaps the first downloads instead of stalling
        the reactor at the first feed."""
        if self._pool is None:
            self._pool = self._new_pool()
            threading.Thread(target=self._warm_up, args=(self._pool,), daemon=True).start()

    @staticmethod
    def _warm_up(pool: ProcessPoolExecutor) -> None:
        with suppress(RuntimeError, BrokenProcessPool):  # closed or broken first: nothing to warm
            pool.submit(os.getpid)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.count, mp_context=self._context, initializer=_end_with, initargs=(os.getpid(),)
        )

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a picklable pure function in a worker and await its result on the event loop.

        A worker the OS kills (out of memory) breaks the whole pool: the calls in flight raise
        BrokenProcessPool, and the pool is replaced so that the rest of the run goes on.
        """
        self.start()
        pool = self._pool
        assert pool is not None
        try:
            return await asyncio.wrap_future(pool.submit(function, *args, **kwargs))
        except BrokenProcessPool:
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
