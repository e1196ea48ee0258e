"""Read a WARC file record by record, past damaged gzip members.

warcio's ArchiveIterator stops at the first gzip member it cannot read. One damaged member must not
hide the intact records after it: a rebuild would forget their payloads and verify would call
every revisit of them dangling. So on a failure the reader looks for the next gzip member that
decompresses whole, reports the bytes in between as one `Damage`, and goes on from there. Each
record is read to its end with its digests checked, so a record whose bytes changed but still
parse is reported too (`ReadRecord.failures`).
"""

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

from archive.warcwriter import OPEN_SUFFIX, WarcLocation

_GZIP_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ReadRecord:
    """One record read to its end: its headers, where its gzip member lies, what is wrong."""

    record: ArcWarcRecord
    offset: int
    length: int
    payload_length: int  # bytes after the HTTP headers (the whole block when there are none)
    failures: list[str]  # digest failures, truncation: empty when the record reads back whole


@dataclass(frozen=True)
class Damage:
    """Bytes from `offset` to `end` that hold no readable record (`end`: where reading resumed,
    or the file's size)."""

    offset: int
    end: int
    reason: str


def read_warc(file: BinaryIO) -> Iterator[ReadRecord | Damage]:
    """Every record of a WARC file and every damaged stretch, in file order. Never raises for
    what the bytes hold (only OSError for the file itself)."""
    position = 0
    while True:
        file.seek(position)
        iterator = ArchiveIterator(file, check_digests=True)
        damage: str | None = None
        try:
            for record in iterator:
                payload, failures = _read_through(iterator, record)
                offset, length = iterator.get_record_offset(), iterator.get_record_length()
                if failures:  # a broken gzip member beneath? then warcio's length means nothing
                    here = file.tell()
                    damage = _member_damage(file, offset)
                    file.seek(here)
                    if damage is not None:
                        position = offset
                        break
                position = offset + length
                yield ReadRecord(record, offset, length, payload, failures)
            else:
                return
        # Whatever warcio raises on these bytes is a finding about them, not a bug.
        except Exception as exc:
            damage = _member_damage(file, position) or str(exc)
        resume = _next_member(file, position + 1)
        end = resume if resume is not None else file.seek(0, 2)
        if end <= position:
            return
        yield Damage(position, end, damage)
        if resume is None:
            return
        position = resume


def read_member(file: BinaryIO, offset: int, length: int) -> ReadRecord:
    """The record in the `length` bytes at `offset`, read to its end (its `length`: that of its
    gzip member). Raises ValueError, or whatever warcio raises, when no record is there."""
    file.seek(offset)
    if file.read(len(_GZIP_MAGIC)) != _GZIP_MAGIC:  # else warcio may take any bytes for a record
        raise ValueError("no gzip member starts there")
    file.seek(offset)
    iterator = ArchiveIterator(LimitReader(file, length), check_digests=True)
    record = next(iterator, None)
    if record is None:
        raise ValueError("nothing there")
    payload, failures = _read_through(iterator, record)
    return ReadRecord(record, offset, iterator.get_record_length(), payload, failures)


def reads_back(warc_dir: Path, location: WarcLocation) -> bool:
    """Whether the record at `location` (in a closed file or the one being written) is there,
    whole, with right digests: what a revisit may refer to."""
    path = warc_dir / location.filename
    if not path.exists():
        path = path.with_name(path.name + OPEN_SUFFIX)
    try:
        with path.open("rb") as file:
            found = read_member(file, location.offset, location.length)
    except Exception:  # missing file, damaged bytes: either way nothing to refer to
        return False
    record_id = found.record.rec_headers.get_header("WARC-Record-ID")
    return not found.failures and record_id == location.record_id


def _read_through(iterator: ArchiveIterator, record: ArcWarcRecord) -> tuple[int, list[str]]:
    """Read `record` to its end; return its payload's length and what is wrong with it.

    warcio checks digests only once a record is read to its Content-Length and does not notice
    a gzip member cut short, so both are checked here.
    """
    stream = record.raw_stream
    payload = 0
    while chunk := stream.read(1 << 20):
        payload += len(chunk)
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
    return payload, failures


def _next_member(file: BinaryIO, start: int) -> int | None:
    """The offset of the first gzip member at or after `start` that decompresses whole."""
    position = start
    while True:
        file.seek(position)
        window = file.read(_CHUNK + len(_GZIP_MAGIC) - 1)
        found = window.find(_GZIP_MAGIC)
        if found < 0:
            if len(window) < len(_GZIP_MAGIC):
                return None
            position += len(window) - len(_GZIP_MAGIC) + 1
            continue
        if _member_damage(file, position + found) is None:
            return position + found
        position += found + 1


def _member_damage(file: BinaryIO, offset: int) -> str | None:
    """What keeps the gzip member at `offset` from decompressing whole; None when it does."""
    file.seek(offset)
    if file.read(len(_GZIP_MAGIC)) != _GZIP_MAGIC:
        return "not gzip-compressed per record"
    file.seek(offset)
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        while chunk := file.read(_CHUNK):
            while chunk and not decompressor.eof:
                decompressor.decompress(chunk, _CHUNK)
                chunk = decompressor.unconsumed_tail
            if decompressor.eof:
                return None
    except zlib.error as exc:
        return f"damaged gzip member ({exc})"
    return "truncated gzip member"
