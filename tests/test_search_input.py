"""`--search` takes what people type: words, phrases, -exclusions, OR; FTS5 syntax after `fts:`;
Chinese and Japanese words inside a run of characters. Through the real CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from archives import record, store_records
from support import newsarchive

from archive.layout import ArchiveLayout

TITLES = {
    "r0001": "Researchers map deep-sea coral reef off Tasmania",
    "r0002": "Farmers' market moves to riverside for the summer",
    "r0003": "Reservoir levels fall to 20-year low as heatwave drags on",
    "r0004": "C++ committee approves the next standard",
    "r0005": "City council approves protected bike lanes",
    "r0006": "County council budget proposes a tax rise",
    "r0007": "東京で記録的な猛暑、熱中症での搬送が急増",
    "r0008": "Deep inside the sea caves of the coast",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = [
        record(int(key[1:]), title=title, text=f"About {title}.") for key, title in TITLES.items()
    ]
    return store_records(tmp_path_factory.mktemp("search"), records).root


def found(archive: Path, search: str) -> list[str]:
    done = newsarchive("query", "--archive-dir", archive, "--format", "jsonl", f"--search={search}")
    assert done.returncode == 0, done.stderr
    return sorted(json.loads(line)["id"] for line in done.stdout.splitlines())


@pytest.mark.parametrize(
    ("search", "ids"),
    [
        ("deep-sea coral", ["r0001"]),  # "deep-sea" is a phrase: not the sea caves
        ("farmers' market", ["r0002"]),
        ('"farmers\' market"', ["r0002"]),
        ("20-year low", ["r0003"]),
        ("C++", ["r0004"]),
        ("council -budget", ["r0005"]),
        ("council NOT budget", ["r0005"]),
        ("council", ["r0005", "r0006"]),
        ("coral OR caves", ["r0001", "r0008"]),
        ("approv*", ["r0004", "r0005"]),
        ('"approves the next"', ["r0004"]),
        ('"the next approves"', []),
        ("title:council budget", ["r0006"]),
        ("fts:council NOT budget", ["r0005"]),
        ("fts:NEAR(deep coral, 2)", ["r0001"]),
    ],
)
def test_plain_input_searches_the_words(archive: Path, search: str, ids: list[str]) -> None:
    assert found(archive, search) == ids


@pytest.mark.parametrize(
    ("search", "ids"),
    [
        ("猛暑", ["r0007"]),  # two characters inside a run: no word boundary to find
        ("記録的", ["r0007"]),  # three or more: the trigram index
        ("東京 熱中症", ["r0007"]),
        ("猛暑 -東京", []),
        ("大阪", []),
    ],
)
def test_cjk_words_are_found_inside_a_run_of_characters(
    archive: Path, search: str, ids: list[str]
) -> None:
    assert found(archive, search) == ids


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ('"deep sea', 'a quote (") is not closed'),
        ("-budget", "not only what to exclude"),
        ("+ -", "no word to search for"),
        ("fts:", "nothing after 'fts:'"),
        ("fts:C++", 'fts5: syntax error near "+"'),
    ],
)
def test_a_bad_search_says_what_is_wrong_in_one_line(
    archive: Path, search: str, message: str
) -> None:
    done = newsarchive("query", "--archive-dir", archive, f"--search={search}")
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_an_older_catalog_without_the_cjk_index_says_to_reindex(tmp_path: Path) -> None:
    layout = store_records(tmp_path, [record(1, title=TITLES["r0007"])])
    db = sqlite3.connect(layout.catalog_path)
    db.execute("DROP TABLE search_cjk")
    db.commit()
    db.close()
    done = newsarchive("query", "--archive-dir", layout.root, "--search", "猛暑")
    assert done.returncode == 1 and "run `newsarchive reindex`" in done.stderr
    assert "search_cjk" not in _tables(layout)  # a reader never changes the archive
    assert newsarchive("reindex", "--archive-dir", layout.root).returncode == 0
    assert found(layout.root, "猛暑") == ["r0001"]


def _tables(layout: ArchiveLayout) -> set[str]:
    db = sqlite3.connect(layout.catalog_path)
    try:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()
