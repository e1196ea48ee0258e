"""Check that an archive is whole: WARC files read end to end and every record resolves.

Everything is streamed (one WARC record at a time, one JSON line at a time); only the set of
record ids is held in memory. Each failure is reported as one `Problem`, never raised: a damaged
archive is the very thing this module exists to describe.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from jsonschema import Draft202012Validator, FormatChecker
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

from archive.layout import ArchiveLayout
from archive.records import RecordStore
from archive.warcwriter import OPEN_SUFFIX, WARC_VERSION

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config" / "record.schema.json"
_MAX_MESSAGE = 200


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the archive; `path` is relative to the archive dir when inside it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def verify_archive(layout: ArchiveLayout) -> list[Problem]:
    """Every problem found in the WARC files and the JSON records; an empty list means whole."""
    problems: list[Problem] = []
    for path in _warc_files(layout.warc_dir):
        problems.extend(_check_warc_file(path, _shown(layout, path)))
    problems.extend(_check_records(layout))
    return problems


@cache
def record_validator() -> Draft202012Validator:
    """The validator for one JSON record, built from config/record.schema.json."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _warc_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    names = ("*.warc.gz", f"*.warc.gz{OPEN_SUFFIX}")
    return sorted(path for pattern in names for path in directory.glob(pattern))


def _check_warc_file(path: Path, shown: str) -> Iterator[Problem]:
    if path.name.endswith(OPEN_SUFFIX):
        yield Problem(shown, "not closed (a crawl is running or was interrupted)")
    offset: int | None = None
    try:
        with path.open("rb") as file:
            iterator = ArchiveIterator(file, check_digests=True)
            for record in iterator:
                failures = _read_through(iterator, record)
                first, offset = offset is None, iterator.get_record_offset()
                where = f"record at offset {offset}"
                if first and record.rec_type != "warcinfo":
                    yield Problem(shown, f"{where} is {record.rec_type}, not warcinfo")
                if record.rec_headers.protocol != WARC_VERSION:
                    yield Problem(shown, f"{where} is {record.rec_headers.protocol}")
                for failure in failures:
                    yield Problem(shown, f"{where}: {failure}")
    # Any failure to parse bytes from disk is a finding about the file, whatever warcio raises.
    except Exception as exc:
        place = "from its start" if offset is None else f"after the record at offset {offset}"
        yield Problem(shown, _clip(f"unreadable {place}: {exc}"))
        return
    if offset is None:
        yield Problem(shown, "holds no WARC record")


def _check_records(layout: ArchiveLayout) -> Iterator[Problem]:
    validator = record_validator()
    ids: dict[str, str] = {}
    references: list[tuple[str, str, str]] = []
    for line in RecordStore(layout.records_dir).iter_lines():
        where = f"{_shown(layout, line.path)}:{line.number}"
        if line.torn:
            yield Problem(where, "incomplete final line (an interrupted write)")
            continue
        try:
            record = json.loads(line.text)
        except ValueError as exc:
            yield Problem(where, f"not valid JSON: {exc}")
            continue
        errors = list(validator.iter_errors(record))
        for error in errors:
            field = "/".join(str(part) for part in error.absolute_path) or "record"
            yield Problem(where, _clip(f"schema: {field}: {error.message}"))
        if errors:
            continue
        if record["id"] in ids:
            yield Problem(where, f"id {record['id']} already used at {ids[record['id']]}")
        ids.setdefault(record["id"], where)
        references.extend(
            (where, field, record[field])
            for field in ("duplicate_of", "previous")
            if record[field] is not None
        )
        for message in _check_pointer(layout.warc_dir, record):
            yield Problem(where, message)
    for where, field, target in references:
        if target not in ids:
            yield Problem(where, f"{field} {target} names no record in this archive")


def _check_pointer(warc_dir: Path, record: Mapping[str, Any]) -> list[str]:
    """What is wrong with the record's `warc` pointer; empty when it resolves and digests match."""
    pointer = record["warc"]
    filename, offset, length = pointer["filename"], pointer["offset"], pointer["length"]
    path = warc_dir / filename
    if not path.exists():
        path = warc_dir / (filename + OPEN_SUFFIX)
    if not path.exists():
        return [f"warc: file {filename} does not exist"]
    where = f"warc: {filename} offset {offset}"
    if offset + length > path.stat().st_size:
        return [f"{where} length {length} runs past the end of the file"]
    with path.open("rb") as file:
        file.seek(offset)
        try:
            target, member_length, failures = _read_one_record(file, length)
        except Exception as exc:  # whatever the bytes there are, they are not our record
            return [_clip(f"{where}: no readable WARC record ({exc})")]
    headers = target.rec_headers
    expected = {
        "WARC-Type": "response",
        "WARC-Record-ID": pointer["record_id"],
        "WARC-Target-URI": record["final_url"],
        "WARC-Payload-Digest": pointer["payload_digest"],
    }
    problems = [
        f"{where}: {name} is {headers.get_header(name)}, not {value}"
        for name, value in expected.items()
        if headers.get_header(name) != value
    ]
    problems.extend(f"{where}: {failure}" for failure in failures)
    if not failures and target.digest_checker.passed is not True:
        problems.append(f"{where}: the record carries no digest to check")
    if member_length != length:
        problems.append(f"{where}: the gzip member is {member_length} bytes, not {length}")
    return problems


def _read_one_record(file: BinaryIO, length: int) -> tuple[ArcWarcRecord, int, list[str]]:
    """The first record in the next `length` bytes, its member's length and what is wrong."""
    iterator = ArchiveIterator(LimitReader(file, length), check_digests=True)
    record = next(iterator, None)
    if record is None:
        raise ValueError("nothing there")
    failures = _read_through(iterator, record)
    return record, iterator.get_record_length(), failures


def _read_through(iterator: ArchiveIterator, record: ArcWarcRecord) -> list[str]:
    """Read `record` to its end; return its digest failures and any truncation.

    warcio checks digests only once a record is read to its Content-Length and does not notice
    a gzip member cut short, so both are checked here.
    """
    stream = record.raw_stream
    while stream.read(1 << 20):
        pass
    failures = list(record.digest_checker.problems)
    missing = getattr(stream, "limit", 0)
    if missing:
        failures.append(f"truncated: {missing} bytes of the record are missing")
    iterator.read_to_end()
    decompressor = iterator.reader.decompressor if iterator.reader else None
    if decompressor is None:
        failures.append("not gzip-compressed per record")
    elif not decompressor.eof:
        failures.append("truncated gzip member")
    return failures


def _shown(layout: ArchiveLayout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.root))
    except ValueError:
        return str(path)


def _clip(message: str) -> str:
    """One short printable line, even when an exception quotes raw bytes from a damaged file."""
    message = "".join(c if c.isascii() and c.isprintable() else " " for c in message)
    message = " ".join(message.split())
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
