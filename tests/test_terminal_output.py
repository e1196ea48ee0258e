"""Archived strings cannot drive the terminal: escape sequences in a record come out visible.

The archive here is written directly, as an archive made before extraction stripped control
characters (or edited by hand) would be: readers must be safe whatever the records hold.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from archives import record, store_records
from support import REPO, newsarchive

HOSTILE_TITLE = "Breaking\x1b]0;owned\x07 news\x1b[2J\x9b31m \u202eevil"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("terminal") / "archive"
    store_records(root, [record(1, title=HOSTILE_TITLE, text="Body\x1b[2J text.")])
    return root


def on_a_terminal(*args: str | Path) -> str:
    """What `newsarchive ARGS` writes to a terminal (a pseudo-terminal as its stdout)."""
    controller, terminal = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "crawler", *map(str, args)],
        stdout=terminal,
        stderr=subprocess.PIPE,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal side is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert done.returncode == 0, done.stderr
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [
        ["query"],
        ["sql", "SELECT title, text FROM articles"],
    ],
)
def test_tables_show_control_characters_as_escapes(archive: Path, args: list[str]) -> None:
    done = newsarchive(*args, "--archive-dir", archive)
    assert done.returncode == 0, done.stderr
    assert not any(raw in done.stdout for raw in RAW)
    assert "Breaking\\x1b" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["query", "--format", "jsonl"],
        ["query", "--format", "csv"],
        ["sql", "SELECT title FROM articles", "--format", "csv"],
        ["sql", "SELECT title FROM articles", "--format", "jsonl"],
    ],
)
def test_text_formats_on_a_terminal_are_escaped(archive: Path, args: list[str]) -> None:
    shown = on_a_terminal(*args, "--archive-dir", archive)
    assert "owned" in shown
    assert not any(raw in shown for raw in RAW)


def test_piped_jsonl_stays_the_stored_bytes(archive: Path) -> None:
    done = newsarchive("query", "--format", "jsonl", "--archive-dir", archive)
    stored = next((archive / "records").rglob("*.jsonl")).read_text()
    assert done.stdout == stored
