"""The web app at scale: p50/p95 of search, article page and dashboard, and the server's memory.

    python bench/serve.py --records 100000
    python bench/serve.py                      # 1,000,000 records
    python bench/serve.py --dir /tmp/a --records 1000000   # reuse an archive left there

The archive is the query benchmark's synthetic one (`bench/query.py`: records, search index and
Parquet twins, built the same way). `newsarchive serve` runs as a user starts it, in its own
process; a real HTTP client (one keep-alive connection, like a browser tab) asks for search
result pages (the query benchmark's searches and a few filters), article pages of random records
and the sources dashboard. Latencies are wall time on the client, warm page cache; the server's
peak RSS is its VmHWM. Targets on 2 cores: p95 under 200 ms for search and article pages, under
500 ms for the dashboard, and memory that does not grow with the archive's size.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from query import SEARCHES, build_index, generate, load_average, percentile  # noqa: E402

from archive.columnar import compact_archive  # noqa: E402
from archive.layout import ArchiveLayout  # noqa: E402
from archive.query import open_catalog  # noqa: E402
from archive.records import RecordStore  # noqa: E402

FILTERED = [
    {"q": "parliament", "source": "outlet07"},
    {"q": "heatwave", "since": "2023-06-01", "until": "2023-09-30"},
    {"q": "", "language": "de"},
    {"q": "", "page": "5"},
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(layout: ArchiveLayout) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "crawler", "serve", "--archive-dir", str(layout.root)]
    process = subprocess.Popen([*command, "--port", str(port)], cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("serve did not start")


def timed_get(connection: http.client.HTTPConnection, path: str) -> float:
    """Milliseconds until the whole answer is read; the answer must be 200."""
    started = time.perf_counter()
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        raise SystemExit(f"GET {path}: HTTP {answer.status}")
    return (time.perf_counter() - started) * 1000


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return round(int(line.split()[1]) / 1024, 1)


def sample_ids(layout: ArchiveLayout, count: int) -> list[str]:
    db = open_catalog(layout)
    try:
        total = db.execute("SELECT max(rowid) FROM search_docs").fetchone()[0]
        rng = random.Random(11)
        rowids = [rng.randint(1, total) for _ in range(count)]
        return [
            row[0]
            for rowid in rowids
            for row in db.execute("SELECT id FROM search_docs WHERE rowid = ?", [rowid])
        ]
    finally:
        db.close()


def summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="keep the archive here (default: a temp dir)")
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each request")
    args = parser.parse_args()
    layout = ArchiveLayout(args.dir or Path(tempfile.mkdtemp(prefix="newsarchive-serve-")))
    if not RecordStore(layout.records_dir).files():
        print(f"generating {args.records:,} records", file=sys.stderr, flush=True)
        generate(layout, args.records)
    if not layout.catalog_path.exists():
        build_index(layout)
        compact_archive(layout)
    process, port = start_server(layout)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        searches = [{"q": text} for text in SEARCHES] + FILTERED
        paths = {
            "search": ["/?" + urlencode(params) for params in searches],
            "article": [f"/articles/{quote(i)}" for i in sample_ids(layout, 40)],
            "dashboard": ["/sources"],
        }
        times: dict[str, list[float]] = {}
        for kind, kind_paths in paths.items():
            for path in kind_paths:
                timed_get(connection, path)  # warm, as a second visit
            times[kind] = [
                timed_get(connection, path) for path in kind_paths for _ in range(args.runs)
            ]
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)
    print(f"archive: {args.records:,} records in {layout.root}; 2 cores; load {load_average()}")
    for kind, values in times.items():
        print(f"  {kind:10} {summary(values)}  ({len(values)} requests)")
    print(f"  serve peak RSS {rss} MiB (pid {process.pid}, cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
