"""Derive the catalog from the WARC files and the JSON records, which are the archive's truth.

`rebuild_catalog` writes a whole new catalog (`newsarchive reindex`, `verify --repair`): articles,
texts, URL aliases and the full-text index from the records, payloads and captures from the WARC
response records, feed validators left to the next poll. `recover_files` and `recover_after_crash`
are what a run does first, under the lock, to undo what a kill at any moment can leave behind: an
unclosed WARC file, a torn JSON line, a closed WARC without its index, a JSON record the catalog
never committed, a committed payload digest whose WARC record was cut off, feed validators stored
before the feed's entries were archived. Both treat the catalog as a cache, never as a source.
"""

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archive.catalog import Catalog, Validators
from archive.cdxj import closed_warcs, write_missing_indexes
from archive.columnar import compact_archive
from archive.errors import ArchiveError, one_line
from archive.fulltext import FullTextIndex
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.records import Quarantined, RecordStore, located_records
from archive.warcread import Damage, read_warc
from archive.warcwriter import WarcLocation, recover_unclosed

logger = logging.getLogger(__name__)
NO_VALIDATORS = Validators(None, None)
# mtime and the runs table's whole-second stamps may disagree by this much.
_CLOCK_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuilt catalog holds: records taken from JSON, payloads from WARC; and what could
    not be saved (`lost`, one line each): WARC bytes that no longer read back, whose payloads a
    revisit must never refer to, and the JSON records that point at them (kept, not dropped)."""

    records: int
    captures: int
    lost: list[str] = field(default_factory=list)


@dataclass
class Recovery:
    """What `recover_after_crash` had to fix; all empty after a clean run."""

    closed_warcs: list[Path] = field(default_factory=list)
    cut_record_files: list[Path] = field(default_factory=list)
    indexes: list[Path] = field(default_factory=list)
    records_added: int = 0
    captures_forgotten: int = 0
    feeds_forgotten: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)

    def actions(self) -> list[str]:
        """One line per kind of fix, for the log and for `verify --repair`."""
        lines = [
            f"closed {path.name}, left open by an interrupted run" for path in self.closed_warcs
        ]
        lines += [f"cut a torn final line off {path.name}" for path in self.cut_record_files]
        lines += [f"wrote the missing index {path.name}" for path in self.indexes]
        lines += [str(moved) for moved in self.quarantined]
        if self.records_added:
            lines.append(f"catalog: added {self.records_added} records it had not committed")
        if self.captures_forgotten:
            lines.append(f"catalog: forgot {self.captures_forgotten} payloads no longer on disk")
        if self.feeds_forgotten:
            lines.append(
                f"catalog: will poll {self.feeds_forgotten} feeds of the interrupted run in full"
            )
        return lines


def recover_files(layout: ArchiveLayout) -> Recovery:
    """Close leftover `.open` WARCs, cut torn JSON lines, index unindexed WARCs.

    Call only under the archive lock, before any writer opens a file.
    """
    recovery = Recovery()
    if layout.warc_dir.is_dir():
        recovery.closed_warcs = recover_unclosed(layout.warc_dir)
    recovery.cut_record_files = RecordStore(layout.records_dir).cut_torn_tails()
    recovery.indexes = write_missing_indexes(layout)
    return recovery


def recover_after_crash(layout: ArchiveLayout, catalog: Catalog, recovery: Recovery) -> None:
    """Bring `catalog` level with the files once `recover_files` made them whole.

    Payload digests whose record is not wholly on disk are forgotten, so no revisit refers to
    nothing; feed validators an unfinished run stored are forgotten, so its feeds' entries are
    listed again; records written since the last run that finished are added if the catalog lacks
    them, so the next fetch of their article is a recheck, not a duplicate record. Commits.
    """
    sizes = {path.name: path.stat().st_size for path in closed_warcs(layout)}
    recovery.captures_forgotten = catalog.forget_captures_past(sizes)
    interrupted = catalog.unfinished_run_start()
    if interrupted is not None:
        recovery.feeds_forgotten = catalog.forget_feed_validators(interrupted)
    index = FullTextIndex(catalog.db)
    for path in tail_files(layout, catalog.last_clean_run_start()):
        for record, location in located_records(path, layout.records_dir):
            recovery.records_added += _remember_if_new(catalog, record, NO_VALIDATORS)
            index.add(record, location)  # a no-op for a record already indexed
    catalog.commit()
    for action in recovery.actions():
        logger.warning("%s", action)


def tail_files(layout: ArchiveLayout, since: datetime | None) -> list[Path]:
    """The records files a crash may have left the catalog (and its search index) behind on:
    every file written to since the last run that finished began at `since` (the catalog's
    `last_clean_run_start`; all files when none did)."""
    return RecordStore(layout.records_dir).files(
        modified_since=since - _CLOCK_SLACK if since else None
    )


def rebuild_catalog(layout: ArchiveLayout) -> Rebuilt:
    """Write a new catalog from WARC and records and put it in place of the old one.

    The run history and the retry list of the old catalog are kept when it can still be read.
    Call only under the archive lock; the files should have been through `recover_files`.
    """
    path = layout.catalog_path
    scratch = path.with_name(path.name + ".rebuild")
    _remove_database(scratch)
    catalog = Catalog(scratch)
    validators: dict[str, Validators] = {}
    captures = 0
    unreadable = _Unreadable()
    for location, found in _full_captures(layout, unreadable):
        catalog.remember_capture(location)
        validators[location.record_id] = found
        captures += 1
    records = 0
    for record in RecordStore(layout.records_dir).iter_records():
        found = validators.get(record["warc"]["record_id"], NO_VALIDATORS)
        records += _remember_if_new(catalog, record, found)
        if unreadable.holds(record["warc"]):
            unreadable.lines.append(
                f"record {record['id']} ({record['url']}) kept, but the WARC record it points at "
                f"({record['warc']['filename']} offset {record['warc']['offset']}) is lost"
            )
    FullTextIndex(catalog.db).rebuild(layout.records_dir)
    catalog.restore_history(_old_history(path))
    catalog.close()
    _remove_database(path)
    try:
        os.replace(scratch, path)
    except OSError as exc:
        raise ArchiveError(f"cannot replace catalog {path}: {exc.strerror}") from exc
    return Rebuilt(records, captures, unreadable.lines)


def _remember_if_new(catalog: Catalog, record: dict[str, Any], validators: Validators) -> bool:
    known = catalog.article(record["canonical_url"])
    if known is not None and known.version >= record["version"]:
        return False
    catalog.remember_record(record, validators)
    return True


@dataclass
class _Unreadable:
    """WARC bytes a rebuild could not read back: by file, (start, end) spans; and the report."""

    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def add(self, filename: str, start: int, end: int, why: str) -> None:
        self.spans.setdefault(filename, []).append((start, end))
        self.lines.append(f"warc/{filename}: bytes {start} to {end} unreadable: {why}")

    def holds(self, pointer: dict[str, Any]) -> bool:
        spans = self.spans.get(pointer["filename"], [])
        return any(start <= pointer["offset"] < end for start, end in spans)


def _full_captures(
    layout: ArchiveLayout, unreadable: _Unreadable
) -> Iterator[tuple[WarcLocation, Validators]]:
    """Every `response` record with a 200 and a payload that reads back whole (digests right):
    what a revisit may refer to. What does not read back goes to `unreadable`."""
    for path in closed_warcs(layout):
        with path.open("rb") as file:
            for found in read_warc(file):
                if isinstance(found, Damage):
                    unreadable.add(path.name, found.offset, found.end, one_line(found.reason, 120))
                    continue
                if found.failures:
                    end = found.offset + found.length
                    unreadable.add(path.name, found.offset, end, "; ".join(found.failures))
                    continue
                record, http = found.record, found.record.http_headers
                if record.rec_type != "response" or http is None:
                    continue
                if http.get_statuscode() != "200" or not found.payload_length:
                    continue
                headers = record.rec_headers
                location = WarcLocation(
                    filename=path.name,
                    offset=found.offset,
                    length=found.length,
                    record_id=headers.get_header("WARC-Record-ID"),
                    payload_digest=headers.get_header("WARC-Payload-Digest") or "",
                    target_uri=headers.get_header("WARC-Target-URI") or "",
                    date=headers.get_header("WARC-Date"),
                )
                yield (
                    location,
                    Validators(http.get_header("ETag"), http.get_header("Last-Modified")),
                )


def _old_history(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    if not path.exists():
        return {}
    try:
        old = Catalog(path)
        try:
            return old.history()
        finally:
            old.close()
    except Exception:  # a damaged catalog is why one rebuilds: its history is simply lost
        logger.warning("%s: run history and retry list unreadable, not kept", path)
        return {}


def _remove_database(path: Path) -> None:
    """Remove an SQLite file with its WAL and shared-memory files (a stale WAL must never be
    applied to a different database)."""
    for suffix in ("-wal", "-shm", ""):
        try:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot remove {path}{suffix}: {exc.strerror}") from exc


def reindex_archive(layout: ArchiveLayout, *, repair: bool = False) -> tuple[Recovery, Rebuilt]:
    """Under the archive lock: make the files whole, then rebuild the catalog from them.

    What `newsarchive reindex` and (`repair`) `verify --repair` do; a repair also moves records
    lines that are not records to the quarantine (see `RecordStore.quarantine_bad_lines`), where
    a plain reindex stops at the first one. Raises ArchiveLockedError while a crawl runs,
    ArchiveError when a file cannot be read or written.
    """
    with ArchiveLock(layout.lock_path):
        recovery = recover_files(layout)
        if repair:
            store = RecordStore(layout.records_dir)
            recovery.quarantined = store.quarantine_bad_lines(layout.quarantine_dir, layout.root)
        rebuilt = rebuild_catalog(layout)
        compact_archive(layout)
        return recovery, rebuilt
