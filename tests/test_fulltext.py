"""The FTS5 search index: what the crawl adds, what a rebuild gives, where records are found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archives import bulk_records, expected, record, store_records

from archive.fulltext import FullTextIndex, utc_timestamp
from archive.layout import ArchiveLayout
from archive.query import RANK_WINDOW, Filters, find, open_catalog, read_lines, reading_catalog
from archive.records import located_records
from archive.show import duplicates_of


def search(layout: ArchiveLayout, **filters: object) -> list[str]:
    db = open_catalog(layout)
    try:
        return [hit.id for hit in find(db, Filters(**filters))]  # type: ignore[arg-type]
    finally:
        db.close()


def test_locations_point_at_the_whole_line(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1), record(2, text="Ünïcode ☃ text")])
    db = open_catalog(layout)
    hits = list(find(db, Filters()))
    lines = list(read_lines(layout.records_dir, hits))
    day_file = next(layout.records_dir.rglob("*.jsonl")).read_bytes()
    assert sorted(lines) == sorted(day_file.splitlines(keepends=True))
    db.close()


def test_ranking_puts_the_better_match_first(tmp_path: Path) -> None:
    layout = store_records(
        tmp_path,
        [
            record(1, title="Markets", text="Venezuela mentioned once among many other words."),
            record(2, title="Venezuela", text="Venezuela votes; Venezuela waits."),
        ],
    )
    assert search(layout, search="Venezuela") == ["r0002", "r0001"]
    assert search(layout, search="title:venezuela") == ["r0002"]
    assert search(layout, search="ven*") == ["r0002", "r0001"]
    assert search(layout, search="venezuela NOT votes") == ["r0001"]


def test_duplicates_are_found_by_title_only_when_asked(tmp_path: Path) -> None:
    layout = store_records(
        tmp_path,
        [
            record(1, text="Harbour strike"),
            record(2, title="Harbour strike (copy)", text=None, duplicate_of="r0001"),
        ],
    )
    assert search(layout, search="harbour") == ["r0001"]
    assert sorted(search(layout, search="harbour", include_duplicates=True)) == ["r0001", "r0002"]


def test_adding_twice_is_harmless_and_rebuild_matches_the_crawl(tmp_path: Path) -> None:
    records = [record(n, text=f"word{n} shared") for n in range(1, 6)]
    layout = store_records(tmp_path / "a", records)
    crawled = search(layout, search="shared")
    db = sqlite3.connect(layout.catalog_path)
    index = FullTextIndex(db)
    index.clear()
    assert index.rebuild(layout.records_dir) == 5
    assert index.rebuild(layout.records_dir) == 5  # the same ids again: no new rows
    db.commit()
    assert db.execute("SELECT count(*) FROM search_docs").fetchone() == (5,)
    db.close()
    assert search(layout, search="shared") == crawled


def test_a_rebuild_skips_a_torn_tail(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1)])
    day_file = next(layout.records_dir.rglob("*.jsonl"))
    with day_file.open("ab") as file:
        file.write(b'{"id": "half')
    located = list(located_records(day_file, layout.records_dir))
    assert [(r["id"], loc.offset) for r, loc in located] == [("r0001", 0)]


def test_published_times_are_normalised_to_utc() -> None:
    assert utc_timestamp("2024-08-13T11:00:00+02:00") == "2024-08-13T09:00:00Z"
    assert utc_timestamp("2024-08-13") == "2024-08-13T00:00:00Z"
    assert utc_timestamp("last Tuesday") is None
    assert utc_timestamp(None) is None


def test_a_broad_search_lists_title_matches_first_then_the_newest(tmp_path: Path) -> None:
    records = [record(1, title="Comet", text="An old comet.")]  # a title match, archived first
    records += [
        record(n, published=f"2024-08-{n % 28 + 1:02d}T{n % 24:02d}:00:00Z", text=f"Comet {n}.")
        for n in range(2, RANK_WINDOW + 3)
    ]
    records.append(record(RANK_WINDOW + 3, title="Comet", text="A new comet."))
    layout = bulk_records(tmp_path, records)
    newest_title = f"r{RANK_WINDOW + 3:04d}"
    rest = expected([r for r in records if r["id"] not in ("r0001", newest_title)])
    found = search(layout, search="comet", limit=3)
    assert found == [newest_title, *(r["id"] for r in rest[:2])]
    assert "r0001" not in search(layout, search="comet", limit=RANK_WINDOW)
    everything = search(layout, search="comet")  # no limit: every match, titles first
    assert everything[:2] == [newest_title, "r0001"] and len(everything) == len(records)
    assert search(layout, search="comet NOT new", limit=1) == [rest[0]["id"]]


def test_a_search_within_titles_ranks_by_the_titles_alone(tmp_path: Path) -> None:
    """`title:...` is answered by the titles-only index, built for an older catalog when a writer
    first opens it; until then the search still works, ranked over title + text."""
    long_text = " ".join(f"word{n}" for n in range(300))
    layout = store_records(
        tmp_path,
        [
            record(1, title="Election", text=long_text),
            record(2, title="Election day results announced in the capital", text="Short."),
        ],
    )
    by_title = ["r0001", "r0002"]  # the shorter title first
    assert search(layout, search="title:election") == by_title
    assert search(layout, search="title:election OR nothing") == by_title
    assert search(layout, search="fts:{title}: (election OR nothing)") == by_title
    # FTS5 applies a column filter to the phrase after it only: this one ranks title + text.
    assert search(layout, search="fts:title:election OR nothing") == ["r0002", "r0001"]
    db = sqlite3.connect(layout.catalog_path)
    db.execute("DROP TABLE search_title")  # a catalog from before the titles-only index
    db.commit()
    assert search(layout, search="title:election") == ["r0002", "r0001"]
    FullTextIndex(db)
    db.commit()
    db.close()
    assert search(layout, search="title:election") == by_title
    assert search(layout, search="title:elect*", include_duplicates=True) == by_title


def test_an_original_finds_its_copies_by_index_and_on_an_older_catalog(tmp_path: Path) -> None:
    """`show` lists a record's copies from the index's table of duplicates; a catalog from
    before that table (until `reindex`) gets the same answer by reading the duplicates."""
    layout = store_records(
        tmp_path,
        [
            record(1, id="orig"),
            record(2, id="copy", duplicate_of="orig", text=None),
            record(3, id="other", duplicate_of="elsewhere", text=None),
        ],
    )
    with reading_catalog(layout) as db:
        assert [hit.id for hit in duplicates_of(db, layout.records_dir, "orig")] == ["copy"]
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM search_duplicates WHERE duplicate_of = 'orig'"
        ).fetchall()
        assert any("search_duplicates_of" in str(row) for row in plan)
    with sqlite3.connect(layout.catalog_path) as db:
        db.execute("DROP TABLE search_duplicates")
    with reading_catalog(layout) as db:
        assert [hit.id for hit in duplicates_of(db, layout.records_dir, "orig")] == ["copy"]
