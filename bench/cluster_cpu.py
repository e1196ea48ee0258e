"""CPU per article of a cluster worker's crawl against the single-process crawl, Redis included.

    python bench/cluster_cpu.py --articles 500 --rounds 2

Each round crawls the sample site's bulk outlet (127.0.0.5) twice into fresh archives: plain
`crawl`, then `crawl --cluster` against a fresh redis-server (tests/redis_server.py: loopback,
AOF, with `appendfsync everysec` as README's example deploys it; the tests' `always` fsyncs each
write). CPU is the crawl's process tree (user + system, from the kernel's accounting of waited-for
children) plus, for the cluster, the Redis server's own (`INFO cpu`). What a loaded machine does
not blur: Redis requests per article (`total_reads_processed`: round trips, a pipeline or a script
call is one) and commands per article (`INFO commandstats`, those scripts run included). Each
CPU figure is its best round (the least disturbed by the machine's other load).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from redis_server import redis_server  # noqa: E402

from bench.crawl import SETTINGS, bulk_crawl  # noqa: E402
from bench.procmem import children_cpu  # noqa: E402
from crawler.sample_server import SampleSite  # noqa: E402


def crawl(site: SampleSite, folder: Path, extra: Sequence[str] = ()) -> tuple[int, float]:
    """Articles archived and CPU seconds of one crawl of the bulk outlet into `folder`."""
    folder.mkdir()
    config = folder / "bench.toml"
    config.write_text(
        SETTINGS.format(archive=(folder / "archive").as_posix()) + site.sources_toml()
    )
    before = children_cpu()
    done = subprocess.run(
        bulk_crawl(config, *extra),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    cpu = children_cpu() - before
    if done.returncode != 0:
        raise SystemExit(f"crawl failed with exit {done.returncode}: {done.stderr[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["articles_new"], cpu


def _redis_cpu(info: dict[str, float]) -> float:
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def round_(site: SampleSite, folder: Path) -> dict[str, float]:
    articles, single = crawl(site, folder / "single")
    with redis_server(folder / "redis") as server:
        client = server.client()
        client.config_set("appendfsync", "everysec")
        client.config_resetstat()
        redis_before = _redis_cpu(client.info("cpu"))
        clustered, worker = crawl(
            site, folder / "cluster", ["--cluster", server.url, "--worker-name", "w1"]
        )
        redis_cpu = _redis_cpu(client.info("cpu")) - redis_before
        stats = client.info("commandstats")
        reads = client.info("stats")["total_reads_processed"]
    if clustered != articles:
        raise SystemExit(f"single archived {articles} articles, cluster {clustered}")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    calls.pop("info", None)
    calls.pop("config|resetstat", None)
    return {
        "articles": articles,
        "single_cpu_ms_per_article": round(1000 * single / articles, 2),
        "cluster_cpu_ms_per_article": round(1000 * (worker + redis_cpu) / articles, 2),
        "of_which_redis_ms": round(1000 * redis_cpu / articles, 2),
        "redis_requests_per_article": round(reads / articles, 2),
        "redis_commands_per_article": round(sum(calls.values()) / articles, 2),
        "commands": " ".join(f"{n}={c}" for n, c in sorted(calls.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = []
    with SampleSite(bulk_articles=args.articles) as site:
        for number in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(round_(site, Path(tmp)))
            print(f"round {number + 1}: {results[-1]}", flush=True)
    best = {name: min(result[name] for result in results) for name in results[0]}
    single, cluster = best["single_cpu_ms_per_article"], best["cluster_cpu_ms_per_article"]
    best["cluster_extra_pct"] = round(100 * (cluster - single) / single, 1)
    for name, value in best.items():
        print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
