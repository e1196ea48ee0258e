"""What a SIGKILLed crawl left on disk, judged before anything repairs it (the crash tests')."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

from support import records_of
from warcio.archiveiterator import ArchiveIterator

from archive.layout import ArchiveLayout
from archive.warcwriter import recover_unclosed

KILL_AT_STAGE = Path(__file__).with_name("kill_at_stage.py")


def wait_for_group_to_die(pgid: int) -> None:
    """Extraction workers belong to the group too; none may outlive the kill."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} survived SIGKILL")


def stages_left(archive: Path, scratch: Path) -> set[str]:
    """Which writes the kill cut, judged from the files before anything repairs them."""
    layout = ArchiveLayout(archive)
    if not layout.warc_dir.is_dir():
        return {"before any write"}
    stages: set[str] = set()
    copy = scratch / "warc"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(layout.warc_dir, copy)
    open_sizes = {path.name: path.stat().st_size for path in copy.glob("*.open")}
    recovered = {path.name + ".open": path.stat().st_size for path in recover_unclosed(copy)}
    if any(recovered.get(name, 0) < size for name, size in open_sizes.items()):
        stages.add("mid-WARC-write")
    records_files = layout.records_dir.glob("*/*/*.jsonl")
    if any(path.read_bytes()[-1:] not in (b"\n", b"") for path in records_files):
        stages.add("mid-JSON-write")
    records = records_of(archive)
    if layout.catalog_path.exists():
        with sqlite3.connect(f"file:{layout.catalog_path}?mode=ro", uri=True) as db:
            known = {row[0] for row in db.execute("SELECT record_id FROM articles")}
        if {record["id"] for record in records} - known:
            stages.add("between JSON and catalog commit")
    stored = {record["final_url"] for record in records}
    if bulk_responses(copy) - stored:
        stages.add("between WARC and JSON")
    return stages or {"between articles"}


def bulk_responses(warc_dir: Path) -> set[str]:
    """URLs of the generated articles that have a response record."""
    found = set()
    for path in warc_dir.glob("*.warc.gz"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response" and "/a/" in uri:
                    found.add(uri)
    return found
