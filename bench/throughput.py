"""Crawl throughput against the machine's limit and against trafilatura's own command line.

    python bench/throughput.py --articles 2000 [--repeat 3]
    python bench/throughput.py --memory-growth [--existing 100000]

A seeded corpus (`bench.corpus`) is served on 127.0.0.1; each figure is the median of `--repeat`
runs, each on a fresh archive:

- limit: `extract_article` (what the crawl runs) over the same page bytes in a process pool with
  one worker per core; no fetching, no writing. Plain `trafilatura.extract` is shown for reference.
- newsarchive: the real `newsarchive crawl --json` in a subprocess (fetch, WARC, extraction,
  dedup, JSON, catalog; delay 0), with the peak RSS of its whole process tree.
- peer: `trafilatura -i urls.txt --parallel N` fetching and extracting the same URLs, with a
  config that allows loopback and does not sleep between requests.
- scrapy alone: `bench/bare_fetch.py`, Scrapy fetching the same pages and discarding them. Its
  CPU per article is a floor under any Scrapy crawl's reactor thread; with the limit's CPU per
  article it bounds newsarchive/limit on a CPU-bound machine (printed as "ceiling").

Rates are articles per second of wall-clock time, process start to exit for both command lines.
CPU milliseconds per article (main process, and the whole process tree) are printed too: on a
machine shared with other work the wall-clock ratios mostly measure the scheduler's fair share
(three busy processes of a crawl against two of a pool), while CPU per article does not depend on
the load, so the last line projects the rates of an idle machine from it.
`--memory-growth` crawls 1,000 and then 10,000 new articles into an archive that already holds
`--existing` synthetic records, and compares the two peaks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.corpus import Corpus, CorpusServer  # noqa: E402
from bench.procmem import TreeSampler, children_cpu  # noqa: E402
from bench.synthetic import fill_archive  # noqa: E402
from pipelines.article import extract_article  # noqa: E402

CORES = os.cpu_count() or 1
CRAWL_CONFIG = """\
[archive]
dir = "{archive}"

[crawl]
delay = 0
timeout = 30
concurrency = {concurrency}
allow_private_addresses = true

[[source]]
name = "courier"
feeds = {feeds}
allowed_domains = ["127.0.0.1"]
"""
Page = tuple[str, bytes]


@dataclass(frozen=True)
class Run:
    """One timed run: articles out, wall seconds, CPU seconds (main process and all), peak RSS."""

    articles: int
    seconds: float
    cpu_main: float
    cpu_tree: float
    peak_main_mib: float = 0.0
    peak_tree_mib: float = 0.0

    @property
    def rate(self) -> float:
        return self.articles / self.seconds

    def cpu_ms(self, seconds: float) -> float:
        """CPU milliseconds per article."""
        return 1000 * seconds / max(self.articles, 1)


def ours(page: Page) -> bool:
    """The crawl's extraction of one page; True when it found text."""
    url, body = page
    return extract_article(body, url, "text/html; charset=utf-8").text is not None


def plain(page: Page) -> bool:
    """trafilatura's own extraction of one page, for reference."""
    url, body = page
    return trafilatura.extract(body.decode(), url=url, include_comments=False) is not None


def limit_run(pages: list[Page], function: Callable[[Page], bool]) -> Run:
    """`function` over every page in a pool of one worker per core; workers warmed up first."""
    before = children_cpu()
    with ProcessPoolExecutor(CORES) as pool:
        list(pool.map(function, pages[:CORES]))
        started = time.monotonic()
        found = sum(pool.map(function, pages, chunksize=8))
        seconds = time.monotonic() - started
    cpu = children_cpu() - before
    return Run(found, seconds, cpu_main=0.0, cpu_tree=cpu)


