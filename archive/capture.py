"""Read back the HTTP response a record points at: status, headers and the body as received.

A record's `warc` pointer names a file and an offset. Both come from the archive, which may be
damaged or edited: the file name must be one the WARC writer produces (no folder, no `..`), and
the file must lie in the archive's `warc/` folder, so no pointer can make a reader open any
other file. Readers address captures by record id, never by a path a user gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive.collection import Collection, as_collection
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from archive.warcwriter import OPEN_SUFFIX

# What a shown body may weigh: the crawl's size cap is 10 MB by default.
MAX_BODY_BYTES = 32 * 1024 * 1024
_WARC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.warc\.gz(?:\.open)?$")


@dataclass(frozen=True)
class Capture:
    """One archived response: what the server sent, the body decoded of its content-encoding."""

    target_uri: str
    date: str
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool

    @property
    def content_type(self) -> str:
        """The media type the server declared, lower-case, without parameters."""
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return "application/octet-stream"


def warc_path(layout: ArchiveLayout, filename: str) -> Path:
    """The WARC file `filename` names, checked to be one of the archive's own WARC files (under
    its unclosed name while a crawl appends to it)."""
    if not _WARC_NAME.match(filename):
        raise ArchiveError(f"not a WARC file name of this archive: {filename!r}")
    path = layout.warc_dir / filename
    if not path.exists():  # a crawl appending to it has it under its unclosed name
        path = path.with_name(path.name + OPEN_SUFFIX)
    if path.resolve().parent != layout.warc_dir.resolve():
        raise ArchiveError(f"not a WARC file of this archive: {filename!r}")
    return path


def read_capture(
    archive: ArchiveLayout | Collection, pointer: Mapping[str, Any], shard: int = 0
) -> Capture:
    """The response record at the `warc` pointer of a record (of shard `shard` of a
    collection: its file is looked up there first, then in the other shards); ArchiveError if
    it cannot be read."""
    collection = as_collection(archive)
    filename = str(pointer.get("filename", ""))
    layout = collection.shards[shard]
    if _WARC_NAME.match(filename):  # else `warc_path` says why not
        layout = collection.warc_shard(shard, filename)
    path = warc_path(layout, filename)
    offset = pointer.get("offset")
    if not isinstance(offset, int) or offset < 0:
        raise ArchiveError(f"bad WARC offset {offset!r}")
    try:
        with path.open("rb") as file:
            file.seek(offset)
            record = next(iter(ArchiveIterator(file)))
            if record.rec_type != "response" or record.http_headers is None:
                raise ArchiveError(f"{path.name}@{offset}: not a response record")
            stream = record.content_stream()
            body = stream.read(MAX_BODY_BYTES + 1)
            return Capture(
                target_uri=record.rec_headers.get_header("WARC-Target-URI") or "",
                date=record.rec_headers.get_header("WARC-Date") or "",
                status_line=record.http_headers.statusline,
                headers=list(record.http_headers.headers),
                body=body[:MAX_BODY_BYTES],
                truncated=len(body) > MAX_BODY_BYTES,
            )
    except (OSError, StopIteration, ArchiveLoadFailed, ValueError, EOFError) as exc:
        raise ArchiveError(f"cannot read {path.name}@{offset}: {exc}") from exc
