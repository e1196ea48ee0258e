"""`newsarchive stats` on a real crawl of the sample site."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from archives import copy_archive
from support import newsarchive, records_of


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_once: Path) -> Path:
    return copy_archive(crawled_once, tmp_path_factory.mktemp("stats"))


def test_stats_count_what_is_on_disk(archive: Path) -> None:
    done = newsarchive("stats", "--archive-dir", archive, "--json")
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    records = records_of(archive)
    assert stats["records"] == len(records)
    assert stats["duplicates"] == sum(1 for r in records if r["duplicate_of"])
    assert stats["new_versions"] == 0 and stats["runs"] == 1
    per_source = Counter(r["source"] for r in records)
    assert {d["source"]: d["records"] for d in stats["per_day"]} == per_source
    assert stats["failures"]["articles_failed"] > 0  # the sample site's 404, 500, slow page
    warcs = list((archive / "warc").glob("*.warc.gz"))
    assert stats["warc_bytes"] == sum(p.stat().st_size for p in warcs) > 0


def test_stats_as_text(archive: Path) -> None:
    lines = newsarchive("stats", "--archive-dir", archive).stdout.splitlines()
    assert "records of" in lines[0] and "WARC files" in lines[0]
    assert lines[1].split() == ["fetched", "source", "records", "duplicates", "new_versions"]
