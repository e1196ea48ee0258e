"""Crawl N generated articles of the sample site end to end; print articles/s and peak memory.

    python bench/crawl.py --articles 1000

The real `newsarchive crawl` runs in a subprocess against the sample site's bulk outlet
(127.0.0.5); memory is sampled from /proc every 0.1 s: the crawl process alone, and its whole
process tree (extraction workers included).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procmem import TreeSampler  # noqa: E402
from crawler.sample_server import SampleSite  # noqa: E402

SETTINGS = """\
[archive]
dir = "{archive}"

[crawl]
delay = 0
timeout = 30
concurrency = 16
allow_private_addresses = true

"""


def bulk_crawl(config: Path, *extra: str) -> list[str]:
    """The command crawling the sample site's bulk outlet with `config`, `--json` summary."""
    crawl = [sys.executable, "-m", "crawler", "crawl", "--config", str(config)]
    return [*crawl, "--source", "bulk", "--json", *extra]


def crawl(articles: int) -> dict[str, float]:
    with SampleSite(bulk_articles=articles) as site, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(
            SETTINGS.format(archive=(Path(tmp) / "archive").as_posix()) + site.sources_toml()
        )
        started = time.monotonic()
        process = subprocess.Popen(
            bulk_crawl(config),
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        with TreeSampler(process) as peaks:
            stdout, _ = process.communicate()
        elapsed = time.monotonic() - started
        if process.returncode != 0:
            raise SystemExit(f"crawl failed with exit {process.returncode}")
        summary = json.loads(stdout.strip().splitlines()[-1])
        return {
            "articles_new": summary["articles_new"],
            "articles_failed": summary["articles_failed"],
            "seconds": round(elapsed, 2),
            "articles_per_s": round(summary["articles_new"] / elapsed, 1),
            "peak_rss_main_mib": round(peaks.main_kib / 1024, 1),
            "peak_rss_tree_mib": round(peaks.tree_kib / 1024, 1),
            "warc_mib": round(summary["warc_bytes"] / 2**20, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    args = parser.parse_args()
    result = crawl(args.articles)
    for key, value in result.items():
        print(f"{key:20} {value}")


if __name__ == "__main__":
    main()
