"""kill -9 at any moment loses nothing and corrupts nothing.

A crawl of the sample site (with generated bulk articles) is killed with SIGKILL, process group and
extraction workers included, 20 times: four seeded random moments in each of five stages (mid-WARC-
write, between WARC and JSON, mid-JSON-write, between JSON and catalog commit, mid-catalog-commit).
The crawl kills itself there: a wrapper process patches the write it is to die in (the real code
runs, only the moment of death is chosen). The state left on disk is checked to be the stage aimed
at, except mid-catalog-commit, whose kill leaves no trace on disk that tells it from a kill just
before or after the commit (the WAL is the same either way), so that aim is not checked; then
the crawl runs again and `verify` runs: every article of the uninterrupted reference crawl
must be there exactly once, no record twice, and verify must find nothing wrong.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REPO, newsarchive, records_of, write_config
from warcio.archiveiterator import ArchiveIterator

from archive.layout import ArchiveLayout
from archive.warcwriter import recover_unclosed
from crawler.sample_server import SampleSite

pytestmark = pytest.mark.start_early  # runs for minutes: see conftest.py

KILLS = 20
PARALLEL = 4  # kills run side by side, each on its own archive
SEED = 20240813
BULK_ARTICLES = 30


@pytest.fixture(scope="module")
def bulk_site() -> Iterator[SampleSite]:
    with SampleSite(slow_seconds=0.3, bulk_articles=BULK_ARTICLES) as running:
        yield running


KILLING_CRAWL = """
import os, signal, sys, threading

import archive.warcwriter as warcwriter
from archive.catalog import Catalog
from archive.records import RecordStore
from crawler.cli import main

stage, nth = sys.argv[1], int(sys.argv[2])
calls = 0


def due():
    global calls
    calls += 1
    return calls == nth


def die():
    os.killpg(os.getpgrp(), signal.SIGKILL)


def wrap(owner, name, before=None, after=None, counts=lambda *args: True):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        hit = counts(*args) and due()
        if hit and before:
            before(*args)
        result = original(*args, **kwargs)
        if hit and after:
            after(*args)
        return result

    setattr(owner, name, wrapper)


def half_write(fd, data):
    os.write(fd, data[: len(data) // 2])
    die()


def torn_line(store, record):
    with open(store._path, "r+b") as file:
        file.truncate(file.seek(0, 2) - 20)
    die()


if stage == "mid-WARC-write":
    wrap(warcwriter, "_write_all", before=half_write)
elif stage == "between WARC and JSON":
    # Only a bulk article's append: the files can then show its response without its record.
    bulk = lambda store, record: "/a/" in record["final_url"]
    wrap(RecordStore, "append", before=lambda *a: die(), counts=bulk)
elif stage == "mid-JSON-write":
    wrap(RecordStore, "append", after=torn_line)
elif stage == "between JSON and catalog commit":
    wrap(RecordStore, "append", after=lambda *a: die())
elif stage == "mid-catalog-commit":
    wrap(Catalog, "commit", before=lambda *a: threading.Timer(0.0005, die).start())
sys.exit(main(sys.argv[3:]))
"""
STAGES = (
    "mid-WARC-write",
    "between WARC and JSON",
    "mid-JSON-write",
    "between JSON and catalog commit",
    "mid-catalog-commit",
)


def crawl_killed_at(config: Path, stage: str, nth: int) -> bool:
    """Run a crawl that SIGKILLs its own process group at the `nth` write of `stage`.

    Returns False when the crawl finished first (fewer than `nth` such writes).
    """
    process = subprocess.Popen(
        [sys.executable, "-c", KILLING_CRAWL, stage, str(nth), "crawl", "--config", config, "-q"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        returncode = process.wait(timeout=120)
    finally:
        _wait_for_group_to_die(process.pid)
    return returncode == -signal.SIGKILL


def _wait_for_group_to_die(pgid: int) -> None:
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


@dataclass(frozen=True)
class Outcome:
    """What one kill and the crawl after it left."""

    stage: str
    hit: str  # the stage the files show, or "the run ended first"
    corrupt: int
    lost: int
    duplicated: int
    unexpected: int
    leftover_open: int


def kill_and_recrawl(
    site: SampleSite, work: Path, stage: str, nth: int, expected: set[str]
) -> Outcome:
    archive = work / "archive"
    config = write_config(work / "sources.toml", site, archive, timeout=1.0)
    if not crawl_killed_at(config, stage, nth):
        hit = "the run ended first"
    elif stage == "mid-catalog-commit" or stage in stages_left(archive, work):
        hit = stage
    else:
        hit = f"not {stage}"
    rerun = newsarchive("crawl", "--config", config)
    assert rerun.returncode == 0, rerun.stderr
    verify = newsarchive("verify", "--archive-dir", archive)
    got = Counter(record["id"] for record in records_of(archive))
    return Outcome(
        stage=stage,
        hit=hit,
        corrupt=len(verify.stdout.splitlines()) if verify.returncode else 0,
        lost=len(expected - got.keys()),
        duplicated=sum(count - 1 for count in got.values()),
        unexpected=len(got.keys() - expected),
        leftover_open=len(list((archive / "warc").glob("*.open"))),
    )


def test_twenty_kills_lose_nothing_and_corrupt_nothing(
    bulk_site: SampleSite, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    config = write_config(tmp_path / "reference.toml", bulk_site, reference, timeout=1.0)
    assert newsarchive("crawl", "--config", config).returncode == 0
    expected = {record["id"] for record in records_of(reference)}
    assert len(expected) > BULK_ARTICLES

    rng = random.Random(SEED)
    # Catalog commits are per batch (group commit), so far fewer than writes of the other kinds;
    # the kill between WARC and JSON counts bulk articles' records only.
    most = {"mid-catalog-commit": 3, "between WARC and JSON": BULK_ARTICLES}
    plan = [
        (stage, rng.randint(1, most.get(stage, len(expected))))
        for stage in (STAGES[kill % len(STAGES)] for kill in range(KILLS))
    ]
    works = [tmp_path / f"kill-{kill}" for kill in range(KILLS)]
    for work in works:
        work.mkdir()
    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(
            pool.map(
                lambda job: kill_and_recrawl(bulk_site, job[0], *job[1], expected),
                zip(works, plan, strict=True),
            )
        )
    figures = {
        "kills": KILLS,
        **{
            name: sum(getattr(outcome, name) for outcome in outcomes)
            for name in ("corrupt", "lost", "duplicated", "unexpected", "leftover_open")
        },
        "stages": dict(Counter(outcome.hit for outcome in outcomes)),
    }
    print(json.dumps(figures))
    assert all(figures[name] == 0 for name in ("corrupt", "lost", "duplicated", "unexpected")), (
        figures
    )
    assert figures["leftover_open"] == 0, figures
    assert all(outcome.hit == outcome.stage for outcome in outcomes), figures
