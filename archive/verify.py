"""Check that an archive is whole: WARC files read end to end and every record resolves.

WARC records must be WARC/1.1 with the fields their type requires and right digests; revisits must
refer to a response that exists; JSON records must follow the schema and point at their response
(or, for a syndicated copy with identical bytes, at the response a revisit of their URL refers
to); the catalog must know the latest record of every article and nothing else.

While a crawl runs (it holds the archive lock), what it is writing is work in progress, not a
problem: its `.open` WARC file and a half-written record at its end, a half-written last records
line, records the catalog has not committed yet. Everything else is checked as usual.

Everything is streamed (one WARC record at a time, one JSON line at a time); only the set of
record ids is held in memory. Each failure is reported as one `Problem`, never raised: a damaged
archive is the very thing this module exists to describe.
"""

import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from warcio.recordloader import ArcWarcRecord

from archive.catalog import Catalog
from archive.collection import Collection
from archive.errors import ArchiveError, one_line
from archive.layout import ArchiveLayout
from archive.lock import is_held
from archive.records import NotARecord, RecordStore, json_value, record_problems
from archive.reindex import tail_files
from archive.warcread import Damage, read_member, read_warc
from archive.warcwriter import OPEN_SUFFIX, WARC_VERSION


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the archive; `path` is relative to the archive dir when inside it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class _Captures:
    """What the WARC files hold that records and revisits refer to (ids only, never payloads)."""

    responses: set[str] = field(default_factory=set)
    revisits: set[tuple[str, str]] = field(default_factory=set)  # (target URI, refers-to id)
    dangling: list[tuple[str, str, str]] = field(default_factory=list)  # where, id, refers-to


@dataclass(frozen=True)
class _CatalogView:
    """What the catalog knew before the records were read: a running crawl commits a record to
    the catalog only after writing its line, so every record it knows is then read too."""

    known: dict[str, tuple[int, str]]  # canonical URL -> latest (version, record id)
    clean_start: datetime | None  # when the last run that finished began


@dataclass(frozen=True)
class _Unresolved:
    """A problem unless `target` turns up somewhere in the collection: a revisit's response
    (`kind` "response") or a record named by another (`kind` "record"). Kept in place, so the
    problems keep their order, and decided once every shard has been read."""

    problem: Problem
    target: str
    kind: str


def verify_archive(layout: ArchiveLayout, *, crawl_running: bool | None = None) -> list[Problem]:
    """Every problem found in the WARC files, the JSON records and the catalog; empty: whole.

    `crawl_running` says whether a crawl is writing the archive; by default the archive lock is
    asked (see the module docstring for what then counts as in progress).
    """
    return verify_collection(Collection((layout,)), crawl_running=crawl_running)


def verify_collection(
    collection: Collection, *, crawl_running: bool | None = None
) -> list[Problem]:
    """`verify_archive` of each shard, except that what a record or revisit refers to (a
    response, a record, a WARC file) may lie in any shard: a revisit whose target is in no
    shard is a problem, one whose target is in another shard is not. A shard's problems are
    named by paths inside it (relative when the collection is one archive)."""
    captures = _Captures()
    ids: dict[str, str] = {}
    found: list[Problem | _Unresolved] = []
    for number, layout in enumerate(collection.shards):
        live = is_held(layout.lock_path) if crawl_running is None else crawl_running
        shard = _verify_shard(collection, number, captures, ids, live=live)
        if collection.single:
            found.extend(shard)
        else:
            found.extend(_located(layout.root, item) for item in shard)
    known = {"response": captures.responses, "record": ids.keys()}
    return [
        item.problem if isinstance(item, _Unresolved) else item
        for item in found
        if not (isinstance(item, _Unresolved) and item.target in known[item.kind])
    ]


def _located(root: Path, item: Problem | _Unresolved) -> Problem | _Unresolved:
    """`item` with its path named from the shard's folder on, not relative to it."""
    problem = item.problem if isinstance(item, _Unresolved) else item
    located = Problem(str(root / problem.path), problem.message)
    return replace(item, problem=located) if isinstance(item, _Unresolved) else located


def _verify_shard(
    collection: Collection, number: int, captures: _Captures, ids: dict[str, str], *, live: bool
) -> Iterator[Problem | _Unresolved]:
    layout = collection.shards[number]
    view = _catalog_view(layout)
    if isinstance(view, Problem):
        yield view
    dangling = len(captures.dangling)
    for path in _warc_files(layout.warc_dir):
        writing = live and path.name.endswith(OPEN_SUFFIX)
        yield from _check_warc_file(path, _shown(layout, path), captures, live=writing)
    for where, record_id, target in captures.dangling[dangling:]:
        message = f"revisit {record_id} refers to {target}, which is in no WARC file"
        yield _Unresolved(Problem(where, message), target, "response")
    latest: dict[str, tuple[int, str]] = {}
    ids_by_file: dict[Path, set[str]] = {}
    yield from _check_records(collection, number, captures, ids, latest, ids_by_file, live=live)
    if isinstance(view, _CatalogView):
        yield from _check_catalog(layout, view, latest, ids_by_file)


