"""verify: a whole archive passes; each kind of damage is reported, naming where it is."""

import gzip
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import warcio.warcwriter
from test_warcwriter import exchange

from archive.catalog import Catalog
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.records import RecordStore, record_validator
from archive.reindex import rebuild_catalog, reindex_archive
from archive.verify import Problem, _Captures, _check_warc_file, verify_archive
from archive.warcwriter import WarcLocation, WarcWriter

BODY = b"<html><body><p>The story, in full.</p></body></html>"


def article_record(record_id: str, url: str, location: WarcLocation) -> dict[str, Any]:
    return {
        "id": record_id,
        "version": 1,
        "previous": None,
        "source": "example",
        "feed_url": "http://127.0.0.1:8000/feed.xml",
        "url": url,
        "final_url": url,
        "canonical_url": url,
        "title": "The story",
        "authors": ["A. Writer"],
        "published": "2024-08-13T09:00:00Z",
        "fetched_at": "2026-11-25T21:23:45Z",
        "language": "en",
        "description": None,
        "tags": ["news"],
        "text": "The story, in full.",
        "content_hash": "sha256:" + hashlib.sha256(b"The story, in full.").hexdigest(),
        "duplicate_of": None,
        "warc": {
            "filename": location.filename,
            "offset": location.offset,
            "length": location.length,
            "record_id": location.record_id,
            "payload_digest": location.payload_digest,
        },
    }


def build_archive(root: Path, records: list[dict[str, Any]] | None = None) -> ArchiveLayout:
    """Two articles (the second a duplicate of the first), a feed and a revisit, all on disk."""
    layout = ArchiveLayout(root)
    with WarcWriter(layout.warc_dir) as writer:
        writer.write_exchange(exchange(url="http://127.0.0.1:8000/feed.xml", body=b"<rss/>"))
        first_url, copy_url = "http://127.0.0.1:8000/a.html", "http://127.0.0.1:8000/b.html"
        first = writer.write_exchange(exchange(url=first_url, body=BODY))
        copy = writer.write_exchange(exchange(url=copy_url, body=BODY + b" "))
        writer.write_revisit(
            exchange(url=first_url, body=BODY), profile="identical-payload-digest", refers_to=first
        )
    duplicate = article_record("b", copy_url, copy) | {"duplicate_of": "a", "text": None}
    store = RecordStore(layout.records_dir)
    for record in (
        records if records is not None else [article_record("a", first_url, first), duplicate]
    ):
        store.append(record)
    store.close()
    return layout


