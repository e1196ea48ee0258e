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
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from crashes import KILL_AT_STAGE, stages_left, wait_for_group_to_die
from kill_at_stage import STAGES
from support import REPO, newsarchive, records_of, write_config

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


def crawl_killed_at(config: Path, stage: str, nth: int) -> bool:
    """Run a crawl that SIGKILLs its own process group at the `nth` write of `stage`.

    Returns False when the crawl finished first (fewer than `nth` such writes).
    """
    process = subprocess.Popen(
        [sys.executable, KILL_AT_STAGE, stage, str(nth), "crawl", "--config", config, "-q"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        returncode = process.wait(timeout=120)
    finally:
        wait_for_group_to_die(process.pid)
    return returncode == -signal.SIGKILL


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