def _warc_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    names = ("*.warc.gz", f"*.warc.gz{OPEN_SUFFIX}")
    return sorted(path for pattern in names for path in directory.glob(pattern))


def _check_warc_file(
    path: Path, shown: str, captures: _Captures, *, live: bool
) -> Iterator[Problem]:
    """The problems of one WARC file; `live`: the file a running crawl writes, whose unclosed
    name and half-written last record are its work in progress, not problems."""
    if path.name.endswith(OPEN_SUFFIX) and not live:
        yield Problem(shown, "not closed (a crawl is running or was interrupted)")
    first = True
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            for found in read_warc(file):
                if isinstance(found, Damage):
                    if not (live and found.end >= size):  # the tail being written
                        yield Problem(shown, one_line(_damage_message(found, first)))
                    first = False
                    continue
                record, where = found.record, f"record at offset {found.offset}"
                if first and record.rec_type != "warcinfo":
                    yield Problem(shown, f"{where} is {record.rec_type}, not warcinfo")
                first = False
                if record.rec_headers.protocol != WARC_VERSION:
                    yield Problem(shown, f"{where} is {record.rec_headers.protocol}")
                in_progress = live and found.offset + found.length >= size
                for failure in found.failures or _header_failures(record):  # torn: headers moot
                    if not in_progress:
                        yield Problem(shown, f"{where}: {failure}")
                _note_capture(record, f"{shown} {where}", captures)
    except FileNotFoundError:
        if live:  # closed and renamed meanwhile: it is checked under its final name
            yield from _check_warc_file(
                path.with_name(path.name.removesuffix(OPEN_SUFFIX)), shown, captures, live=False
            )
            return
        reopened = path.with_name(path.name + OPEN_SUFFIX)
        if not path.name.endswith(OPEN_SUFFIX) and reopened.exists():
            # a crawl started meanwhile and appends to this file: its tail is work in progress
            yield from _check_warc_file(reopened, shown, captures, live=True)
            return
        raise
    if first:
        yield Problem(shown, "holds no WARC record")


def _damage_message(damage: Damage, at_start: bool) -> str:
    place = "from its start" if at_start else f"from offset {damage.offset}"
    return f"unreadable {place} to offset {damage.end}: {damage.reason}"


def _header_failures(record: ArcWarcRecord) -> list[str]:
    """Required WARC/1.1 fields missing for this record type."""
    required = ["WARC-Record-ID", "WARC-Date", "WARC-Type", "Content-Length"]
    if record.rec_type in ("request", "response", "revisit"):
        required.append("WARC-Target-URI")
    if record.rec_type == "response":
        required += ["WARC-Block-Digest", "WARC-Payload-Digest"]
    if record.rec_type == "revisit":
        required.append("WARC-Profile")
    headers = record.rec_headers
    return [f"no {name} header" for name in required if not headers.get_header(name)]


def _note_capture(record: ArcWarcRecord, where: str, captures: _Captures) -> None:
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID") or ""
    if record.rec_type == "response":
        captures.responses.add(record_id)
    elif record.rec_type == "revisit" and (target := headers.get_header("WARC-Refers-To")):
        captures.revisits.add((headers.get_header("WARC-Target-URI") or "", target))
        captures.dangling.append((where, record_id, target))


def _catalog_view(layout: ArchiveLayout) -> _CatalogView | Problem | None:
    """What the catalog knows; None: no catalog (the next crawl rebuilds it)."""
    path = layout.catalog_path
    if not path.exists():
        return None
    try:
        catalog = Catalog(path, read_only=True)
        try:
            return _CatalogView(catalog.latest_versions(), catalog.last_clean_run_start())
        finally:
            catalog.close()
    except (ArchiveError, sqlite3.Error) as exc:
        return Problem(path.name, one_line(f"unreadable: {exc} (run `newsarchive reindex`)"))


