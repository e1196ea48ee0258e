"""Write HTTP exchanges to WARC/1.1 files, one gzip member per record.

The writer owns `<archive>/warc/`. A file is named `<prefix>-<UTC timestamp>-<serial>.warc.gz.open`
while it is written and renamed to `.warc.gz` once closed and fsynced, so a name without `.open`
always means a complete file. A new writer goes on with the newest closed file while it is under
`max_bytes` (renamed back to `.open`, a `warcinfo` record for the new session, then appended to),
so that frequent short runs fill a few large files rather than thousands of small ones. Each
exchange (request + response, or request + revisit) is compressed in memory and appended with one
write, then flushed to the OS: a crash loses at most the exchange being written, and a failed
write is cut back off the file so earlier records stay readable. warcio builds the records and
computes every digest. Not thread-safe: one writer per archive, used from one thread.
"""

import contextlib
import io
import os
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal
from urllib.parse import quote, urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archive.errors import ArchiveError

WARC_VERSION = "WARC/1.1"
OPEN_SUFFIX = ".open"
REVISIT_PROFILES = {
    "identical-payload-digest": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    "server-not-modified": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
}
# The body handed to us is de-chunked, so a stored "Transfer-Encoding: chunked" would make replay
# tools (pywb, ReplayWeb.page) try to de-chunk it again; the header is kept under this name.
RENAMED_HEADERS = {"transfer-encoding": "X-Archive-Orig-Transfer-Encoding"}
_REQUEST_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True)
class HttpExchange:
    """One HTTP request and its response as they crossed the wire (one hop of a redirect chain)."""

    url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    protocol: str
    status: int
    reason: str
    response_headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: datetime
    ip_address: str | None = None
    request_body: bytes = b""

    @cached_property
    def body_digest(self) -> str:
        """The payload digest, computed once: the capture looks it up, then the record states it."""
        return payload_digest(self.body)


@dataclass(frozen=True)
class WarcLocation:
    """Where one record landed: enough to read exactly that gzip member back."""

    filename: str
    offset: int
    length: int
    record_id: str
    payload_digest: str
    target_uri: str
    date: str


def payload_digest(body: bytes) -> str:
    """The `sha1:<BASE32>` digest warcio writes as WARC-Payload-Digest for this entity body."""
    digester = Digester("sha1")
    digester.update(body)
    return str(digester)


def warc_filename_pattern(prefix: str) -> re.Pattern[str]:
    """Match names this writer produces for `prefix`; group 1 is the serial."""
    return re.compile(rf"^{re.escape(prefix)}-\d{{8}}T\d{{6}}Z-(\d+)\.warc\.gz(?:\.open)?$")


GZIP_LEVEL = 6


