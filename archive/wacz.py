"""Package an archive (or the part of it one source or period needs) as a WACZ 1.1.1 file.

A WACZ is a ZIP that replay tools (ReplayWeb.page, pywb) open as is: `archive/` holds the WARC
files, `indexes/index.cdx` one sorted CDXJ index over them, `pages/pages.jsonl` the entry points
(one per JSON record), `datapackage.json` every file's size and SHA-256, and
`datapackage-digest.json` the digest of that. Everything is stored uncompressed, as the spec asks
of WARC files, so a reader can seek into them. The file is written under a temporary name and
renamed, so an existing OUT.wacz is always complete.
"""

import hashlib
import json
import os
from collections.abc import Collection as Collection_
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from typing import Any
from zipfile import ZIP_STORED, ZipFile, ZipInfo

from archive.cdxj import closed_warcs, index_path, merged_lines, write_missing_indexes
from archive.collection import Collection, as_collection
from archive.errors import ArchiveError, NewsarchiveError, UsageError
from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.warcwriter import software_version

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WaczSummary:
    """What went into the package."""

    path: Path
    pages: int
    warcs: int
    bytes: int


def write_wacz(
    archive: ArchiveLayout | Collection,
    out: Path,
    *,
    sources: Collection_[str] = (),
    since: date | None = None,
) -> WaczSummary:
    """Write the records of `sources` (all when empty) fetched on or after `since` to `out`:
    of one archive, or of every shard of a collection as one package (all their WARC files,
    one index).

    The WARC files included are those holding a selected record's capture or a capture of its
    URL, so every page replays. Takes each archive's lock (a crawl may not run meanwhile: it
    could leave an index half written): ArchiveLockedError if one is held. Raises UsageError
    when nothing is selected, ArchiveError when a file cannot be read or written or two shards
    hold WARC files of the same name.
    """
    collection = as_collection(archive)
    with ExitStack() as locks:
        for layout in collection.shards:
            locks.enter_context(ArchiveLock(layout.lock_path))
        return _write_wacz(collection, out, sources, since)


def _write_wacz(
    collection: Collection, out: Path, sources: Collection_[str], since: date | None
) -> WaczSummary:
    for layout in collection.shards:
        write_missing_indexes(layout)
    # One pass over the records: the pages stream into the package first, and what picks the
    # WARC files (URLs and file names, not texts) is kept on the way.
    urls: set[str] = set()
    names: set[str] = set()
    count = 0

    def selected() -> Iterator[dict[str, Any]]:
        nonlocal count
        for page, name in _pages(collection.iter_records(), sources, since):
            urls.add(page["url"])
            names.add(name)
            count += 1
            yield page

    partial = out.with_name(out.name + ".tmp")
    try:
        with ZipFile(partial, "w", compression=ZIP_STORED, allowZip64=True) as package:
            listed = _jsonl(chain([PAGES_HEADER], selected()))
            resources = [_add_lines(package, "pages/pages.jsonl", listed)]
            if not count:
                raise UsageError(f"no records in {collection} match the selection; no WACZ written")
            warcs = _warcs_for(collection, urls if sources or since else None, names)
            resources += [_add_file(package, f"archive/{warc.name}", warc) for _, warc in warcs]
            indexes = (index_path(layout, warc) for layout, warc in warcs)
            index = (line.encode() for line in merged_lines(indexes))
            resources.append(_add_lines(package, "indexes/index.cdx", index))
            datapackage = _json_bytes(_datapackage(resources))
            _add_bytes(package, "datapackage.json", datapackage)
            digest = {"path": "datapackage.json", "hash": "sha256:" + _sha256(datapackage)}
            _add_bytes(package, "datapackage-digest.json", _json_bytes(digest))
        os.replace(partial, out)
    except NewsarchiveError:
        partial.unlink(missing_ok=True)
        raise
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write {out}: {exc.strerror or exc}") from exc
    return WaczSummary(out, count, len(warcs), out.stat().st_size)


def _pages(
    records: Iterable[dict[str, Any]], sources: Collection_[str], since: date | None
) -> Iterator[tuple[dict[str, Any], str]]:
    """Each selected record as a page entry, with the WARC file its pointer names."""
    for record in records:
        if sources and record["source"] not in sources:
            continue
        fetched = datetime.fromisoformat(record["fetched_at"])
        if since is not None and fetched.astimezone(UTC).date() < since:
            continue
        page = {"id": record["id"], "url": record["final_url"], "ts": record["fetched_at"]}
        page.update({k: record[k] for k in ("title", "text") if record[k] is not None})
        yield page, record["warc"]["filename"]


def _warcs_for(
    collection: Collection, urls: set[str] | None, names: set[str]
) -> list[tuple[ArchiveLayout, Path]]:
    """The closed WARC files of every shard (with their shard), or with `urls` only those
    named in `names` or holding any capture of one of `urls`. Two shards holding a file of
    the same name is an ArchiveError: a package holds one file by each name."""
    chosen: dict[str, tuple[ArchiveLayout, Path]] = {}
    for layout in collection.shards:
        for warc in closed_warcs(layout):
            if urls is not None and not (
                warc.name in names or _indexes_any(index_path(layout, warc), urls)
            ):
                continue
            if warc.name in chosen:
                raise ArchiveError(
                    f"{warc.name}: in {chosen[warc.name][0].root} and in {layout.root}; a WACZ "
                    "holds one WARC file by each name"
                )
            chosen[warc.name] = (layout, warc)
    return list(chosen.values())


def _indexes_any(index: Path, urls: set[str]) -> bool:
    with index.open("r", encoding="utf-8") as lines:
        return any(json.loads(line.split(" ", 2)[2])["url"] in urls for line in lines)


def _add_file(package: ZipFile, name: str, source: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as file, package.open(_entry(name), "w", force_zip64=True) as entry:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            entry.write(chunk)
            size += len(chunk)
    return _resource(name, size, digest.hexdigest())


def _add_lines(package: ZipFile, name: str, lines: Iterable[bytes]) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with package.open(_entry(name), "w", force_zip64=True) as entry:
        for line in lines:
            digest.update(line)
            entry.write(line)
            size += len(line)
    return _resource(name, size, digest.hexdigest())


def _add_bytes(package: ZipFile, name: str, data: bytes) -> None:
    package.writestr(_entry(name), data)


def _entry(name: str) -> ZipInfo:
    info = ZipInfo(name, datetime.now(UTC).timetuple()[:6])
    info.compress_type = ZIP_STORED
    return info


def _resource(path: str, size: int, sha256: str) -> dict[str, Any]:
    # Frictionless (which `wacz validate` runs) wants lower-case resource names.
    name = path.rsplit("/", 1)[1].lower()
    return {"name": name, "path": path, "hash": f"sha256:{sha256}", "bytes": size}


def _datapackage(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "software": f"newsarchive/{software_version()}",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": resources,
    }


def _jsonl(objects: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for obj in objects:
        yield (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _json_bytes(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, indent=2).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
