"""The catalog's lookups, on a real SQLite file."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.catalog import Catalog, Validators
from archive.warcwriter import WarcLocation

WHEN = datetime(2024, 8, 13, 9, 0, tzinfo=UTC)


def record(canonical: str, rid: str, version: int, digest: str) -> dict:
    return {
        "id": rid,
        "canonical_url": canonical,
        "version": version,
        "content_hash": digest,
        "warc": {"payload_digest": "sha1:AAAA"},
    }


def test_catalog_is_wal_and_survives_reopen(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.set_feed_validators("http://a/feed", Validators('"e1"', "Tue, 13 Aug 2024"), WHEN)
    catalog.close()
    mode = sqlite3.connect(tmp_path / "catalog.sqlite").execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"
    again = Catalog(tmp_path / "catalog.sqlite")
    assert again.feed_validators("http://a/feed") == Validators('"e1"', "Tue, 13 Aug 2024")
    assert again.feed_validators("http://a/other") is None


def test_versions_texts_and_aliases(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.record_version(record("http://a/x", "r1", 1, "sha256:1"), WHEN, Validators("e", None))
    catalog.remember_urls("http://a/x", {"http://a/x?amp=1"})
    catalog.commit()
    article = catalog.article("http://a/x")
    assert article is not None
    assert (article.record_id, article.version, article.first_fetched) == ("r1", 1, WHEN)
    assert catalog.canonical_for("http://a/x?amp=1") == "http://a/x"
    catalog.record_version(record("http://a/x", "r2", 2, "sha256:2"), WHEN, Validators(None, None))
    latest = catalog.article("http://a/x")
    assert latest is not None and (latest.record_id, latest.version) == ("r2", 2)
    assert latest.first_fetched == WHEN
    owner = catalog.text_owner("sha256:1")
    assert owner is not None and (owner.record_id, owner.latest) == ("r1", False)
    catalog.record_version(record("http://b/y", "r3", 1, "sha256:1"), WHEN, Validators(None, None))
    owner = catalog.text_owner("sha256:1")
    assert owner is not None and owner.record_id == "r1", "the first archived copy stays the owner"


def test_payload_captures_for_revisits(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    location = WarcLocation("f.warc.gz", 10, 20, "<urn:uuid:1>", "sha1:ABC", "http://a/x", "2024")
    assert catalog.capture_for_payload("sha1:ABC") is None
    catalog.remember_capture(location)
    assert catalog.capture_for_payload("sha1:ABC") == location
    assert catalog.capture_for_url("http://a/x") == location


@pytest.mark.parametrize(
    "sql", ["SELEC 1", "SELECT * FROM no_such_table", "SELECT nope FROM articles"]
)
def test_bad_sql_raises_as_the_bug_it_is_not_as_a_disk_failure(tmp_path: Path, sql: str) -> None:
    # ArchiveError stops a crawl cleanly with one line: a bug must keep its traceback instead.
    catalog = Catalog(tmp_path / "catalog.sqlite")
    with pytest.raises(sqlite3.OperationalError):
        catalog.db.execute(sql)