class WarcWriter:
    """Append exchanges to rotating WARC files in one directory; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "newsarchive",
        max_bytes: int = 1_000_000_000,
        info: Mapping[str, str] | None = None,
        append: bool = True,
    ) -> None:
        """`append`: go on with the newest closed file of `prefix` while it has room."""
        self._directory = directory
        self._prefix = prefix
        self._max_bytes = max_bytes
        self._info = dict(info or {})
        self._append_to_last = append
        self._serial: int | None = None
        self._fd: int | None = None
        self._final_name = ""
        self._size = 0
        # warcio gzips at level 9; one member per record at level 6 is as small and much faster.
        self._builder = WARCWriter(None, gzip=False, warc_version=WARC_VERSION)
        self.bytes_written = 0

    def __enter__(self) -> "WarcWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def write_exchange(self, exchange: HttpExchange) -> WarcLocation:
        """Write a `request` and a `response` record; return where the response landed."""
        date = _warc_date(exchange.fetched_at)
        response = self._builder.create_warc_record(
            _one_line(exchange.url),
            "response",
            payload=io.BytesIO(exchange.body),
            length=len(exchange.body),
            http_headers=_response_headers(exchange),
            warc_headers_dict=_warc_headers("response", exchange, date)
            | {"WARC-Payload-Digest": exchange.body_digest},  # warcio then does not hash again
        )
        request = self._request_record(exchange, date, response)
        return self._write([request, response])[1]

    def write_revisit(
        self,
        exchange: HttpExchange,
        *,
        profile: Literal["identical-payload-digest", "server-not-modified"],
        refers_to: WarcLocation | None,
    ) -> WarcLocation:
        """Write a `request` and a `revisit` record (HTTP headers only); return the revisit's place.

        identical-payload-digest: the payload equals an archived one, whose digest (from
        `refers_to`, else computed from `exchange.body`) is recorded; a body that does not match
        `refers_to` is a caller bug and raises ValueError. server-not-modified (a 304): the
        original's digest is recorded when `refers_to` is given, else none and the returned
        `payload_digest` is "".
        """
        digest = refers_to.payload_digest if refers_to else ""
        if profile == "identical-payload-digest":
            actual = exchange.body_digest
            if refers_to and exchange.body and actual != digest:
                raise ValueError(f"revisit of {exchange.url}: payload differs from {digest}")
            digest = digest or actual
        date = _warc_date(exchange.fetched_at)
        warc_headers = _warc_headers("revisit", exchange, date)
        warc_headers["WARC-Profile"] = REVISIT_PROFILES[profile]
        if refers_to:
            warc_headers["WARC-Refers-To"] = refers_to.record_id
            warc_headers["WARC-Refers-To-Target-URI"] = refers_to.target_uri
            warc_headers["WARC-Refers-To-Date"] = refers_to.date
        if digest:
            warc_headers["WARC-Payload-Digest"] = digest
        revisit = self._builder.create_warc_record(
            _one_line(exchange.url),
            "revisit",
            http_headers=_response_headers(exchange),
            warc_headers_dict=warc_headers,
        )
        request = self._request_record(exchange, date, revisit)
        return self._write([request, revisit])[1]

    def sync(self) -> None:
        """Make every record written so far durable (fsync), before anything refers to them."""
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            path = _open_path(self._directory / self._final_name)
            raise ArchiveError(f"cannot write WARC file {path}: {_reason(exc)}") from exc

    def close(self) -> None:
        """Fsync the current file and rename it from `.warc.gz.open` to `.warc.gz`; idempotent."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        final = self._directory / self._final_name
        try:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(_open_path(final), final)
            fsync_directory(self._directory)
        except OSError as exc:
            raise ArchiveError(f"cannot close WARC file {final}: {_reason(exc)}") from exc

    def _request_record(
        self, exchange: HttpExchange, date: str, concurrent: ArcWarcRecord
    ) -> ArcWarcRecord:
        warc_headers = _warc_headers("request", exchange, date)
        warc_headers["WARC-Concurrent-To"] = concurrent.rec_headers.get_header("WARC-Record-ID")
        return self._builder.create_warc_record(
            _one_line(exchange.url),
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=_request_headers(exchange),
            warc_headers_dict=warc_headers,
        )

    def _write(self, records: Iterable[ArcWarcRecord]) -> list[WarcLocation]:
        """Append `records` to the current file (rotating first if it is full) in one write."""
        if self._fd is not None and self._size >= self._max_bytes:
            self.close()
        if self._fd is None:
            self._open_next()
        return self._append(records)

    def _append(self, records: Iterable[ArcWarcRecord]) -> list[WarcLocation]:
        assert self._fd is not None
        buffer = io.BytesIO()
        spans = []
        for record in records:
            raw = io.BytesIO()
            self._builder.out = raw
            self._builder.write_record(record)
            member = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
            start = buffer.tell()
            buffer.write(member.compress(raw.getbuffer()) + member.flush())
            spans.append((record, start, buffer.tell() - start))
        self._builder.out = None
        try:
            with buffer.getbuffer() as data:
                _write_all(self._fd, data)
        except OSError as exc:
            path = _open_path(self._directory / self._final_name)
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise ArchiveError(f"cannot write WARC file {path}: {_reason(exc)}") from exc
        base, written = self._size, buffer.tell()
        self._size += written
        self.bytes_written += written
        return [
            WarcLocation(
                filename=self._final_name,
                offset=base + start,
                length=length,
                record_id=record.rec_headers.get_header("WARC-Record-ID"),
                payload_digest=record.rec_headers.get_header("WARC-Payload-Digest") or "",
                target_uri=record.rec_headers.get_header("WARC-Target-URI") or "",
                date=record.rec_headers.get_header("WARC-Date"),
            )
            for record, start, length in spans
        ]

    def _open_next(self) -> None:
        """Reopen the newest closed file if it has room (first file of this writer only), else
        create the next `.open` file, never reusing a name present in the directory."""
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            if self._serial is None:
                self._serial = self._highest_serial()
                if self._append_to_last and self._reopen(self._serial):
                    return
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            while True:
                self._serial += 1
                name = f"{self._prefix}-{stamp}-{self._serial:05d}.warc.gz"
                if (self._directory / name).exists():
                    continue
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
                try:
                    self._fd = os.open(_open_path(self._directory / name), flags, 0o644)
                except FileExistsError:
                    continue
                break
        except OSError as exc:
            raise ArchiveError(
                f"cannot create a WARC file in {self._directory}: {_reason(exc)}"
            ) from exc
        self._final_name = name
        self._size = 0
        warcinfo = self._builder.create_warcinfo_record(name, self._warcinfo_fields())
        try:
            self._append([warcinfo])
        except ArchiveError:
            self._discard_open_file()
            raise

    def _reopen(self, serial: int) -> bool:
        """Go on with the closed file numbered `serial` if it holds records but is under
        `max_bytes`: rename it to `.open` (a crash from here on is repaired like any unclosed
        file), append a warcinfo record. False if there is no such file or it is full or empty.
        Raises OSError."""
        pattern = warc_filename_pattern(self._prefix)
        names = [
            entry.name
            for entry in os.scandir(self._directory)
            if (match := pattern.match(entry.name))
            and not entry.name.endswith(OPEN_SUFFIX)
            and int(match.group(1)) == serial
        ]
        if len(names) != 1:
            return False
        final = self._directory / names[0]
        if not 0 < final.stat().st_size < self._max_bytes:
            return False
        os.rename(final, _open_path(final))
        fsync_directory(self._directory)
        self._fd = os.open(_open_path(final), os.O_WRONLY | os.O_APPEND)
        self._final_name = final.name
        self._size = os.fstat(self._fd).st_size
        warcinfo = self._builder.create_warcinfo_record(final.name, self._warcinfo_fields())
        try:
            self._append([warcinfo])
        except ArchiveError:
            self.close()  # cut back to what it held: closed as it was
            raise
        return True

    def _discard_open_file(self) -> None:
        """Remove a file that could not even take its warcinfo record; never rename it."""
        assert self._fd is not None
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.close(fd)
            _open_path(self._directory / self._final_name).unlink()

    def _highest_serial(self) -> int:
        pattern = warc_filename_pattern(self._prefix)
        matches = (pattern.match(entry.name) for entry in os.scandir(self._directory))
        return max((int(match.group(1)) for match in matches if match), default=0)

    def _warcinfo_fields(self) -> dict[str, str]:
        return {
            "software": f"newsarchive/{software_version()}",
            "format": "WARC File Format 1.1",
            "conformsTo": (
                "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
            ),
            **self._info,
        }