def timed(command: list[str]) -> tuple[str, float, TreeSampler]:
    """Run `command` to its end: its stdout, wall seconds, and what the sampler saw."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeSampler(process) as sampler:
        stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed with exit {process.returncode}: {stderr[-2000:]}")
    return stdout, seconds, sampler


def crawl_run(server: CorpusServer, work: Path, concurrency: int) -> Run:
    """One `newsarchive crawl` of every feed into the archive under `work` (new or not)."""
    config = work / "crawl.toml"
    config.write_text(
        CRAWL_CONFIG.format(
            archive=(work / "archive").as_posix(),
            concurrency=concurrency,
            feeds=json.dumps(server.corpus.feed_urls),
        )
    )
    crawl = [sys.executable, "-m", "crawler", "crawl", "--config", str(config), "--json"]
    stdout, seconds, sampler = timed(crawl)
    summary = json.loads(stdout.strip().splitlines()[-1])
    return Run(
        summary["articles_new"],
        seconds,
        sampler.main_cpu,
        sampler.tree_cpu,
        sampler.main_kib / 1024,
        sampler.tree_kib / 1024,
    )


def peer_run(server: CorpusServer, work: Path, parallel: int) -> Run:
    """trafilatura's CLI over the article URLs: its downloader threads, its extraction."""
    defaults = Path(trafilatura.__file__).with_name("settings.cfg").read_text()
    config = work / "trafilatura.cfg"
    config.write_text(
        defaults.replace("SLEEP_TIME = 5.0", "SLEEP_TIME = 0").replace(
            "SSRF_PROTECTION = on", "SSRF_PROTECTION = off"
        )
    )
    urls = work / "urls.txt"
    urls.write_text("".join(url + "\n" for url, _ in server.corpus.article_pages()))
    out = work / "out"
    command = ["trafilatura", "-i", str(urls), "--parallel", str(parallel), "--no-comments"]
    _, seconds, sampler = timed([*command, "--config-file", str(config), "-o", str(out)])
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return Run(files, seconds, sampler.main_cpu, sampler.tree_cpu)


def bare_run(server: CorpusServer, concurrency: int) -> Run:
    """Scrapy alone over the same feeds and articles: the fetching cost no crawl can avoid."""
    command = [sys.executable, "bench/bare_fetch.py", "--concurrency", str(concurrency)]
    stdout, seconds, sampler = timed([*command, *server.corpus.feed_urls])
    return Run(int(stdout.split()[-1]), seconds, sampler.main_cpu, sampler.tree_cpu)


def median(runs: list[Run]) -> Run:
    """The run with the median rate (the upper one of an even count)."""
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def throughput(articles: int, times: int, concurrency: int, parallel: int) -> None:
    """Measure limit, reference, newsarchive and peer in turn, `times` rounds; print medians.

    Rounds interleave the contenders so a change of load on a shared machine hits all of them.
    """
    corpus = Corpus(articles)
    with CorpusServer(corpus) as server:
        pages = corpus.article_pages()
        words = [s.words for s in corpus.stories]
        print(
            f"corpus: {articles} articles, {min(words)}-{max(words)} words "
            f"(mean {statistics.mean(words):.0f}), {sum(len(b) for _, b in pages) / 2**20:.1f} "
            f"MiB of HTML; {CORES} cores; load {load()}",
            flush=True,
        )
        contenders: dict[str, Callable[[Path], Run]] = {
            "limit": lambda _: limit_run(pages, ours),
            "reference": lambda _: limit_run(pages, plain),
            "newsarchive": lambda work: crawl_run(server, work, concurrency),
            "peer": lambda work: peer_run(server, work, parallel),
            "scrapy": lambda _: bare_run(server, concurrency),
        }
        runs: dict[str, list[Run]] = {name: [] for name in contenders}
        for round_ in range(1, times + 1):
            for name, once in contenders.items():
                with tempfile.TemporaryDirectory(prefix="newsarchive-bench-") as tmp:
                    runs[name].append(once(Path(tmp)))
            rates = "  ".join(f"{name} {r[-1].rate:.1f}" for name, r in runs.items())
            print(f"round {round_}: {rates} articles/s; load {load()}", flush=True)
    best = {name: median(r) for name, r in runs.items()}
    _report(best, concurrency, parallel)


