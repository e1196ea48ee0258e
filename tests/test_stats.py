"""`newsarchive stats` on a real crawl of the sample site."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from archives import copy_archive, record, store_records
from support import newsarchive, records_of

import archive.stats as stats_module
from archive.layout import ArchiveLayout
from archive.stats import archive_stats


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


class _CommitAfterFirstRead:
    """A catalog connection that lets a writer (as a crawl does) commit one more record right
    after its first query, between the queries `archive_stats` makes."""

    def __init__(self, db: sqlite3.Connection, commit: Callable[[], object]) -> None:
        self.db, self.commit, self.reads = db, commit, 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        cursor = self.db.execute(sql, *args)
        if sql.lstrip().upper().startswith("SELECT"):
            self.reads += 1
            if self.reads == 1:
                self.commit()
        return cursor

    def close(self) -> None:
        self.db.close()


def test_figures_agree_when_a_crawl_commits_while_they_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    store_records(root, [record(1)])
    opened = stats_module.open_catalog
    monkeypatch.setattr(
        stats_module,
        "open_catalog",
        lambda layout: _CommitAfterFirstRead(
            opened(layout), lambda: store_records(root, [record(2)])
        ),
    )
    figures = archive_stats(ArchiveLayout(root))
    assert figures.records == sum(day.records for day in figures.per_day) == 1
