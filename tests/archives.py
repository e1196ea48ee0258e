"""Archives for the research-access tests: a real crawl of the sample site, or chosen records.

`expected()` states the selection rules of design.md in plain Python (latest version of each
canonical URL, duplicates hidden, published newest first then id), so tests compare the real
commands against it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import newsarchive, write_config

from archive.catalog import Catalog
from archive.fulltext import FullTextIndex
from archive.layout import ArchiveLayout
from archive.records import RecordStore
from crawler.sample_server import SampleSite

SEED_TITLE = "A look back at that Donald Trump and Elon Musk interview"


def crawl_archive(root: Path, site: SampleSite, generations: tuple[int, ...] = (1,)) -> Path:
    """Crawl `site` once per generation into `root/archive` with the real CLI."""
    archive = root / "archive"
    config = write_config(root / "sources.toml", site, archive)
    for generation in generations:
        if site.generation != generation:
            site.generation = generation
        done = newsarchive("crawl", "--config", config, "--json")
        assert done.returncode == 0, done.stderr
    return archive


@dataclass(frozen=True)
class Crawled:
    """An archive a module-scoped fixture crawled, and the site it crawled (still served)."""

    site: SampleSite
    archive: Path


def copy_archive(archive: Path, root: Path) -> Path:
    """A private copy of `archive` as `root/archive`, for a test that may change it."""
    copy = root / "archive"
    shutil.copytree(archive, copy)
    return copy


def copy_of(crawled: Crawled, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the crawled archive and a config that crawls the same site into it."""
    archive = copy_archive(crawled.archive, tmp_path)
    return archive, write_config(tmp_path / "sources.toml", crawled.site, archive, timeout=1.0)


def sql(archive: Path, query: str) -> list[dict[str, object]]:
    """The rows of `newsarchive sql QUERY` on `archive`, through the real CLI."""
    done = newsarchive("sql", "--archive-dir", archive, query, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def store_records(root: Path, records: list[dict[str, Any]]) -> ArchiveLayout:
    """Write records and index them the way the store pipeline does, one commit per record."""
    layout = ArchiveLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    store = RecordStore(layout.records_dir)
    catalog = Catalog(layout.catalog_path)
    for record in records:
        FullTextIndex(catalog.db).add(record, store.append(record))
        catalog.commit()
    store.close()
    catalog.close()
    return layout


def bulk_records(root: Path, records: list[dict[str, Any]]) -> ArchiveLayout:
    """Write records and index them in one transaction, as a rebuild does: for big archives."""
    layout = ArchiveLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    store = RecordStore(layout.records_dir)
    located = [(r, store.append(r)) for r in records]
    store.close()
    catalog = Catalog(layout.catalog_path)
    FullTextIndex(catalog.db).add_many(located)
    catalog.commit()
    catalog.close()
    return layout


def record(number: int, **fields: Any) -> dict[str, Any]:
    """A valid synthetic record; `fields` override the defaults."""
    canonical = f"https://news.example/{number}.html"
    base: dict[str, Any] = {
        "id": f"r{number:04d}",
        "version": 1,
        "previous": None,
        "source": "alpha",
        "feed_url": "https://news.example/feed.xml",
        "url": canonical,
        "final_url": canonical,
        "canonical_url": canonical,
        "title": f"Story {number}",
        "authors": ["A. Writer"],
        "published": f"2024-08-{number % 28 + 1:02d}T09:00:00Z",
        "fetched_at": "2024-08-29T10:00:00Z",
        "language": "en",
        "description": None,
        "tags": ["news"],
        "text": f"Body of story {number}.",
        "content_hash": f"sha256:{number:064x}",
        "duplicate_of": None,
        "warc": {
            "filename": "x.warc.gz",
            "offset": 0,
            "length": 1,
            "record_id": f"<urn:uuid:00000000-0000-4000-8000-{number:012d}>",
            "payload_digest": "sha1:" + "A" * 32,
        },
    }
    return base | fields


def expected(
    records: list[dict[str, Any]],
    *,
    include_duplicates: bool = False,
    all_versions: bool = False,
) -> list[dict[str, Any]]:
    """The records `query` must return, in its order (without --search)."""
    highest: dict[str, int] = {}
    for r in records:
        highest[r["canonical_url"]] = max(highest.get(r["canonical_url"], 0), r["version"])
    chosen = [
        r
        for r in records
        if (all_versions or r["version"] == highest[r["canonical_url"]])
        and (include_duplicates or r["duplicate_of"] is None)
    ]
    chosen.sort(key=lambda r: r["id"])
    chosen.sort(key=lambda r: r["published"] or r["fetched_at"], reverse=True)
    return chosen
