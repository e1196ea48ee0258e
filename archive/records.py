"""The append-only JSON Lines store of article records, one file per UTC fetch day.

The store owns `<archive>/records/`: `YYYY/MM/YYYY-MM-DD.jsonl`, one JSON object per line. A line
counts only once its newline is written, so the newline is the commit mark: a final line without
one is what a crash mid-write leaves behind. Readers skip it, and the next append to that file cuts
it off before writing. One writer per archive (the archive lock), used from one thread.

Every complete line a reader takes is checked against the record schema first: a line that
is not a record (damage, a hand edit) is an ArchiveError naming its file and line, never a KeyError
further on; `quarantine_bad_lines` moves such lines aside so the archive can be used again.
"""

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import jsonschema_rs

from archive.errors import ArchiveError, one_line
from archive.warcwriter import fsync_directory

SCHEMA_NAME = "record.schema.json"  # shipped inside the package; config/ links to it
REPAIR_HINT = "run `newsarchive verify --repair` to move it aside"


@dataclass(frozen=True)
class RecordLocation:
    """Where one JSON line lives: `file` relative to the records dir; bytes include the newline."""

    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class Quarantined:
    """A line `quarantine_bad_lines` moved: from `file`:`line` (relative to the archive) to
    `moved_to`, because of `reason`."""

    file: str
    line: int
    reason: str
    moved_to: str

    def __str__(self) -> str:
        return f"moved {self.file}:{self.line} to {self.moved_to}: {self.reason}"


class NotARecord(ValueError):
    """A records line that is not an article record; the message says why, in one line."""


@cache
def record_validator() -> jsonschema_rs.Validator:
    """The validator of the record schema (compiled: readers check every line), read from the
    package itself (`archive/record.schema.json`), so an installed wheel needs no source tree."""
    schema = json.loads(resources.files("archive").joinpath(SCHEMA_NAME).read_text("utf-8"))
    return jsonschema_rs.validator_for(schema)


def record_problems(value: object) -> list[str]:
    """Why `value` is not an article record, one line each; empty when it is one.

    Beyond the schema, `fetched_at` must be a real date (the pattern admits a 13th month), since
    the store files a record by it.
    """
    problems = sorted(
        f"schema: {'/'.join(map(str, error.instance_path)) or 'record'}: {error.message}"
        for error in record_validator().iter_errors(value)
    )
    if not problems and isinstance(value, dict):
        try:
            datetime.fromisoformat(value["fetched_at"])
        except ValueError as exc:
            problems.append(f"schema: fetched_at: {exc}")
    return problems


def json_value(line: str | bytes) -> Any:
    """The JSON value of one line; NotARecord when it is not valid JSON."""
    try:
        return json.loads(line)
    except RecursionError:
        raise NotARecord("not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise NotARecord(f"not valid JSON: {exc}") from None


def parse_record(line: str | bytes) -> dict[str, Any]:
    """The record one complete line holds; NotARecord (a ValueError) saying why it is none."""
    value = json_value(line)
    if not isinstance(value, dict):
        raise NotARecord("not a JSON object")
    problems = record_problems(value)
    if problems:
        raise NotARecord(problems[0])
    return value


def not_a_record(path: Path, number: int, reason: str) -> ArchiveError:
    """The error a reader raises for a line that is not a record."""
    return ArchiveError(f"{path}:{number}: {one_line(reason)}; {REPAIR_HINT}")


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

        A complete line that is not a record (see `parse_record`) means the file was damaged:
        ArchiveError naming the file and line.
        """
        for path in self.files():
            for record, _ in located_records(path, self._directory):
                yield record

    def quarantine_bad_lines(self, quarantine_dir: Path, shown_from: Path) -> list[Quarantined]:
        """Move every complete line that is not a record to `quarantine_dir`; return them.

        Each move is also appended to `quarantine_dir/report.txt` (UTC time, from, to, why). The
        bad lines are appended byte for byte to the file of the same name under
        `quarantine_dir` (and fsynced) before the records file is rewritten without them, so a
        crash at any point loses no line (at worst a line is quarantined twice). Paths in the
        result are relative to `shown_from` (the archive). Call only under the archive lock,
        after `cut_torn_tails`. An OSError becomes ArchiveError.
        """
        moved: list[Quarantined] = []
        try:
            for path in self.files():
                moved += _quarantine_file(path, self._directory, quarantine_dir, shown_from)
            if moved:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                with (quarantine_dir / "report.txt").open("a", encoding="utf-8") as report:
                    report.writelines(f"{stamp} {line}\n" for line in moved)
        except OSError as exc:
            raise ArchiveError(f"cannot move bad records aside: {exc}") from exc
        return moved

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


def located_records(
    path: Path, records_dir: Path
) -> Iterator[tuple[dict[str, Any], RecordLocation]]:
    """Each complete line of one records file with its location; a torn tail is skipped.

    A complete line that is not a record is an ArchiveError naming the file and line.
    """
    name = path.relative_to(records_dir).as_posix()
    offset = 0
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                break  # a torn tail: not committed
            try:
                record = parse_record(line)
            except NotARecord as exc:
                raise not_a_record(path, number, str(exc)) from None
            yield record, RecordLocation(name, offset, len(line))
            offset += len(line)


def _quarantine_file(
    path: Path, records_dir: Path, quarantine_dir: Path, shown_from: Path
) -> list[Quarantined]:
    bad: list[tuple[int, bytes, str]] = []
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                parse_record(line)
            except NotARecord as exc:
                bad.append((number, line, one_line(str(exc))))
    if not bad:
        return []
    relative = path.relative_to(records_dir)
    target = quarantine_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("ab") as out:
        first = out.tell() == 0
        out.writelines(line if line.endswith(b"\n") else line + b"\n" for _, line, _ in bad)
        out.flush()
        os.fsync(out.fileno())
    if first:
        fsync_directory(target.parent)
    numbers = {number for number, _, _ in bad}
    kept = path.with_name(f".{path.name}.repair")
    with path.open("rb") as file, kept.open("wb") as out:
        out.writelines(line for n, line in enumerate(file, start=1) if n not in numbers)
        out.flush()
        os.fsync(out.fileno())
    os.replace(kept, path)
    fsync_directory(path.parent)
    shown, moved_to = path.relative_to(shown_from), target.relative_to(shown_from)
    return [
        Quarantined(shown.as_posix(), number, reason, moved_to.as_posix())
        for number, _, reason in bad
    ]


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