def messages(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def first_record(layout: ArchiveLayout) -> dict[str, Any]:
    return next(RecordStore(layout.records_dir).iter_records())


def test_a_whole_archive_has_no_problems(tmp_path: Path) -> None:
    layout = build_archive(tmp_path)
    assert verify_archive(layout) == []
    for record in RecordStore(layout.records_dir).iter_records():
        assert list(record_validator().iter_errors(record)) == []


def test_a_flipped_payload_byte_fails_the_digests(tmp_path: Path) -> None:
    layout = build_archive(tmp_path)
    pointer = first_record(layout)["warc"]
    path = layout.warc_dir / pointer["filename"]
    data = path.read_bytes()
    start, end = pointer["offset"], pointer["offset"] + pointer["length"]
    member = gzip.decompress(data[start:end]).replace(b"The story", b"The storm")
    path.write_bytes(data[:start] + gzip.compress(member) + data[end:])

    found = messages(verify_archive(layout))
    assert f"warc/{pointer['filename']}: record at offset {start}: payload digest failed" in found
    assert f"records/2026/11/2026-11-25.jsonl:1: warc: {pointer['filename']} offset" in found


def test_a_flipped_compressed_byte_is_reported_for_the_file(tmp_path: Path) -> None:
    layout = build_archive(tmp_path)
    pointer = first_record(layout)["warc"]
    path = layout.warc_dir / pointer["filename"]
    data = bytearray(path.read_bytes())
    data[pointer["offset"] + pointer["length"] // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    problems = verify_archive(layout)
    assert any(p.path == f"warc/{pointer['filename']}" for p in problems)
    assert any(p.path == "records/2026/11/2026-11-25.jsonl:1" for p in problems)


def test_a_bad_offset_is_reported_on_the_record_line(tmp_path: Path) -> None:
    good = build_archive(tmp_path)
    record = first_record(good)
    offset = record["warc"]["offset"] + 1
    RecordStore(good.records_dir).append(
        record | {"id": "c", "warc": record["warc"] | {"offset": offset}}
    )

    problems = verify_archive(good)
    assert len(problems) == 1, messages(problems)
    problem = problems[0]
    assert problem.path == "records/2026/11/2026-11-25.jsonl:3"
    assert problem.message.startswith(
        f"warc: {record['warc']['filename']} offset {offset}: no readable WARC record"
    )


def test_a_pointer_to_another_url_or_a_missing_file_is_reported(tmp_path: Path) -> None:
    good = build_archive(tmp_path)
    record = first_record(good)
    store = RecordStore(good.records_dir)
    store.append(record | {"id": "c", "final_url": "http://127.0.0.1:8000/elsewhere.html"})
    store.append(record | {"id": "d", "warc": record["warc"] | {"filename": "gone.warc.gz"}})

    found = messages(verify_archive(good))
    assert "jsonl:3: warc: " in found
    assert "WARC-Target-URI is http://127.0.0.1:8000/a.html, not http" in found
    assert "jsonl:4: warc: file gone.warc.gz does not exist" in found


def test_a_schema_violation_names_the_field(tmp_path: Path) -> None:
    good = build_archive(tmp_path)
    record = first_record(good)
    RecordStore(good.records_dir).append(record | {"id": "c", "version": 0, "extra": 1})

    problems = [p for p in verify_archive(good) if p.path.endswith(":3")]
    assert [p.message for p in problems] == [
        "schema: record: Additional properties are not allowed ('extra' was unexpected)",
        "schema: version: 0 is less than the minimum of 1",
    ]


def test_text_may_be_null_only_for_a_duplicate(tmp_path: Path) -> None:
    good = build_archive(tmp_path)
    RecordStore(good.records_dir).append(first_record(good) | {"id": "c", "text": None})
    assert messages(verify_archive(good)).startswith(
        "records/2026/11/2026-11-25.jsonl:3: schema: text"
    )


def test_duplicate_ids_and_dangling_references_are_reported(tmp_path: Path) -> None:
    good = build_archive(tmp_path)
    record = first_record(good)
    store = RecordStore(good.records_dir)
    store.append(record)
    store.append(record | {"id": "c", "duplicate_of": "nobody", "text": None})
    store.append(record | {"id": "d", "version": 2, "previous": "missing"})

    day = "records/2026/11/2026-11-25.jsonl"
    assert messages(verify_archive(good)).splitlines() == [
        f"{day}:3: id a already used at {day}:1",
        f"{day}:4: duplicate_of nobody names no record in this archive",
        f"{day}:5: previous missing names no record in this archive",
    ]


def test_an_unclosed_warc_and_a_torn_line_are_reported(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path)
    writer = WarcWriter(layout.warc_dir)
    location = writer.write_exchange(exchange(url="http://127.0.0.1:8000/a.html", body=BODY))
    store = RecordStore(layout.records_dir)
    path = store.path_of(
        store.append(article_record("a", "http://127.0.0.1:8000/a.html", location))
    )
    with path.open("a", encoding="utf-8") as file:
        file.write('{"id": "interrupt')

    assert messages(verify_archive(layout)).splitlines() == [
        f"warc/{location.filename}.open: not closed (a crawl is running or was interrupted)",
        "records/2026/11/2026-11-25.jsonl:2: incomplete final line (an interrupted write)",
    ]
    writer.close()


@pytest.mark.parametrize("cut", [40, 4])
def test_a_truncated_warc_file_is_reported(tmp_path: Path, cut: int) -> None:
    layout = build_archive(tmp_path)
    (path,) = layout.warc_dir.iterdir()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])

    (problem,) = verify_archive(layout)
    assert problem.path == f"warc/{path.name}"
    assert problem.message.endswith(": truncated gzip member")


def test_a_foreign_warc_without_warcinfo_is_reported(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path)
    layout.warc_dir.mkdir()
    path = layout.warc_dir / "other.warc.gz"
    with path.open("wb") as file:
        writer = warcio.warcwriter.WARCWriter(file, gzip=True)
        writer.write_record(writer.create_warc_record("http://127.0.0.1/", "resource"))

    assert messages(verify_archive(layout)).splitlines() == [
        "warc/other.warc.gz: record at offset 0 is resource, not warcinfo",
        "warc/other.warc.gz: record at offset 0 is WARC/1.0",
    ]


def test_a_syndicated_copy_may_point_at_the_capture_its_revisit_refers_to(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path)
    original_url, copy_url = "http://127.0.0.1:8000/a.html", "http://127.0.0.2:8000/copy.html"
    with WarcWriter(layout.warc_dir) as writer:
        original = writer.write_exchange(exchange(url=original_url, body=BODY))
        writer.write_revisit(
            exchange(url=copy_url, body=BODY),
            profile="identical-payload-digest",
            refers_to=original,
        )
        elsewhere = writer.write_exchange(exchange(url="http://127.0.0.1:8000/z", body=b"other"))
    store = RecordStore(layout.records_dir)
    store.append(article_record("a", original_url, original))
    store.append(article_record("b", copy_url, original) | {"duplicate_of": "a", "text": None})
    store.close()
    assert verify_archive(layout) == []

    unrelated = article_record("c", "http://127.0.0.1:8000/z2", elsewhere)
    RecordStore(layout.records_dir).append(unrelated | {"final_url": copy_url})
    assert "WARC-Target-URI is http://127.0.0.1:8000/z, not " in messages(verify_archive(layout))


