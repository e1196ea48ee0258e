"""Parquet twins of closed record days: `sql` gives the same rows and types from them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from archives import copy_archive, record, sql, store_records
from support import newsarchive, write_config

from archive.columnar import (
    compact_archive,
    compact_day,
    fresh_twin,
    month_twin_path,
    twin_path,
    twin_sources,
)
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from crawler.sample_server import SampleSite

TOMORROW = datetime.now(UTC).date() + timedelta(days=1)
EVERYTHING = "SELECT * FROM articles ORDER BY id"
TYPES = "SELECT column_name, column_type FROM (DESCRIBE articles)"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, crawled_once: Path) -> Path:
    return copy_archive(crawled_once, tmp_path_factory.mktemp("columnar"))


def test_twins_give_the_same_rows_and_types_as_the_jsonl(archive: Path) -> None:
    layout = ArchiveLayout(archive)
    days = RecordStore(layout.records_dir).files()
    before = (sql(archive, EVERYTHING), sql(archive, TYPES), sql(archive, "FROM latest"))
    assert compact_archive(layout) == []  # today's records are still being written
    written = compact_archive(layout, today=TOMORROW)
    assert written == [twin_path(layout, day) for day in days]
    assert all(fresh_twin(layout, day) for day in days)
    after = (sql(archive, EVERYTHING), sql(archive, TYPES), sql(archive, "FROM latest"))
    assert after == before and len(before[0]) > 10


def test_a_day_changed_after_its_twin_is_read_from_jsonl_until_redone(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1), record(2, fetched_at="2024-08-30T10:00:00Z")])
    old_day, new_day = RecordStore(layout.records_dir).files()
    assert compact_archive(layout, today=date(2024, 8, 30)) == [twin_path(layout, old_day)]
    assert fresh_twin(layout, new_day) is None
    store = RecordStore(layout.records_dir)
    store.append(record(3))  # a late line for the 29th, as a crawl across midnight writes
    store.close()
    assert fresh_twin(layout, old_day) is None
    ids = "SELECT id FROM articles ORDER BY id"
    assert sql(layout.root, ids) == [{"id": "r0001"}, {"id": "r0002"}, {"id": "r0003"}]
    assert compact_archive(layout, today=date(2024, 8, 30)) == [twin_path(layout, old_day)]
    assert sql(layout.root, ids) == [{"id": "r0001"}, {"id": "r0002"}, {"id": "r0003"}]


def test_a_torn_tail_stays_out_of_the_twin(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1)])
    day_file = next(layout.records_dir.rglob("*.jsonl"))
    with day_file.open("a", encoding="utf-8") as file:
        file.write('{"id": "torn", "version": 1, "source": "al')
    assert compact_day(layout, day_file) == fresh_twin(layout, day_file)
    assert sql(layout.root, "SELECT id FROM articles") == [{"id": "r0001"}]


def test_a_crawl_compacts_the_closed_days(tmp_path: Path, site: SampleSite) -> None:
    layout = store_records(tmp_path / "archive", [record(1)])
    config = write_config(tmp_path / "sources.toml", site, layout.root)
    assert newsarchive("crawl", "--config", config, "--json").returncode == 0
    old_day = layout.records_dir / "2024" / "08" / "2024-08-29.jsonl"
    assert fresh_twin(layout, old_day) == twin_path(layout, old_day)
    today = RecordStore(layout.records_dir).files()[-1]
    assert today != old_day and fresh_twin(layout, today) is None


def test_a_closed_month_is_read_from_one_twin_until_a_day_of_it_changes(tmp_path: Path) -> None:
    days = ("2024-07-30", "2024-07-31", "2024-08-01")
    layout = store_records(
        tmp_path, [record(n, fetched_at=f"{day}T10:00:00Z") for n, day in enumerate(days, 1)]
    )
    files = RecordStore(layout.records_dir).files()
    july = month_twin_path(layout, "2024-07")
    written = compact_archive(layout, today=date(2024, 8, 2))
    assert written == [*(twin_path(layout, day) for day in files), july]
    assert twin_sources(layout, files) == ([july, twin_path(layout, files[2])], [])
    assert twin_sources(layout, files[1:]) == ([twin_path(layout, day) for day in files[1:]], [])
    ids = "SELECT id FROM latest ORDER BY id"
    assert sql(layout.root, ids) == [{"id": "r0001"}, {"id": "r0002"}, {"id": "r0003"}]
    store = RecordStore(layout.records_dir)
    store.append(record(4, fetched_at="2024-07-31T23:59:00Z"))  # a late line for July
    store.close()
    assert twin_sources(layout, files) == (
        [twin_path(layout, files[0]), twin_path(layout, files[2])],
        [files[1]],
    )
    assert len(sql(layout.root, ids)) == 4
    rewritten = compact_archive(layout, today=date(2024, 8, 2))
    assert rewritten == [twin_path(layout, files[1]), july]
    assert sql(layout.root, ids) == [{"id": f"r000{n}"} for n in range(1, 5)]
