"""Research access at scale: a synthetic archive of N records, then search, filter, SQL, export.

    python bench/query.py --records 100000
    python bench/query.py                    # 1,000,000 records (a few GB of JSONL)

The records are written as JSONL directly (no crawl): 50 sources over 3 years, text lengths
log-normal around 2,500 characters (400 words), built from a Zipf vocabulary plus a few real words
the queries look for; 3% duplicates (text null), 5% second versions. The search index is built
with `FullTextIndex.rebuild` and the Parquet twins with `compact_archive`, as `reindex` does.
With `--dir`, an archive left there by an earlier run is reused (records, index, twins; delete
its `catalog.sqlite` to rebuild only the index). Latencies are measured in process on a warm
page cache, as wall time and as the process's CPU time, which another job on the machine changes
much less (the load average is printed with them); peak RSS is that of the real CLI
(`python -m crawler ...`), one process per kind of query.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from archive.catalog import Catalog  # noqa: E402
from archive.columnar import compact_archive, stale_days, stale_months, twins_dir  # noqa: E402
from archive.errors import NewsarchiveError  # noqa: E402
from archive.export import export_records  # noqa: E402
from archive.fulltext import FullTextIndex  # noqa: E402
from archive.layout import ArchiveLayout  # noqa: E402
from archive.query import Filters, find, open_catalog, read_lines, time_bound  # noqa: E402
from archive.records import RecordStore  # noqa: E402
from archive.sql import open_views, run_sql  # noqa: E402

SOURCES = [f"outlet{n:02d}" for n in range(50)]
LANGUAGES = ["en"] * 8 + ["de", "fr"]
START = datetime(2022, 1, 1, tzinfo=UTC)
DAYS = 3 * 365
# Words the searches look for, each put into this share of the texts.
PLANTED = {"venezuela": 0.002, "ddos": 0.001, "parliament": 0.02, "heatwave": 0.005}
SEARCHES = [
    "venezuela",
    '"ddos attack"',
    "vene*",
    "parliament budget",
    "heatwave OR drought",
    '"prime minister"',
    "title:election",
    "parli* NOT budget",
]
AGGREGATE = (
    "SELECT source, date_trunc('month', coalesce(published, fetched_at)) AS month, count(*) "
    "FROM latest GROUP BY ALL ORDER BY ALL"
)


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["an", "er", "is", "on"]
    words = {"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def paragraphs(rng: random.Random, count: int = 20_000) -> list[str]:
    """Sentences of Zipf-distributed words, some with the planted words and phrases."""
    words = vocabulary(rng)
    zipf = list(accumulate(1 / (rank + 1) for rank in range(len(words))))
    common = ["prime minister", "budget", "election", "drought", "attack", "the", "of", "and"]
    pool = []
    for _ in range(count):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            sentence = rng.choices(words, cum_weights=zipf, k=rng.randint(8, 22))
            sentence.insert(rng.randrange(len(sentence)), rng.choice(common))
            sentences.append(" ".join(sentence).capitalize() + ".")
        pool.append(" ".join(sentences))
    return pool


def synthetic_records(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` records in fetch-time order, as the crawl would write them."""
    rng = random.Random(seed)
    pool = paragraphs(rng)
    title_words = [*vocabulary(rng, 2000), "election", "budget", "heatwave", "parliament"]
    step = DAYS * 86400 / count
    archived: list[tuple[str, int, str]] = []
    for n in range(count):
        fetched = START + timedelta(seconds=n * step)
        roll = rng.random()
        version, previous, duplicate_of = 1, None, None
        if roll < 0.05 and archived:
            canonical, old_version, previous = rng.choice(archived[-5000:])
            version = old_version + 1
        else:
            canonical = f"https://{rng.choice(SOURCES)}.example/{fetched:%Y/%m/%d}/a{n}.html"
        if 0.05 <= roll < 0.08 and archived:
            duplicate_of = rng.choice(archived[-5000:])[2]
        length = int(rng.lognormvariate(7.8, 0.5))  # median ~2,450 characters
        parts: list[str] = []
        while sum(map(len, parts)) < length:
            parts.append(rng.choice(pool))
        for word, share in PLANTED.items():
            if rng.random() < share:
                parts.insert(0, f"A {word} attack was reported." if word == "ddos" else word)
        text = "\n\n".join(parts)
        source = canonical.split("/")[2].split(".")[0]
        record_id = f"{n:032x}"
        archived.append((canonical, version, record_id))
        yield {
            "id": record_id,
            "version": version,
            "previous": previous,
            "source": source,
            "feed_url": f"https://{source}.example/feed.xml",
            "url": canonical,
            "final_url": canonical,
            "canonical_url": canonical,
            "title": " ".join(rng.choices(title_words, k=rng.randint(5, 12))).capitalize(),
            "authors": [f"Author {rng.randrange(500)}"],
            "published": (fetched - timedelta(hours=rng.randint(0, 48))).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "language": rng.choice(LANGUAGES),
            "description": parts[0][:200],
            "tags": rng.sample(["politics", "economy", "climate", "tech", "sport"], 2),
            "text": None if duplicate_of else text,
            "content_hash": f"sha256:{n:064x}",
            "duplicate_of": duplicate_of,
            "warc": {
                "filename": f"bench-{fetched:%Y%m%d}.warc.gz",
                "offset": n * 4096,
                "length": 4000,
                "record_id": f"<urn:uuid:{uuid.UUID(int=n)}>",
                # Base32 of 20 bytes, as a real digest is: readers check records against the schema.
                "payload_digest": "sha1:" + base64.b32encode(n.to_bytes(20, "big")).decode(),
            },
        }


