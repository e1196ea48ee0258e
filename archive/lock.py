"""One writer per archive: an exclusive, non-blocking flock on `<archive>/.lock`.

The kernel drops the lock when the holder exits, however it dies, so a crash never leaves a stale
lock behind. The holder's pid is written into the file only to name it in the error message.
The file itself is never deleted: unlinking a flock'd file lets two processes lock two inodes.
"""

import fcntl
import os
from pathlib import Path
from types import TracebackType

from archive.errors import ArchiveError, ArchiveLockedError


class ArchiveLock:
    """Context manager holding the archive lock; raises ArchiveLockedError if another has it."""

    def __init__(self, lock_path: Path) -> None:
        self._path = lock_path
        self._fd: int | None = None

    def __enter__(self) -> "ArchiveLock":
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchiveError(f"cannot open lock file {self._path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise ArchiveLockedError(
                f"archive {self._path.parent} is locked by another newsarchive process "
                f"(pid {holder}); nothing done"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)
        os.close(fd)


def _read_pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


def is_held(lock_path: Path) -> bool:
    """Whether a process holds the archive lock now, i.e. a crawl is writing the archive.

    Readers ask it to tell a crawl's work in progress from damage. The probe is a shared
    non-blocking flock, released at once; the lock file is never created here.
    """
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ArchiveError(f"cannot open lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
