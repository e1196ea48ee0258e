"""A file system DuckDB can read the archive through and never write, whatever SQL it is given.

DuckDB's own allow-lists (`allowed_directories`, `allowed_paths`) grant reading and writing
alike: a directory on them can be overwritten by `COPY ... TO`. So the records and their twins
are not on them at all. DuckDB reaches them only through this fsspec file system, under the
`narchive://` protocol, which implements reading (`ls`, `info`, open for `rb`) and nothing else:
every write, rename, delete or mkdir fails inside it, and so does any path that resolves (after
`..` and symlinks) outside the roots it was given.

DuckDB reads one open file from several threads, each seeking and then reading through the
same Python object: a shared position would let one thread's seek move another's read (short
reads, "ZSTD Decompression failure"). So each thread keeps its own position (`_PositionalFile`)
and reads with `os.pread`, which never touches a shared offset.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

PROTOCOL = "narchive"


def readonly_url(path: Path) -> str:
    """The URL DuckDB reads `path` by through `ReadOnlyFileSystem`."""
    return f"{PROTOCOL}://{path}"


class ReadOnlyFileSystem(AbstractFileSystem):
    """Read-only access to the files below `roots`; everything else raises PermissionError."""

    protocol = PROTOCOL
    cachable = False  # each connection gets its own roots

    def __init__(self, roots: Sequence[Path], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._roots = [os.path.realpath(root) for root in roots]
        self._local = LocalFileSystem()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        return text[len(PROTOCOL) + 3 :] if text.startswith(f"{PROTOCOL}://") else text

    def _inside(self, path: str) -> str:
        real = os.path.realpath(self._strip_protocol(path))
        if not any(real == root or real.startswith(root + os.sep) for root in self._roots):
            raise PermissionError(f"{path}: outside the archive's records")
        return real

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        entries = self._local.ls(self._inside(path), detail=detail, **kwargs)
        if detail:
            return [{**entry, "name": readonly_url(Path(entry["name"]))} for entry in entries]
        return [readonly_url(Path(name)) for name in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        entry: dict[str, Any] = self._local.info(self._inside(path), **kwargs)
        return {**entry, "name": readonly_url(Path(entry["name"]))}

    def modified(self, path: str) -> Any:
        """When `path` last changed: DuckDB's file caches ask, to know a cached copy is stale."""
        return self._local.modified(self._inside(path))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":
            raise PermissionError(f"{path}: the archive is read-only")
        return _PositionalFile(self._inside(path))


class _PositionalFile(io.RawIOBase):
    """A file open for reading whose position is each thread's own (see the module docstring)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        self._position = threading.local()

    def _at(self) -> int:
        return int(getattr(self._position, "offset", 0))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at(), io.SEEK_END: self._size}[whence]
        self._position.offset = base + offset
        return self._position.offset

    def tell(self) -> int:
        return self._at()

    def read(self, size: int | None = -1) -> bytes:
        start = self._at()
        wanted = self._size - start if size is None or size < 0 else size
        chunks: list[bytes] = []
        while wanted > 0:
            chunk = os.pread(self._fd, wanted, start)
            if not chunk:
                break
            chunks.append(chunk)
            start += len(chunk)
            wanted -= len(chunk)
        self._position.offset = start
        return b"".join(chunks)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