def generate(layout: ArchiveLayout, count: int) -> float:
    started = time.perf_counter()
    store = RecordStore(layout.records_dir)
    for record in synthetic_records(count):
        store.append(record)
    store.close()
    return time.perf_counter() - started


def build_index(layout: ArchiveLayout) -> float:
    """Index every records file in one transaction, as `reindex` does."""
    started = time.perf_counter()
    catalog = Catalog(layout.catalog_path)
    catalog.db.execute("PRAGMA cache_size = -262144")  # 256 MB: FTS5 segment merges
    FullTextIndex(catalog.db).rebuild(layout.records_dir)
    catalog.commit()
    catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    catalog.close()
    return time.perf_counter() - started


def timed(action: Callable[[], object], runs: int) -> list[float]:
    """Wall milliseconds of each run."""
    return [ms for ms, _ in timed_cpu(action, runs)]


def timed_cpu(action: Callable[[], object], runs: int) -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds of each run; CPU time hardly grows when other jobs load the CPU."""
    times = []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        action()
        times.append(((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000))
    return times


def search_once(layout: ArchiveLayout, filters: Filters) -> int:
    """What `query --format jsonl` does: open the catalog, select, read the full records."""
    db = open_catalog(layout)
    try:
        return sum(1 for _ in read_lines(layout.records_dir, find(db, filters)))
    finally:
        db.close()


def aggregate_once(layout: ArchiveLayout) -> int:
    with open_views(layout) as con:
        return sum(1 for _ in run_sql(con, AGGREGATE).rows)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return [round(load, 2) for load in os.getloadavg()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# Runs the CLI and reports the process's own high-water mark (VmHWM); ru_maxrss of a child would
# include the RSS of the forked benchmark process.
_MEASURED_CLI = (
    "import sys; from crawler.cli import main; code = main(sys.argv[1:]); "
    "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM')); "
    "sys.stderr.write(hwm); sys.exit(code)"
)


def export_rate(layout: ArchiveLayout, fmt: str, out: Path) -> dict[str, object]:
    """Export every latest record to `out`: records per second of wall and CPU time, or why not.

    CPU time is this process's only: DuckDB's worker threads count, the page cache does not.
    """
    started, cpu = time.perf_counter(), time.process_time()
    try:
        exported = export_records(layout, Filters(), fmt, out)
    except NewsarchiveError as exc:
        return {"failed": str(exc)}
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "records": exported,
        "s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "records_per_s": round(exported / wall),
        "mb": round(out.stat().st_size / 1e6),
    }


def cli_peak_rss_mb(*args: str) -> float | str:
    """Run the real CLI once and return its peak resident set size (or its error)."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"{args[0]} failed: {done.stderr.splitlines()[0]}"
    return round(int(done.stderr.split()[-2]) / 1024, 1)


