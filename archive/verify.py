"""Check that an archive is whole: WARC files read end to end and every record resolves.

WARC records must be WARC/1.1 with the fields their type requires and right digests; revisits must
refer to a response that exists; JSON records must follow the schema and point at their response
(or, for a syndicated copy with identical bytes, at the response a revisit of their URL refers
to); the catalog must know the latest record of every article and nothing else.

Everything is streamed (one WARC record at a time, one JSON line at a time); only the set of
record ids is held in memory. Each failure is reported as one `Problem`, never raised: a damaged
archive is the very thing this module exists to describe.
"""

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from jsonschema import Draft202012Validator, FormatChecker
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

from archive.catalog import Catalog
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from archive.reindex import uncommitted_tail
from archive.warcwriter import OPEN_SUFFIX, WARC_VERSION

SCHEMA_NAME = "record.schema.json"
_MAX_MESSAGE = 200


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the archive; `path` is relative to the archive dir when inside it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class _Captures:
    """What the WARC files hold that records and revisits refer to (ids only, never payloads)."""

    responses: set[str] = field(default_factory=set)
    revisits: set[tuple[str, str]] = field(default_factory=set)  # (target URI, refers-to id)
    dangling: list[tuple[str, str, str]] = field(default_factory=list)  # where, id, refers-to


def verify_archive(layout: ArchiveLayout) -> list[Problem]:
    """Every problem found in the WARC files, the JSON records and the catalog; empty: whole."""
    problems: list[Problem] = []
    captures = _Captures()
    for path in _warc_files(layout.warc_dir):
        problems.extend(_check_warc_file(path, _shown(layout, path), captures))
    problems.extend(
        Problem(where, f"revisit {record_id} refers to {target}, which is in no WARC file")
        for where, record_id, target in captures.dangling
        if target not in captures.responses
    )
    latest: dict[str, tuple[int, str]] = {}
    problems.extend(_check_records(layout, captures, latest))
    problems.extend(_check_catalog(layout, latest))
    return problems


@cache
def record_validator() -> Draft202012Validator:
    """The validator for one JSON record, built from the schema shipped inside this package
    (`archive/record.schema.json`; `config/record.schema.json` links to it), so an installed
    wheel validates without the source tree."""
    schema = json.loads(resources.files("archive").joinpath(SCHEMA_NAME).read_text("utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _warc_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    names = ("*.warc.gz", f"*.warc.gz{OPEN_SUFFIX}")
    return sorted(path for pattern in names for path in directory.glob(pattern))


def _check_warc_file(path: Path, shown: str, captures: _Captures) -> Iterator[Problem]:
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
                for failure in failures or _header_failures(record):  # torn: headers moot
                    yield Problem(shown, f"{where}: {failure}")
                _note_capture(record, f"{shown} {where}", captures)
    # Any failure to parse bytes from disk is a finding about the file, whatever warcio raises.
    except Exception as exc:
        place = "from its start" if offset is None else f"after the record at offset {offset}"
        yield Problem(shown, _clip(f"unreadable {place}: {exc}"))
        return
    if offset is None:
        yield Problem(shown, "holds no WARC record")


def _header_failures(record: ArcWarcRecord) -> list[str]:
    """Required WARC/1.1 fields missing for this record type."""
    required = ["WARC-Record-ID", "WARC-Date", "WARC-Type", "Content-Length"]
    if record.rec_type in ("request", "response", "revisit"):
        required.append("WARC-Target-URI")
    if record.rec_type == "response":
        required += ["WARC-Block-Digest", "WARC-Payload-Digest"]
    if record.rec_type == "revisit":
        required.append("WARC-Profile")
    headers = record.rec_headers
    return [f"no {name} header" for name in required if not headers.get_header(name)]


def _note_capture(record: ArcWarcRecord, where: str, captures: _Captures) -> None:
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID") or ""
    if record.rec_type == "response":
        captures.responses.add(record_id)
    elif record.rec_type == "revisit" and (target := headers.get_header("WARC-Refers-To")):
        captures.revisits.add((headers.get_header("WARC-Target-URI") or "", target))
        captures.dangling.append((where, record_id, target))


def _check_catalog(layout: ArchiveLayout, latest: dict[str, tuple[int, str]]) -> Iterator[Problem]:
    """The catalog must know the latest record of every article, and nothing else.

    Records written since the last run that finished may be missing: that is what a crash or a
    full disk leaves, and the next crawl adds them back before it fetches (see
    `archive.reindex.recover_after_crash`), so only older gaps are problems. No catalog at all is
    fine too: the next crawl rebuilds it from the records.
    """
    path = layout.catalog_path
    if not path.exists():
        return
    try:
        catalog = Catalog(path, read_only=True)
        try:
            known = catalog.latest_versions()
            tail = {record["id"] for record in uncommitted_tail(layout, catalog)}
        finally:
            catalog.close()
    except (ArchiveError, sqlite3.Error) as exc:
        yield Problem(path.name, _clip(f"unreadable: {exc} (run `newsarchive reindex`)"))
        return
    for canonical, (version, record_id) in latest.items():
        if known.get(canonical) != (version, record_id) and record_id not in tail:
            yield Problem(
                path.name, f"does not know record {record_id} (version {version} of {canonical})"
            )
    for canonical in known.keys() - latest.keys():
        yield Problem(path.name, f"lists {canonical}, which no record holds")


def _check_records(
    layout: ArchiveLayout, captures: _Captures, latest: dict[str, tuple[int, str]]
) -> Iterator[Problem]:
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
        canonical = record["canonical_url"]
        if record["version"] > latest.get(canonical, (0, ""))[0]:
            latest[canonical] = (record["version"], record["id"])
        references.extend(
            (where, field, record[field])
            for field in ("duplicate_of", "previous")
            if record[field] is not None
        )
        for message in _check_pointer(layout.warc_dir, record, captures):
            yield Problem(where, message)
    for where, field, target in references:
        if target not in ids:
            yield Problem(where, f"{field} {target} names no record in this archive")


def _check_pointer(warc_dir: Path, record: Mapping[str, Any], captures: _Captures) -> list[str]:
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
    if (record["final_url"], pointer["record_id"]) in captures.revisits:
        del expected["WARC-Target-URI"]  # identical bytes captured at another URL first
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
