"""CDXJ indexes of closed WARC files, the lookup table replay tools (pywb, ReplayWeb.page) read.

This module owns `<archive>/indexes/`: one `<warc name>.cdxj` per closed `.warc.gz`, SURT-keyed and
sorted, as `cdxj-indexer` writes it (`<surt> <timestamp> {"url", "mime", "status", "digest",
"length", "offset", "filename"}`). An index is written to a temporary name and renamed, so an
index that exists is complete; a WARC without one (a crash came between close and index), or with
one older than the file (appended to since), gets it from `write_missing_indexes`.
"""

import heapq
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, BinaryIO, TextIO

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
    """(Re)write the index of one closed WARC file; return its path. OSError -> ArchiveError.

    A file appended to since its index was written is read only past the records the index
    holds, and the new lines are merged into the old ones: a run that appends to a large file
    does not read it all again."""
    target = index_path(layout, warc_path)
    partial = target.with_name(target.name + ".tmp")
    tail = target.with_name(target.name + ".tail")
    try:
        layout.indexes_dir.mkdir(parents=True, exist_ok=True)
        start = _indexed_up_to(target, warc_path.stat().st_size)
        with (tail if start else partial).open("w", encoding="utf-8") as out:
            _TailIndexer(out, [str(warc_path)], sort=True, start=start).process_all()
        if start:
            with partial.open("w", encoding="utf-8") as out:
                out.writelines(merged_lines([target, tail]))
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write index {target}: {exc.strerror or exc}") from exc
    finally:
        tail.unlink(missing_ok=True)
    return target


class _TailIndexer(CDXJIndexer):  # type: ignore[misc]
    """cdxj-indexer's indexer, reading a WARC file from byte `start` (a record boundary) on;
    warcio counts each record's offset from the file's start all the same."""

    def __init__(self, *args: Any, start: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start = start

    def process_one(self, input_: BinaryIO, output: Any, filename: str) -> None:
        input_.seek(self._start)
        super().process_one(input_, output, filename)


def _indexed_up_to(index: Path, warc_size: int) -> int:
    """Where the records `index` holds end in their WARC file: the offset to index on from.
    0 (index it all) when there is no index, or it is unreadable or runs past the file."""
    end = 0
    try:
        with index.open("r", encoding="utf-8") as lines:
            for line in lines:
                fields = json.loads(line.split(" ", 2)[2])
                end = max(end, int(fields["offset"]) + int(fields["length"]))
    except (FileNotFoundError, ValueError, KeyError, IndexError):
        return 0
    return end if end <= warc_size else 0


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