def _report(best: dict[str, Run], concurrency: int, parallel: int) -> None:
    labels = {
        "limit": f"limit: extract_article, pool of {CORES}",
        "reference": f"trafilatura.extract, pool of {CORES}",
        "newsarchive": f"newsarchive crawl, concurrency {concurrency}",
        "peer": f"trafilatura -i --parallel {parallel}",
        "scrapy": "Scrapy alone, fetch and discard",
    }
    print("\nmedians                                 articles/s  wall s  CPU ms/article")
    for name, run in best.items():
        cpu = f"{run.cpu_ms(run.cpu_tree):5.2f}"
        if run.cpu_main:
            cpu += f" (main process {run.cpu_ms(run.cpu_main):.2f})"
        print(f"  {labels[name]:38} {run.rate:9.1f} {run.seconds:7.1f}  {cpu}")
    crawl = best["newsarchive"]
    print(
        f"  newsarchive: {crawl.articles} new articles; peak RSS {crawl.peak_tree_mib:.0f} MiB "
        f"(process tree), {crawl.peak_main_mib:.0f} MiB (crawl process)"
    )
    print(f"  newsarchive/limit  {crawl.rate / best['limit'].rate:.2f}  (target >= 0.85)")
    print(f"  newsarchive/peer   {crawl.rate / best['peer'].rate:.2f}  (target >= 1.5)")
    extract, fetch = best["limit"], best["scrapy"]
    extract_ms, fetch_ms = extract.cpu_ms(extract.cpu_tree), fetch.cpu_ms(fetch.cpu_tree)
    print(
        f"  ceiling: extraction {extract_ms:.2f} + Scrapy alone {fetch_ms:.2f} ms/article of CPU "
        f"-> newsarchive/limit <= {extract_ms / (extract_ms + fetch_ms):.2f} when CPU-bound"
    )
    _projection(best)
    print(f"load average at the end: {load()}")


def _projection(best: dict[str, Run]) -> None:
    """Rates an idle machine would give, from CPU per article, which other load barely changes.

    The pool and the crawl's workers share out every core; the crawl's reactor thread is one
    core at most; trafilatura's CLI extracts in its main thread, so it gets one core at most.
    """
    limit, crawl, peer = best["limit"], best["newsarchive"], best["peer"]
    limit_rate = CORES / limit.cpu_ms(limit.cpu_tree) * 1000
    crawl_rate = min(CORES / crawl.cpu_ms(crawl.cpu_tree), 1 / crawl.cpu_ms(crawl.cpu_main)) * 1000
    peer_rate = min(CORES / peer.cpu_ms(peer.cpu_tree), 1 / peer.cpu_ms(peer.cpu_main)) * 1000
    print(
        f"projected from CPU per article on an idle {CORES}-core machine: limit {limit_rate:.0f}, "
        f"newsarchive {crawl_rate:.0f}, peer {peer_rate:.0f} articles/s; "
        f"newsarchive/limit {crawl_rate / limit_rate:.2f}, newsarchive/peer "
        f"{crawl_rate / peer_rate:.2f}"
    )


def memory_growth(existing: int, concurrency: int) -> None:
    """Peak RSS of crawls of 1,000 and 10,000 new articles into an archive of `existing`."""
    with tempfile.TemporaryDirectory(prefix="newsarchive-bench-") as tmp:
        started = time.monotonic()
        filled = Path(tmp) / "filled"
        fill_archive(filled, existing)
        print(f"  {existing} synthetic records in {time.monotonic() - started:.1f} s", flush=True)
        peaks = [_grown(filled, Path(tmp) / str(n), n, concurrency) for n in (1000, 10000)]
    print(f"  peak(10000)/peak(1000) = {peaks[1] / peaks[0]:.2f}   (target <= 1.20)")


def _grown(filled: Path, work: Path, articles: int, concurrency: int) -> float:
    """Crawl `articles` new ones into a copy of the filled archive; print and return the peak."""
    shutil.copytree(filled, work / "archive")
    with CorpusServer(Corpus(articles)) as server:
        run = crawl_run(server, work, concurrency)
    print(
        f"  N={articles:<6} {run.articles} new in {run.seconds:.1f} s ({run.rate:.1f}/s); "
        f"peak RSS tree {run.peak_tree_mib:.0f} MiB, main {run.peak_main_mib:.0f} MiB; "
        f"load {load()}",
        flush=True,
    )
    return run.peak_tree_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--concurrency", type=int, default=64, help="newsarchive [crawl] setting")
    parser.add_argument("--parallel", type=int, default=16, help="trafilatura --parallel")
    parser.add_argument("--memory-growth", action="store_true", help="the memory experiment")
    parser.add_argument("--existing", type=int, default=100_000, help="records already archived")
    args = parser.parse_args()
    if args.memory_growth:
        memory_growth(args.existing, args.concurrency)
    else:
        throughput(args.articles, args.repeat, args.concurrency, args.parallel)


if __name__ == "__main__":
    main()
