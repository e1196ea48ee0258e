"""CDXJ indexes of closed WARC files, the lookup table replay tools (pywb, ReplayWeb.page) read.

This module owns `<archive>/indexes/`: one `<warc name>.cdxj` per closed `.warc.gz`, SURT-keyed and
sorted, as `cdxj-indexer` writes it (`<surt> <timestamp> {"url", "mime", "status", "digest",
"length", "offset", "filename"}`). An index is written to a temporary name and renamed, so an
index that exists is complete; a WARC without one (a crash came between close and index), or with
one older than the file (appended to since), gets it from `write_missing_indexes`.
"""

import heapq
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from cdxj_indexer.main import CDXJIndexer

from archive.errors import ArchiveError
from archive.layout import ArchiveLayout

INDEX_SUFFIX = ".cdxj"


def index_path(layout: ArchiveLayout, warc_path: Path) -> Path:
    """Where the index of the closed WARC file `warc_path` lives."""
    return layout.indexes_dir / (warc_path.name.removesuffix(".warc.gz") + INDEX_SUFFIX)


def closed_warcs(layout: ArchiveLayout) -> list[Path]:
    """Every closed WARC file of the archive, oldest first (names sort by time, then serial)."""
    if not layout.warc_dir.is_dir():
        return []
    return sorted(layout.warc_dir.glob("*.warc.gz"))


def write_index(layout: ArchiveLayout, warc_path: Path) -> Path:
    """(Re)write the index of one closed WARC file; return its path. OSError -> ArchiveError."""
    target = index_path(layout, warc_path)
    partial = target.with_name(target.name + ".tmp")
    try:
        layout.indexes_dir.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as out:
            CDXJIndexer(out, [str(warc_path)], sort=True).process_all()
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write index {target}: {exc.strerror or exc}") from exc
    return target


def write_missing_indexes(layout: ArchiveLayout) -> list[Path]:
    """Index every closed WARC file that has no index, or one not newer than the file (a run
    appended to it, or a crash repair cut it back); return the indexes written."""
    return [write_index(layout, warc) for warc in closed_warcs(layout) if _stale(layout, warc)]


def _stale(layout: ArchiveLayout, warc: Path) -> bool:
    try:
        indexed = index_path(layout, warc).stat().st_mtime_ns
    except FileNotFoundError:
        return True
    return indexed <= warc.stat().st_mtime_ns


def merged_lines(indexes: Iterable[Path]) -> Iterator[str]:
    """The lines of several sorted indexes as one sorted stream (for one combined index)."""
    with ExitStack() as stack:
        files: list[TextIO] = [
            stack.enter_context(path.open("r", encoding="utf-8")) for path in indexes
        ]
        yield from heapq.merge(*files)
