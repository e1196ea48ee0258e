"""What the sources dashboard shows of the archive itself: sizes, files, runs, articles per day.

Read-only, from the catalog and the folder listing, so it works while a crawl writes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.errors import ArchiveError
from archive.layout import ArchiveLayout

CHART_DAYS = 30
LAST_RUNS = 10


def archive_overview(layout: ArchiveLayout, db: sqlite3.Connection) -> dict[str, Any]:
    """Records and articles per source, the last runs, and the WARC files with their sizes."""
    try:
        per_source = db.execute(
            "SELECT source, count(*), sum(latest AND NOT duplicate), max(fetched_at) "
            "FROM search_docs GROUP BY source ORDER BY source"
        ).fetchall()
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
            {"source": s, "records": n, "articles": a or 0, "last_fetched": last}
            for s, n, a, last in per_source
        ],
        "runs": [_run(*row) for row in runs],
        "warc_files": [{"name": name, "bytes": size} for name, size in sizes],
        "warc_bytes": sum(size for _, size in sizes),
    }


def _run(
    run_id: int, started: str, finished: str | None, sources: str, summary: str | None
) -> dict[str, Any]:
    try:
        counts = json.loads(summary) if summary else {}
        names = json.loads(sources)
    except ValueError:
        counts, names = {}, []
    return {
        "id": run_id,
        "started_at": started,
        "finished_at": finished,
        "sources": names if isinstance(names, list) else [],
        "summary": counts if isinstance(counts, dict) else {},
    }


def daily_counts(db: sqlite3.Connection, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Articles per day over the last `days` days: by published day and by fetch day."""
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=days - 1)).isoformat()
    counts = {
        (today - timedelta(days=n)).isoformat(): {"published": 0, "fetched": 0} for n in range(days)
    }
    try:
        for column in ("published", "fetched"):
            field = "published" if column == "published" else "fetched_at"
            rows = db.execute(
                f"SELECT substr({field}, 1, 10) AS day, count(*) FROM search_docs "
                f"WHERE NOT duplicate AND {field} >= ? GROUP BY day",
                [first],
            )
            for day, count in rows:
                if day in counts:
                    counts[day][column] = count
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot read the catalog: {exc}") from exc
    return [{"day": day, **counts[day]} for day in sorted(counts)]
