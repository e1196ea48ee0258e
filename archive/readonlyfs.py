"""A file system DuckDB can read the archive through and never write, whatever SQL it is given.

DuckDB's own allow-lists (`allowed_directories`, `allowed_paths`) grant reading and writing
alike: a directory on them can be overwritten by `COPY ... TO`. So the records and their twins
are not on them at all. DuckDB reaches them only through this fsspec file system, under the
`narchive://` protocol, which implements reading (`ls`, `info`, open for `rb`) and nothing else:
every write, rename, delete or mkdir fails inside it, and so does any path that resolves (after
`..` and symlinks) outside the roots it was given.
"""

from __future__ import annotations

import os
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
        return self._local._open(self._inside(path), mode="rb")
