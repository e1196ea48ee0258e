"""What the sources dashboard shows of the archive itself: sizes, files, runs, articles per day.

Read-only, from the catalog and the folder listing, so it works while a crawl writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.collection import Collection
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout

CHART_DAYS = 30
LAST_RUNS = 10
# The run summary's counts of articles that a run stored (a record each).
FETCHED_KEYS = ("articles_new", "articles_updated", "articles_duplicate")


def archive_overview(layout: ArchiveLayout, db: sqlite3.Connection) -> dict[str, Any]:
    """Records per source and their newest date, the last runs, and the WARC files' sizes.

    Only index lookups: counting through the (source, sort_time) index, and one seek per source
    for its newest date, so the cost grows with the index, never with the records' size.
    """
    try:
        per_source = db.execute(
            "SELECT source, count(*) FROM search_docs INDEXED BY search_docs_source "
            "GROUP BY source ORDER BY source"
        ).fetchall()
        newest = {
            source: db.execute(
                "SELECT max(sort_time) FROM search_docs WHERE source = ?", [source]
            ).fetchone()[0]
            for source, _ in per_source
        }
        runs = db.execute(
            "SELECT id, started_at, finished_at, sources, summary FROM runs "
            "ORDER BY id DESC LIMIT ?",
            [LAST_RUNS],
        ).fetchall()
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot read the catalog: {exc}") from exc
    warcs = sorted(layout.warc_dir.glob("*.warc.gz*")) if layout.warc_dir.is_dir() else []
    sizes = [(path.name, path.stat().st_size) for path in warcs if path.is_file()]
    return {
        "sources": [
            {"source": source, "records": count, "newest": newest[source]}
            for source, count in per_source
        ],
        "runs": [_run(*row) for row in runs],
        "warc_files": [{"name": name, "bytes": size} for name, size in sizes],
        "warc_bytes": sum(size for _, size in sizes),
        "archive_bytes": _folder_bytes(layout.root),
    }


def collection_overview(
    collection: Collection, dbs: Sequence[sqlite3.Connection]
) -> dict[str, Any]:
    """`archive_overview` of every shard (their catalogs `dbs`, in shard order) as one: the
    records of a source summed, its newest date the newest, the last runs of all shards."""
    parts = [
        archive_overview(layout, db) for layout, db in zip(collection.shards, dbs, strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    sources: dict[str, dict[str, Any]] = {}
    for part in parts:
        for row in part["sources"]:
            seen = sources.setdefault(row["source"], {**row, "records": 0, "newest": None})
            seen["records"] += row["records"]
            seen["newest"] = max(filter(None, (seen["newest"], row["newest"])), default=None)
    runs = sorted(
        (run for part in parts for run in part["runs"]), key=lambda run: run["started_at"]
    )
    return {
        "sources": [sources[name] for name in sorted(sources)],
        "runs": runs[::-1][:LAST_RUNS],
        "warc_files": [warc for part in parts for warc in part["warc_files"]],
        "warc_bytes": sum(part["warc_bytes"] for part in parts),
        "archive_bytes": sum(part["archive_bytes"] for part in parts),
    }


def _folder_bytes(root: Path) -> int:
    """The bytes of every file below `root` (a file removed meanwhile counts nothing)."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(folder, name)).st_size
    return total


def _run(
    run_id: int, started: str, finished: str | None, sources: str, summary: str | None
) -> dict[str, Any]:
    names = _json(sources)
    return {
        "id": run_id,
        "started_at": started,
        "finished_at": finished,
        "sources": names if isinstance(names, list) else [],
        "summary": _summary(summary),
    }


def _summary(text: str | None) -> dict[str, Any]:
    """A run's stored summary; empty when it is missing or not a JSON object."""
    found = _json(text)
    return found if isinstance(found, dict) else {}


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def daily_counts(db: sqlite3.Connection, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Articles per day over the last `days` days: by the day they were published (their fetch
    day when the page gave none: the search index's time) and by the day runs fetched them (the
    runs' own counts of new, updated and duplicate articles). Both read only that window."""
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=days - 1)).isoformat()
    counts = {
        (today - timedelta(days=n)).isoformat(): {"published": 0, "fetched": 0} for n in range(days)
    }
    try:
        published = db.execute(
            "SELECT substr(sort_time, 1, 10) AS day, count(*) FROM search_docs "
            "WHERE sort_time >= ? AND NOT duplicate GROUP BY day",
            [first],
        ).fetchall()
        runs = db.execute(
            "SELECT substr(started_at, 1, 10), summary FROM runs WHERE started_at >= ?", [first]
        ).fetchall()
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot read the catalog: {exc}") from exc
    for day, count in published:
        if day in counts:
            counts[day]["published"] = count
    for day, summary in runs:
        figures = _summary(summary)
        if day in counts:
            counts[day]["fetched"] += sum(
                value for key in FETCHED_KEYS if isinstance(value := figures.get(key), int)
            )
    return [{"day": day, **counts[day]} for day in sorted(counts)]


def collection_daily_counts(dbs: Sequence[sqlite3.Connection]) -> list[dict[str, Any]]:
    """`daily_counts` of every catalog of `dbs`, summed day by day."""
    parts = [daily_counts(db) for db in dbs]
    return [
        {
            "day": days[0]["day"],
            **{key: sum(day[key] for day in days) for key in ("published", "fetched")},
        }
        for days in zip(*parts, strict=True)
    ]
