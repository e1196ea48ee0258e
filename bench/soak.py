"""Soak test of `newsarchive schedule`: many sources every minute for a long time.

Serves the sample site on 127.0.0.x, writes a config with `--sources` sources on
``* * * * *`` (real minutes), runs the daemon for `--minutes`, samples its resident memory, stops
it with SIGTERM, and prints: RSS at start/end/max, runs per source, minutes without a run that
started in them (each should be explained by a coalesced firing), and `newsarchive verify`.

    python bench/soak.py --minutes 30 --sources 20 [--parallel 1] [--archive-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procmem import rss_kib  # noqa: E402
from crawler.sample_server import SampleSite  # noqa: E402

OUTLETS = ("herald", "wire", "gazette", "bulk", "daily")


def config_text(site: SampleSite, archive: Path, sources: int, parallel: int) -> str:
    blocks = {
        name: block
        for block in site.sources_toml().split("\n\n")
        for name in OUTLETS
        if f'name = "{name}"\n' in block
    }
    tables = []
    for n in range(sources):
        outlet = OUTLETS[n % len(OUTLETS)]
        tables.append(
            blocks[outlet]
            .replace(f'name = "{outlet}"', f'name = "{outlet}-{n:02d}"')
            .replace('schedule = "*/30 * * * *"', 'schedule = "* * * * *"')
        )
    return (
        f'[archive]\ndir = "{archive.as_posix()}"\n\n'
        '[crawl]\nuser_agent = "newsarchive-soak/0.1"\ndelay = 0\ntimeout = 1.5\n'
        "allow_private_addresses = true\n\n"
        f"[schedule]\nmax_parallel_runs = {parallel}\n\n" + "\n".join(tables)
    )


def runs(archive: Path) -> list[tuple[list[str], datetime]]:
    db = sqlite3.connect(archive / "catalog.sqlite")
    try:
        rows = db.execute("SELECT sources, started_at FROM runs WHERE finished_at IS NOT NULL")
        return [
            (json.loads(s), datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
            for s, t in rows
        ]
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=1, help="[schedule].max_parallel_runs")
    parser.add_argument("--archive-dir", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="newsarchive-soak-"))
    archive = (args.archive_dir or workdir / "archive").resolve()
    config, log = workdir / "sources.toml", workdir / "daemon.log"
    with SampleSite(slow_seconds=3.0, bulk_articles=50) as site:
        config.write_text(config_text(site, archive, args.sources, args.parallel))
        with log.open("wb") as stream:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "crawler", "schedule", "--config", str(config), "-v"],
                cwd=REPO,
                stdout=stream,
                stderr=stream,
            )
        started = datetime.now(UTC)
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline and daemon.poll() is None:
            samples.append((time.monotonic(), rss_kib(daemon.pid)))
            time.sleep(10)
        ended = datetime.now(UTC)
        stop = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=300)
        stop_seconds = time.monotonic() - stop
    verify = subprocess.run(
        [sys.executable, "-m", "crawler", "verify", "--archive-dir", str(archive)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    done = runs(archive)
    per_source = Counter(name for sources, _ in done for name in sources)
    first_minute = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    minutes = []
    while first_minute + timedelta(minutes=1) <= ended:
        minutes.append(first_minute)
        first_minute += timedelta(minutes=1)
    names = [f"{OUTLETS[n % len(OUTLETS)]}-{n:02d}" for n in range(args.sources)]
    missing = sum(
        1
        for name in names
        for minute in minutes
        if not any(name in s and minute <= t < minute + timedelta(minutes=1) for s, t in done)
    )
    text = log.read_text(errors="replace")
    warm = next((rss for t, rss in samples if t >= samples[0][0] + 60), samples[-1][1])
    print(f"soak: {args.sources} sources every minute, max_parallel_runs {args.parallel}")
    print(f"  ran {(ended - started).total_seconds() / 60:.1f} min, {len(minutes)} whole minutes")
    print(
        f"  daemon RSS: after 1 min {warm} KiB, end {samples[-1][1]} KiB, "
        f"max {max(r for _, r in samples)} KiB ({len(samples)} samples every 10 s)"
    )
    print(
        f"  crawl processes: {len(done)}; runs per source: min {min(per_source.values())}, "
        f"max {max(per_source.values())}"
    )
    print(
        f"  source-minutes without a run starting in them: {missing} of "
        f"{len(minutes) * len(names)}; coalesced firings logged: {text.count('coalesced into')}"
    )
    print(f"  errors logged by the daemon: {text.count(' ERROR crawler.schedule')}")
    print(
        f"  SIGTERM: exit {code} after {stop_seconds:.1f}s; verify: exit {verify.returncode} "
        f"{verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr}"
    )
    print(f"  archive: {archive}; daemon log: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