def recover_unclosed(directory: Path) -> list[Path]:
    """Close the `.warc.gz.open` files a crashed writer left in `directory`; return them renamed.

    A torn final gzip member (the exchange being written when the process died) is cut off, so
    every recovered file reads end to end; a file with no complete member is removed. Call it
    only under the archive lock, before any writer of this archive opens its file: every `.open`
    file is then a leftover.
    """
    recovered = []
    for path in sorted(directory.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        try:
            with path.open("r+b") as file:
                complete = _complete_members_length(file)
                file.truncate(complete)
                os.fsync(file.fileno())
            if complete == 0:
                path.unlink()
                continue
            os.rename(path, final)
            fsync_directory(directory)
        except OSError as exc:
            raise ArchiveError(f"cannot recover WARC file {path}: {_reason(exc)}") from exc
        recovered.append(final)
    return recovered


def _complete_members_length(file: BinaryIO) -> int:
    """Bytes from the start of `file` to the end of its last complete gzip member."""
    complete = position = 0
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    while chunk := file.read(1 << 16):
        while chunk:
            try:
                decompressor.decompress(chunk, 1 << 20)
            except zlib.error:
                return complete
            if decompressor.eof:
                rest = decompressor.unused_data
                position += len(chunk) - len(rest)
                complete = position
                decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
            else:
                rest = decompressor.unconsumed_tail
                position += len(chunk) - len(rest)
            chunk = rest
    return complete


def _warc_headers(record_type: str, exchange: HttpExchange, date: str) -> dict[str, str]:
    headers = {
        "WARC-Type": record_type,
        "WARC-Record-ID": StatusAndHeadersParser.make_warc_id(),
        "WARC-Date": date,
        "WARC-Target-URI": _one_line(exchange.url),
    }
    if exchange.ip_address:
        headers["WARC-IP-Address"] = _one_line(exchange.ip_address)
    return headers


def _request_headers(exchange: HttpExchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    target = quote(_one_line(target), safe=_REQUEST_TARGET_SAFE)
    statusline = f"{_one_line(exchange.method)} {target} {_one_line(exchange.protocol)}"
    return StatusAndHeaders(statusline, _clean_headers(exchange.request_headers))


def _response_headers(exchange: HttpExchange) -> StatusAndHeaders:
    reason = exchange.reason or _standard_phrase(exchange.status)
    return StatusAndHeaders(
        _one_line(f"{exchange.status} {reason}"),
        _clean_headers(exchange.response_headers),
        protocol=_one_line(exchange.protocol),
    )


def _clean_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers safe to store: one line each, Transfer-Encoding renamed (see RENAMED_HEADERS)."""
    cleaned = []
    for name, value in headers:
        name = RENAMED_HEADERS.get(name.lower(), name)
        cleaned.append((_one_line(name), _one_line(value)))
    return cleaned


def _one_line(text: str) -> str:
    """No CR or LF can reach a header block, whatever a hostile server sends."""
    return text.replace("\r", " ").replace("\n", " ")


def _standard_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _warc_date(fetched_at: datetime) -> str:
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    return datetime_to_iso_date(fetched_at.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _open_path(final: Path) -> Path:
    return final.with_name(final.name + OPEN_SUFFIX)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def software_version() -> str:
    try:
        return version("newsarchive")
    except PackageNotFoundError:
        return "unknown"
