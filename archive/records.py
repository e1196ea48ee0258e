"""The append-only JSON Lines store of article records, one file per UTC fetch day.

The store owns `<archive>/records/`: `YYYY/MM/YYYY-MM-DD.jsonl`, one JSON object per line. A line
counts only once its newline is written, so the newline is the commit mark: a final line without
one is what a crash mid-write leaves behind. Readers skip it, and the next append to that file cuts
it off before writing. One writer per archive (the archive lock), used from one thread.
"""

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from archive.errors import ArchiveError


@dataclass(frozen=True)
class RecordLocation:
    """Where one JSON line lives: `file` relative to the records dir; bytes include the newline."""

    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class RecordLine:
    """One raw line of a records file, for readers that report problems by file and line."""

    path: Path
    number: int
    text: str
    torn: bool  # the final line of its file and not newline-terminated: an interrupted write


class RecordStore:
    """Append article records and read them back in fetch-date order."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._path: Path | None = None
        self._file: BinaryIO | None = None

    def append(self, record: Mapping[str, Any]) -> RecordLocation:
        """Write `record` as one flushed line of its fetch day's file; return where it landed.

        The day comes from `record["fetched_at"]` (ISO 8601 UTC, "...Z"); a missing or malformed
        value is a caller bug (KeyError / ValueError). An OSError (a full disk) becomes
        ArchiveError, and whatever part of the line reached the file is cut off again.
        """
        day = _utc_day(record["fetched_at"])
        path = self._directory / day[:4] / day[5:7] / f"{day}.jsonl"
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        try:
            file = self._file_for(path)
            offset = file.tell()  # the end: every append is flushed whole
            file.write(line)
            file.flush()
        except OSError as exc:
            self._abandon_partial_line(path)
            raise ArchiveError(f"cannot write records file {path}: {exc.strerror or exc}") from exc
        return RecordLocation(path.relative_to(self._directory).as_posix(), offset, len(line))

    def path_of(self, location: RecordLocation) -> Path:
        return self._directory / location.file

    def read(self, location: RecordLocation) -> dict[str, Any]:
        """The record stored at `location` (as `append` returned it)."""
        try:
            with self.path_of(location).open("rb") as file:
                file.seek(location.offset)
                line = file.read(location.length)
            record: dict[str, Any] = json.loads(line)
        except (OSError, ValueError) as exc:
            raise ArchiveError(
                f"cannot read the record at {location.file}@{location.offset}: {exc}"
            ) from exc
        return record

    def _abandon_partial_line(self, path: Path) -> None:
        file, self._file, self._path = self._file, None, None
        with contextlib.suppress(OSError):
            if file is not None:
                file.close()
        with contextlib.suppress(OSError):
            _cut_torn_tail(path)

    def sync(self) -> None:
        """Make the lines appended so far durable (fsync), before anything that refers to them."""
        if self._file is None:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise ArchiveError(f"cannot write records file {self._path}: {exc.strerror}") from exc

    def close(self) -> None:
        """Fsync and close the file being appended to, if any; appending again reopens it."""
        if self._file is None:
            return
        file, self._file, self._path = self._file, None, None
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
        except OSError as exc:
            raise ArchiveError(f"cannot close records file {file.name}: {exc.strerror}") from exc

    def files(self, *, modified_since: datetime | None = None) -> list[Path]:
        """Every daily records file, oldest day first; only those written to since
        `modified_since` (by mtime) when given."""
        files = sorted(path for path in self._directory.glob("*/*/*.jsonl") if _is_day_file(path))
        if modified_since is None:
            return files
        return [path for path in files if path.stat().st_mtime >= modified_since.timestamp()]

    def iter_lines(self) -> Iterator[RecordLine]:
        """Every line of every file, in date order, without parsing."""
        for path in self.files():
            yield from _read_lines(path)

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every record in date order, then line order; torn final lines are skipped.

        A complete line that is not a JSON object means the file was damaged: ArchiveError
        naming the file and line.
        """
        for line in (line for path in self.files() for line in _read_lines(path)):
            if line.torn:
                continue
            try:
                record = json.loads(line.text)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise ArchiveError(f"{line.path}:{line.number}: not a JSON object")
            yield record

    def cut_torn_tails(self) -> list[Path]:
        """Cut the unterminated final line a crash left off every file; return the files cut.

        Call it only under the archive lock, before appending: afterwards every file ends with a
        complete line. An OSError becomes ArchiveError.
        """
        try:
            return [path for path in self.files() if _cut_torn_tail(path)]
        except OSError as exc:
            raise ArchiveError(f"cannot repair records in {self._directory}: {exc}") from exc

    def _file_for(self, path: Path) -> BinaryIO:
        if self._path == path and self._file is not None:
            return self._file
        self.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(path)
        self._file = path.open("ab")
        self._path = path
        return self._file


def _utc_day(fetched_at: str) -> str:
    moment = datetime.fromisoformat(fetched_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


def _is_day_file(path: Path) -> bool:
    year, month = path.parent.parent.name, path.parent.name
    return path.stem.startswith(f"{year}-{month}-") and len(path.stem) == 10


def _read_lines(path: Path) -> Iterator[RecordLine]:
    with path.open("r", encoding="utf-8", errors="replace", newline="\n") as file:
        for number, text in enumerate(file, start=1):
            complete = text.endswith("\n")
            yield RecordLine(path, number, text.rstrip("\n"), torn=not complete)


def _cut_torn_tail(path: Path) -> bool:
    """Drop an unterminated final line left by a crash, so the next line starts clean."""
    try:
        file = path.open("r+b")
    except FileNotFoundError:
        return False
    with file:
        end = file.seek(0, os.SEEK_END)
        keep = end
        while keep > 0:
            start = max(0, keep - 65536)
            file.seek(start)
            newline = file.read(keep - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = start
        if keep == end:
            return False
        file.truncate(keep)
        os.fsync(file.fileno())
        return True
