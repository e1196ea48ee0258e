"""The archive lock: a second newsarchive process on the same archive is refused, not queued."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.errors import ArchiveLockedError
from archive.lock import ArchiveLock

HOLD = """
import sys
from pathlib import Path
from archive.lock import ArchiveLock
with ArchiveLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def held_by_another_process(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_a_held_lock_names_the_holder_and_does_nothing(tmp_path: Path) -> None:
    lock_path = tmp_path / "archive" / ".lock"
    with held_by_another_process(lock_path) as holder:
        expected = (
            f"archive {tmp_path / 'archive'} is locked by another newsarchive process "
            f"(pid {holder.pid}); nothing done"
        )
        with pytest.raises(ArchiveLockedError) as raised, ArchiveLock(lock_path):
            pass
        assert str(raised.value) == expected
        assert raised.value.exit_code == 75


def test_the_lock_is_free_again_once_its_holder_dies(tmp_path: Path) -> None:
    lock_path = tmp_path / ".lock"
    with held_by_another_process(lock_path) as holder:
        holder.kill()
        holder.wait(timeout=10)
    with ArchiveLock(lock_path):
        assert lock_path.read_text().strip().isdigit()


def test_the_lock_is_released_on_exit_and_exclusive_within_a_process(tmp_path: Path) -> None:
    lock_path = tmp_path / ".lock"
    with ArchiveLock(lock_path):
        pass
    with ArchiveLock(lock_path), pytest.raises(ArchiveLockedError), ArchiveLock(lock_path):
        pass