def _check_catalog(
    layout: ArchiveLayout,
    view: _CatalogView,
    latest: dict[str, tuple[int, str]],
    ids_by_file: dict[Path, set[str]],
) -> Iterator[Problem]:
    """The catalog must know the latest record of every article, and nothing else.

    Records written since the last run that finished may be missing: that is what a crash or a
    full disk leaves (or a crawl still running), and the next crawl adds them back before it
    fetches (see `archive.reindex.recover_after_crash`), so only older gaps are problems.
    """
    name = layout.catalog_path.name
    tail_ids = (ids_by_file.get(path, set()) for path in tail_files(layout, view.clean_start))
    tail = set().union(*tail_ids)
    for canonical, (version, record_id) in latest.items():
        if view.known.get(canonical) != (version, record_id) and record_id not in tail:
            yield Problem(
                name, f"does not know record {record_id} (version {version} of {canonical})"
            )
    for canonical in view.known.keys() - latest.keys():
        yield Problem(name, f"lists {canonical}, which no record holds")


def _check_records(
    collection: Collection,
    number: int,
    captures: _Captures,
    ids: dict[str, str],
    latest: dict[str, tuple[int, str]],
    ids_by_file: dict[Path, set[str]],
    *,
    live: bool,
) -> Iterator[Problem | _Unresolved]:
    """Check every line of shard `number`; fill `ids` (the collection's record ids, where
    each was met), `latest` and `ids_by_file` (the ids each file holds)."""
    layout = collection.shards[number]
    references: list[tuple[str, str, str]] = []
    for line in RecordStore(layout.records_dir).iter_lines():
        where = f"{_shown(layout, line.path)}:{line.number}"
        if line.torn:
            if not live:  # else: the line the crawl is writing
                yield Problem(where, "incomplete final line (an interrupted write)")
            continue
        try:
            record = json_value(line.text)
        except NotARecord as exc:
            yield Problem(where, one_line(str(exc)))
            continue
        problems = record_problems(record)
        yield from (Problem(where, one_line(problem)) for problem in problems)
        if problems:
            continue
        ids_by_file.setdefault(line.path, set()).add(record["id"])
        if record["id"] in ids:
            yield Problem(where, f"id {record['id']} already used at {ids[record['id']]}")
        ids.setdefault(record["id"], where if collection.single else str(layout.root / where))
        canonical = record["canonical_url"]
        if record["version"] > latest.get(canonical, (0, ""))[0]:
            latest[canonical] = (record["version"], record["id"])
        references.extend(
            (where, field, record[field])
            for field in ("duplicate_of", "previous")
            if record[field] is not None
        )
        for message in _check_pointer(collection, number, record, captures):
            yield Problem(where, message)
    for where, name, target in references:
        problem = Problem(where, f"{name} {target} names no record in this archive")
        yield _Unresolved(problem, target, "record")


def _check_pointer(
    collection: Collection, number: int, record: Mapping[str, Any], captures: _Captures
) -> list[str]:
    """What is wrong with the `warc` pointer of a record of shard `number` (its file looked up
    there first, then in the other shards); empty when it resolves and digests match."""
    pointer = record["warc"]
    filename, offset, length = pointer["filename"], pointer["offset"], pointer["length"]
    warc_dir = collection.warc_shard(number, filename).warc_dir
    path = warc_dir / filename
    if not path.exists():
        path = warc_dir / (filename + OPEN_SUFFIX)
    if not path.exists():
        return [f"warc: file {filename} does not exist"]
    where = f"warc: {filename} offset {offset}"
    if offset + length > path.stat().st_size:
        return [f"{where} length {length} runs past the end of the file"]
    with path.open("rb") as file:
        try:
            found = read_member(file, offset, length)
        except Exception as exc:  # whatever the bytes there are, they are not our record
            return [one_line(f"{where}: no readable WARC record ({exc})")]
    target, member_length, failures = found.record, found.length, found.failures
    headers = target.rec_headers
    expected = {
        "WARC-Type": "response",
        "WARC-Record-ID": pointer["record_id"],
        "WARC-Target-URI": record["final_url"],
        "WARC-Payload-Digest": pointer["payload_digest"],
    }
    if (record["final_url"], pointer["record_id"]) in captures.revisits:
        del expected["WARC-Target-URI"]  # identical bytes captured at another URL first
    problems = [
        f"{where}: {name} is {headers.get_header(name)}, not {value}"
        for name, value in expected.items()
        if headers.get_header(name) != value
    ]
    problems.extend(f"{where}: {failure}" for failure in failures)
    if not failures and target.digest_checker.passed is not True:
        problems.append(f"{where}: the record carries no digest to check")
    if member_length != length:
        problems.append(f"{where}: the gzip member is {member_length} bytes, not {length}")
    return problems


def _shown(layout: ArchiveLayout, path: Path) -> str:
    try:
        return str(path.relative_to(layout.root))
    except ValueError:
        return str(path)