class _Progress(dict[str, Any]):
    """The figures, each also printed to stderr as soon as it is measured (long runs)."""

    def __setitem__(self, key: str, value: Any) -> None:
        print(f"{key}: {value}", file=sys.stderr, flush=True)
        super().__setitem__(key, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="keep the archive here (default: a temp dir)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each search")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    layout = ArchiveLayout(root)
    figures: dict[str, Any] = _Progress(records=args.records)
    try:
        if not RecordStore(layout.records_dir).files():
            figures["generate_s"] = round(generate(layout, args.records), 1)
        if not layout.catalog_path.exists():
            figures["index_build_s"] = round(build_index(layout), 1)
        if stale_days(layout):
            figures["sql_aggregate_jsonl_s"] = round(
                timed(lambda: aggregate_once(layout), 1)[0] / 1000, 2
            )
        if stale_days(layout) or stale_months(layout):
            started = time.perf_counter()
            compact_archive(layout)
            figures["columnar_build_s"] = round(time.perf_counter() - started, 1)
        twins = sum(path.stat().st_size for path in twins_dir(layout).glob("*.parquet"))
        figures["columnar_mb"] = round(twins / 1e6)
        jsonl_bytes = sum(path.stat().st_size for path in RecordStore(layout.records_dir).files())
        figures["jsonl_mb"] = round(jsonl_bytes / 1e6)
        figures["catalog_bytes_per_record"] = round(
            layout.catalog_path.stat().st_size / args.records
        )

        figures["load_before_searches"] = load_average()
        search_ms: list[tuple[float, float]] = []
        by_query = {}
        for text in SEARCHES:
            search = partial(search_once, layout, Filters(search=text, limit=20))
            search()  # the page cache warm, as for a researcher's second query
            runs = timed_cpu(search, args.runs)
            by_query[text] = {
                "wall": round(percentile([wall for wall, _ in runs], 0.5), 1),
                "cpu": round(percentile([cpu for _, cpu in runs], 0.5), 1),
            }
            search_ms += runs
        figures["search_p50_ms_by_query"] = by_query
        walls, cpus = [wall for wall, _ in search_ms], [cpu for _, cpu in search_ms]
        figures["search_p50_ms"] = round(percentile(walls, 0.5), 1)
        figures["search_p95_ms"] = round(percentile(walls, 0.95), 1)
        figures["search_cpu_p50_ms"] = round(percentile(cpus, 0.5), 1)
        figures["search_cpu_p95_ms"] = round(percentile(cpus, 0.95), 1)
        filtered = Filters(
            sources=("outlet07",),
            since=time_bound("2023-03-01"),
            until=time_bound("2023-06-30", end=True),
            languages=("en",),
            limit=100,
        )
        filtered_ms = timed(lambda: search_once(layout, filtered), args.runs * 4)
        figures["filtered_query_p50_ms"] = round(percentile(filtered_ms, 0.5), 1)
        filtered_search = Filters(search="parliament", since=time_bound("2024-01-01"), limit=20)
        figures["filtered_search_p50_ms"] = round(
            percentile(timed(lambda: search_once(layout, filtered_search), args.runs), 0.5), 1
        )
        aggregates = timed_cpu(lambda: aggregate_once(layout), 3)
        figures["sql_aggregate_s"] = round(min(wall for wall, _ in aggregates) / 1000, 2)
        figures["sql_aggregate_cpu_s"] = round(min(cpu for _, cpu in aggregates) / 1000, 2)

        out = root.parent / f"{root.name}-export.parquet"
        figures["load_before_exports"] = load_average()
        figures["export_parquet"] = export_rate(layout, "parquet", out)
        figures["export_jsonl"] = export_rate(layout, "jsonl", out.with_suffix(".jsonl"))

        where = ("--archive-dir", str(root))
        figures["peak_rss_mb"] = {
            "query --search": cli_peak_rss_mb("query", *where, "--search", "parliament"),
            "query filtered": cli_peak_rss_mb("query", *where, "--source", "outlet07"),
            "sql aggregate": cli_peak_rss_mb("sql", *where, AGGREGATE),
            "export parquet": cli_peak_rss_mb("export", *where, "--format", "parquet", str(out)),
            "export csv": cli_peak_rss_mb(
                "export", *where, "--format", "csv", str(out.with_suffix(".csv"))
            ),
            "stats": cli_peak_rss_mb("stats", *where),
        }
        for done in (out, out.with_suffix(".jsonl"), out.with_suffix(".csv")):
            done.unlink(missing_ok=True)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    figures["load_at_end"] = load_average()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