def test_a_revisit_of_nothing_and_a_missing_header_are_reported(tmp_path: Path) -> None:
    layout = ArchiveLayout(tmp_path)
    ghost = WarcLocation("gone.warc.gz", 0, 10, "<urn:uuid:ghost>", "sha1:AAAA", "http://x/", "")
    with WarcWriter(layout.warc_dir) as writer:
        revisit = writer.write_revisit(
            exchange(url="http://127.0.0.1:8000/a.html", body=b""),
            profile="server-not-modified",
            refers_to=ghost,
        )
    foreign = layout.warc_dir / "other.warc.gz"
    with foreign.open("wb") as file:
        builder = warcio.warcwriter.WARCWriter(file, gzip=True, warc_version="WARC/1.1")
        builder.write_record(builder.create_warcinfo_record("other.warc.gz", {}))
        record = builder.create_warc_record("http://127.0.0.1/", "resource")
        record.rec_headers.remove_header("WARC-Date")
        builder.write_record(record)

    found = messages(verify_archive(layout))
    assert f"revisit {revisit.record_id} refers to <urn:uuid:ghost>, which is in no WARC" in found
    assert "warc/other.warc.gz: record at offset " in found
    assert ": no WARC-Date header" in found


def test_a_catalog_behind_its_records_is_reported_and_repaired(tmp_path: Path) -> None:
    layout = build_archive(tmp_path)
    rebuild_catalog(layout)
    assert verify_archive(layout) == []
    record = first_record(layout)
    store = RecordStore(layout.records_dir)
    path = store.path_of(store.append(record | {"id": "v2", "version": 2, "previous": "a"}))
    assert verify_archive(layout) == [], "a tail written since the last clean run is no problem"

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    os.utime(path, (an_hour_ago.timestamp() - 60,) * 2)
    catalog = Catalog(layout.catalog_path)
    catalog.finish_run(catalog.start_run(["example"], an_hour_ago), an_hour_ago, {})
    catalog.close()
    assert messages(verify_archive(layout)) == (
        f"catalog.sqlite: does not know record v2 (version 2 of {record['canonical_url']})"
    )
    recovery, rebuilt = reindex_archive(layout)
    assert rebuilt.records == 3
    assert recovery.closed_warcs == recovery.cut_record_files == []
    assert verify_archive(layout) == []


def test_what_a_running_crawl_is_writing_is_no_problem(tmp_path: Path) -> None:
    """While the lock is held: the .open file, its half-written last exchange and a half-written
    last line are work in progress; damage anywhere else is still reported."""
    layout = build_archive(tmp_path / "archive")
    closed = next(layout.warc_dir.glob("*.warc.gz"))
    writer = WarcWriter(layout.warc_dir, append=False)  # a file of its own, beside the closed one
    location = writer.write_exchange(exchange(url="http://127.0.0.1:8000/c.html", body=BODY * 3))
    store = RecordStore(layout.records_dir)
    store.append(article_record("c", "http://127.0.0.1:8000/c.html", location))
    store.close()
    live = layout.warc_dir / f"{location.filename}.open"
    whole = live.read_bytes()
    live.write_bytes(whole + whole[location.offset : location.offset + 50])  # mid-write
    day = next(layout.records_dir.glob("*/*/*.jsonl"))
    with day.open("a", encoding="utf-8") as file:
        file.write('{"id": "being-written')

    with ArchiveLock(layout.lock_path):
        assert verify_archive(layout) == []
        data = bytearray(closed.read_bytes())
        data[len(data) // 2] ^= 0xFF
        closed.write_bytes(bytes(data))
        assert {p.path for p in verify_archive(layout)} >= {f"warc/{closed.name}"}
    assert f"warc/{live.name}" in {p.path for p in verify_archive(layout)}, "lock gone: a leftover"
    writer.close()


def test_a_closed_file_a_crawl_reopens_meanwhile_is_read_under_its_open_name(
    tmp_path: Path,
) -> None:
    """A crawl starting while verify runs renames the newest closed WARC to `.open` to append
    to it: verify, having listed the closed name, reads the file under its new name. (The race
    is reproduced by calling the per-file check with the name listed before the rename.)"""
    layout = build_archive(tmp_path / "archive")
    closed = next(layout.warc_dir.glob("*.warc.gz"))
    writer = WarcWriter(layout.warc_dir)  # reopens the closed file, as a starting crawl does
    writer.write_exchange(exchange(url="http://127.0.0.1:8000/d.html", body=BODY))
    assert not closed.exists()
    problems = list(_check_warc_file(closed, f"warc/{closed.name}", _Captures(), live=False))
    assert problems == []
    writer.close()
