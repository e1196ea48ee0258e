"""The catalog is a cache: WARC + records rebuild it, and a lost catalog loses nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from archives import Crawled, copy_of
from support import newsarchive, records_of, write_config

from archive.layout import ArchiveLayout
from crawler.sample_server import SampleSite


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    root = tmp_path_factory.mktemp("reindex")
    with SampleSite(slow_seconds=0.3) as site:
        config = write_config(root / "sources.toml", site, root / "archive", timeout=1.0)
        assert newsarchive("crawl", "--config", config).returncode == 0
        yield Crawled(site, root / "archive")


def catalog_rows(archive: Path, table: str) -> set[tuple[object, ...]]:
    with sqlite3.connect(ArchiveLayout(archive).catalog_path) as db:
        return set(db.execute(f"SELECT * FROM {table}"))


def test_reindex_rebuilds_what_the_crawl_wrote(crawled: Crawled, tmp_path: Path) -> None:
    archive, _ = copy_of(crawled, tmp_path)
    before = {table: catalog_rows(archive, table) for table in ("texts", "payloads")}
    articles = catalog_rows(archive, "articles")
    ArchiveLayout(archive).catalog_path.unlink()

    result = newsarchive("reindex", "--archive-dir", archive)

    assert result.returncode == 0, result.stderr
    assert f"rebuilt {archive}/catalog.sqlite: {len(records_of(archive))} records" in result.stdout
    assert catalog_rows(archive, "texts") == before["texts"]
    assert catalog_rows(archive, "payloads") == before["payloads"]
    key = {row[:4] for row in articles}  # canonical URL, record id, version, content hash
    assert {row[:4] for row in catalog_rows(archive, "articles")} == key
    assert catalog_rows(archive, "runs") == set(), "a deleted catalog's run history is gone"


def test_reindex_keeps_the_run_history_and_retry_list_of_a_readable_catalog(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, _ = copy_of(crawled, tmp_path)
    runs = catalog_rows(archive, "runs")
    retries = catalog_rows(archive, "retries")
    assert retries, "the sample site's broken pages are on the retry list"
    assert newsarchive("reindex", "--archive-dir", archive).returncode == 0
    assert catalog_rows(archive, "runs") == runs
    assert catalog_rows(archive, "retries") == retries


@pytest.mark.parametrize("reindex", [True, False], ids=["reindexed", "catalog-just-deleted"])
def test_a_deleted_catalog_then_a_crawl_writes_no_new_record(
    crawled: Crawled, tmp_path: Path, reindex: bool
) -> None:
    archive, config = copy_of(crawled, tmp_path)
    records = records_of(archive)
    ArchiveLayout(archive).catalog_path.unlink()
    if reindex:
        assert newsarchive("reindex", "--archive-dir", archive).returncode == 0

    again = newsarchive("crawl", "--config", config, "--json")

    assert again.returncode == 0, again.stderr
    summary = again.summary()
    assert (summary["articles_new"], summary["articles_updated"]) == (0, 0)
    assert summary["articles_duplicate"] == 0
    assert records_of(archive) == records
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0


def test_verify_repair_closes_open_files_and_cuts_torn_lines(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, _ = copy_of(crawled, tmp_path)
    layout = ArchiveLayout(archive)
    (warc,) = layout.warc_dir.glob("*.warc.gz")
    whole = warc.read_bytes()
    warc.rename(warc.with_name(warc.name + ".open"))
    warc.with_name(warc.name + ".open").write_bytes(whole + whole[100:150])
    (day,) = layout.records_dir.glob("*/*/*.jsonl")
    with day.open("a", encoding="utf-8") as file:
        file.write('{"id": "torn')
    assert newsarchive("verify", "--archive-dir", archive).returncode == 1

    repaired = newsarchive("verify", "--repair", "--archive-dir", archive)

    assert repaired.returncode == 0, repaired.stdout
    assert f"repaired: closed {warc.name}, left open by an interrupted run" in repaired.stdout
    assert f"repaired: cut a torn final line off {day.name}" in repaired.stdout
    assert "repaired: rebuilt the catalog" in repaired.stdout
    assert repaired.stdout.rstrip().endswith("verified: no problems")
    assert warc.read_bytes() == whole


def test_a_record_the_catalog_never_committed_is_searchable_after_the_next_crawl(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, config = copy_of(crawled, tmp_path)
    coral = next(r for r in records_of(archive) if "coral" in (r["title"] or "").lower())
    # What a kill between the JSON line and the catalog commit leaves: a line the catalog
    # (and its search index) has never seen.
    with sqlite3.connect(ArchiveLayout(archive).catalog_path) as db:
        db.execute("DELETE FROM articles WHERE record_id = ?", (coral["id"],))
        db.execute("DELETE FROM search_docs WHERE id = ?", (coral["id"],))
    before = len(records_of(archive))
    assert newsarchive("crawl", "--config", config).returncode == 0
    assert len(records_of(archive)) == before, "recovered, not fetched again as new"
    found = newsarchive("query", "--archive-dir", archive, "--search", "coral", "--format", "jsonl")
    assert found.returncode == 0, found.stderr
    assert coral["id"] in found.stdout
