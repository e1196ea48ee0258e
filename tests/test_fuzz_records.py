"""Property-based fuzzing of the records reader (issue #12): whatever bytes a records file holds,
reading it raises nothing but ArchiveError, never hangs, and a repair keeps every good line.

Bounded and reproducible: fixed example counts, a deadline per example, derandomized.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from archives import record as synthetic
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive.catalog import Catalog, Validators
from archive.errors import ArchiveError
from archive.fulltext import FullTextIndex
from archive.records import NotARecord, RecordStore, located_records, parse_record

FUZZ = settings(max_examples=200, deadline=2000, derandomize=True, database=None)
# Each repair fsyncs a few times: on tmpfs that costs nothing, so the bound is the CPU's.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None
DAY = "2024/08/2024-08-29.jsonl"

GOOD = json.dumps(synthetic(1), separators=(",", ":")).encode()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = sorted(synthetic(1))
# A valid record with one field replaced by any JSON value, or removed, or one field added.
MUTANTS = st.one_of(
    st.builds(lambda k, v: synthetic(1) | {k: v}, st.sampled_from(FIELDS), JSON),
    st.builds(lambda k: {f: v for f, v in synthetic(1).items() if f != k}, st.sampled_from(FIELDS)),
    st.builds(lambda v: synthetic(1) | {"warc": synthetic(1)["warc"] | {"offset": v}}, JSON),
    st.builds(
        lambda stamp: synthetic(1) | {"fetched_at": stamp, "published": stamp},
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z"),
    ),
)
LINES = st.one_of(
    st.just(GOOD),
    st.binary(max_size=80),
    JSON.map(lambda v: json.dumps(v).encode()),
    MUTANTS.map(lambda r: json.dumps(r).encode()),
)
FILES = st.lists(LINES, max_size=8).flatmap(
    lambda lines: st.booleans().map(
        lambda newline_at_end: b"\n".join(lines) + (b"\n" if newline_at_end else b"")
    )
)


@contextmanager
def records_file(data: bytes) -> Iterator[tuple[RecordStore, Path]]:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        path = Path(root) / "records" / DAY
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        yield RecordStore(Path(root) / "records"), path


@FUZZ
@given(FILES)
@example(b"[" * 100_000 + b"\n")
@example(b'{"a":' * 50_000 + b"\n")
@example(GOOD + b"\n\xff\xfe\n" + GOOD)
def test_reading_any_bytes_raises_only_archive_error(data: bytes) -> None:
    with records_file(data) as (store, path):
        unterminated = bool(data) and not data.endswith(b"\n")
        assert len(list(store.iter_lines())) == data.count(b"\n") + unterminated
        try:
            records = list(store.iter_records())
        except ArchiveError as exc:
            assert f"{path}:" in str(exc) and "\n" not in str(exc)
        else:
            assert all(isinstance(r, dict) for r in records)
        with suppress(ArchiveError):
            list(located_records(path, path.parents[2]))


@FUZZ
@given(FILES)
@example(b"[" * 100_000 + b"\n" + GOOD + b"\n")
def test_a_repair_keeps_every_good_line_and_leaves_a_readable_file(data: bytes) -> None:
    with records_file(data) as (store, path):
        store.cut_torn_tails()
        before = path.read_bytes().splitlines(keepends=True)
        quarantine = path.parents[3] / "quarantine"

        moved = store.quarantine_bad_lines(quarantine, path.parents[3])

        kept = path.read_bytes().splitlines(keepends=True)
        good = [line for line in before if _is_record(line)]
        assert kept == good, "every good line kept, in order, byte for byte"
        aside = quarantine / DAY
        bad = aside.read_bytes().splitlines(keepends=True) if aside.exists() else []
        assert bad == [line for line in before if not _is_record(line)]
        assert len(moved) == len(bad)
        assert len(list(store.iter_records())) == len(good)  # no ArchiveError any more


@FUZZ
@given(MUTANTS)
def test_a_record_the_reader_accepts_is_one_the_catalog_can_take(value: dict[str, Any]) -> None:
    """What passes the check must not fail further on (KeyError, a date that is no date)."""
    line = json.dumps(value).encode() + b"\n"
    try:
        record = parse_record(line)
    except NotARecord as exc:
        assert "\n" not in str(exc)
        return
    with records_file(line) as (_, path):
        catalog = Catalog(path.parents[3] / "catalog.sqlite")
        try:
            for found, location in located_records(path, path.parents[2]):
                assert found == record
                catalog.remember_record(found, Validators(None, None))
                FullTextIndex(catalog.db).add(found, location)
        finally:
            catalog.close()


def _is_record(line: bytes) -> bool:
    try:
        parse_record(line)
    except NotARecord:
        return False
    return True
