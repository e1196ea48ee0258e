"""A crawl that SIGKILLs itself at a chosen write: the crash tests' way to die mid-write.

`arm(stage, nth)` patches the write it is to die in (the real code runs, only the moment of
death is chosen): at the `nth` such write the process group is killed (extraction workers
included), and with `parent` the process that started the crawl too (a cluster worker: the
machine is lost, not only its crawl). Run as a script it arms and then runs the CLI:

    python tests/kill_at_stage.py STAGE NTH crawl --config F ...

A cluster worker's crawl is armed through `kill_hook/sitecustomize.py` instead, since the worker,
not the test, starts it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

import archive.warcwriter as warcwriter
from archive.catalog import Catalog
from archive.records import RecordStore

STAGES = (
    "mid-WARC-write",
    "between WARC and JSON",
    "mid-JSON-write",
    "between JSON and catalog commit",
    "mid-catalog-commit",
)
PUBLISH_STAGE = "between catalog commit and Redis publish"
"""A cluster worker's crawl only: records committed in the shard, not yet in the index."""


def arm(stage: str, nth: int, *, parent: bool = False) -> None:
    """Die at the `nth` write of `stage` in this process (see the module docstring)."""
    calls = 0

    def due() -> bool:
        nonlocal calls
        calls += 1
        return calls == nth

    def die(*_: Any) -> None:
        if parent:
            os.kill(os.getppid(), signal.SIGKILL)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    def wrap(
        owner: Any,
        name: str,
        before: Callable[..., None] | None = None,
        after: Callable[..., None] | None = None,
        counts: Callable[..., bool] = lambda *args: True,
    ) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            hit = counts(*args) and due()
            if hit and before:
                before(*args)
            result = original(*args, **kwargs)
            if hit and after:
                after(*args)
            return result

        setattr(owner, name, wrapper)

    def half_write(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        die()

    def torn_line(store: RecordStore, record: dict[str, Any]) -> None:
        with open(store._path, "r+b") as file:
            file.truncate(file.seek(0, 2) - 20)
        die()

    if stage == "mid-WARC-write":
        wrap(warcwriter, "_write_all", before=half_write)
    elif stage == "between WARC and JSON":
        # Only a bulk article's append: the files can then show its response without its record.
        wrap(RecordStore, "append", before=die, counts=lambda store, record: is_bulk(record))
    elif stage == "mid-JSON-write":
        wrap(RecordStore, "append", after=torn_line)
    elif stage == "between JSON and catalog commit":
        wrap(RecordStore, "append", after=die)
    elif stage == "mid-catalog-commit":
        wrap(Catalog, "commit", before=lambda *a: threading.Timer(0.0005, die).start())
    elif stage == PUBLISH_STAGE:
        from crawler.cluster.publish import Publisher

        wrap(Publisher, "publish", before=die, counts=has_records_to_publish)
    else:
        raise ValueError(f"unknown stage {stage!r}")


def has_records_to_publish(publisher: Any) -> bool:
    """The shard's catalog has committed records past what it published."""
    try:
        past = publisher.db.execute(
            "SELECT 1 FROM search_docs WHERE rowid > ?", (publisher.watermark["records"],)
        )
    except sqlite3.OperationalError:  # no record ever committed: no search index yet
        return False
    return past.fetchone() is not None


def is_bulk(record: dict[str, Any]) -> bool:
    """A generated article of the sample site's bulk outlet."""
    return "/a/" in record["final_url"]


if __name__ == "__main__":
    from crawler.cli import main

    arm(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
