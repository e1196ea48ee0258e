"""Score `extract_article` on every extraction set in the shared benchmarks, beside trafilatura.

Each folder of the benchmarks root that holds a `ground-truth.json` is a set. Text is scored the
field's usual way (see the sets' READMEs): `\\w+` tokens, 4-token shingles, per-page precision and
recall averaged over pages, F1 from those two means. A set whose entries give `source_bytes` (the
Readability test pages) is scored on its real pages, those of 10 kB or more; the small hand-made
fixtures are left out, and counted.

Every set is split in two, a tuning half and a confirming half: by a seeded hash of the page's
host, so that one site's pages fall on one side; where every page of a set has the same host (the
Readability pages all have `fakehost`), by a seeded hash of the page's name. Change the extractor
looking at the tuning half (`--tuning-only`); the confirming half checks that the rule is general.

Per set and split, for newsarchive, trafilatura's default and its precision mode: P, R, F1; pages
empty; for newsarchive, pages whose F1 trails trafilatura default's by more than 0.2 and pages
empty where trafilatura default returns 500+ characters; paragraph fidelity (share of pages whose
paragraph count is within 50% of the truth's); the share of pages with the title, author,
published day and language right, among the pages whose truth states it; and speed per set, the
fastest of `--rounds` timings per page, interleaved, in CPU time of this process (wall time
counts the waits of a shared machine; extraction runs CPU-bound in a pool).

    python bench/extraction.py [--data DIR] [--worst N] [--rounds N] [--tuning-only]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.article import extract_article

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
SPLIT_SEED = "newsarchive-extraction-2026"
SHINGLE = 4
# Below this, a page of a set that gives `source_bytes` is a hand-made fixture, not a real site.
REAL_BYTES = 10_000
# A page where we trail trafilatura by more than this F1, or where it finds this many characters
# and we find none, is a page we lost.
TRAIL_F1 = 0.2
LOST_CHARS = 500
# A paragraph count within this share of the truth's is faithful.
PARAGRAPH_SHARE = 0.5
FIELDS = ("title", "author", "day", "lang")
TOOLS = ("newsarchive", "traf default", "traf precision")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    """One benchmark page: its id, URL, raw HTML bytes, the expected text and metadata."""

    id: str
    url: str
    html: bytes
    truth: str
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class BenchSet:
    """The scored pages of one set, how it is split, and how many pages were left out."""

    name: str
    pages: list[Page]
    by_host: bool
    fixtures: int = 0

    def split_key(self, page: Page) -> str:
        return urlsplit(page.url).hostname or page.id if self.by_host else page.id

    def confirming(self, page: Page) -> bool:
        """True for the half kept to confirm; fixed by the seed, stable across runs."""
        digest = hashlib.sha256(f"{SPLIT_SEED}:{self.split_key(page)}".encode()).digest()
        return digest[0] % 2 == 1


@dataclass(frozen=True)
class Output:
    """What one tool gave for one page: text, and the metadata read (None: not asked)."""

    text: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    language: str | None = None


@dataclass
class Row:
    """One tool's figures over a set of pages."""

    pages: int = 0
    precision: float = 0.0
    recall: float = 0.0
    empty: int = 0
    trail: int = 0
    lost: int = 0
    faithful: int = 0
    meta_stated: Counter[str] = field(default_factory=Counter)
    meta_right: Counter[str] = field(default_factory=Counter)

    @property
    def f1(self) -> float:
        p, r = self.precision / max(1, self.pages), self.recall / max(1, self.pages)
        return 2 * p * r / (p + r) if p + r else 0.0


def load_sets(root: Path) -> list[BenchSet]:
    """Every folder under `root` with a ground-truth.json, its real pages read and gunzipped."""
    sets = []
    for folder in sorted(p.parent for p in root.glob("*/ground-truth.json")):
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        real = {k: v for k, v in truth.items() if v.get("source_bytes", REAL_BYTES) >= REAL_BYTES}
        pages = [
            Page(
                id=page_id,
                url=entry["url"],
                html=gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes()),
                truth=entry["articleBody"],
                metadata=entry.get("metadata"),
            )
            for page_id, entry in sorted(real.items())
        ]
        hosts = {urlsplit(page.url).hostname for page in pages}
        sets.append(BenchSet(folder.name, pages, len(hosts) > 1, len(truth) - len(real)))
    return sets


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_score(truth: str, predicted: str | None) -> tuple[float, float]:
    """Precision and recall of one page's shingles (an empty prediction scores 0, 0)."""
    expected, got = _shingles(truth), _shingles(predicted or "")
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    if tp + fp + fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def _f1(pair: tuple[float, float]) -> float:
    return 2 * pair[0] * pair[1] / (pair[0] + pair[1]) if sum(pair) else 0.0


def paragraphs(text: str, one_a_line: bool = False) -> int:
    """Paragraphs of a text: its blocks between blank lines (newsarchive's form, where a code
    block's lines stay together), or its non-blank lines (`one_a_line`: trafilatura writes a
    paragraph a line, and some Scrapinghub truths put a single line break between paragraphs)."""
    chunks = text.splitlines() if one_a_line else re.split(r"\n\s*\n", text)
    return sum(1 for chunk in chunks if chunk.strip())


def ours(page: Page) -> Output:
    """Our extractor, fed the raw bytes as the crawl would."""
    article = extract_article(page.html, page.url, "text/html; charset=utf-8")
    return Output(
        article.text or "", article.title, article.authors, article.published, article.language
    )


def traf_default(page: Page) -> Output:
    """Plain `trafilatura.extract` on the decoded page (the issue's reference for speed)."""
    return Output(trafilatura.extract(page.html.decode("utf-8"), url=page.url) or "")


def traf_precision(page: Page) -> Output:
    """trafilatura's precision mode."""
    html = page.html.decode("utf-8")
    return Output(trafilatura.extract(html, url=page.url, favor_precision=True) or "")


def traf_metadata(page: Page) -> Output:
    """trafilatura's metadata of a page (untimed: `extract` alone is the speed reference)."""
    tree = load_html(page.html.decode("utf-8"))
    doc = extract_metadata(tree, default_url=page.url) if tree is not None else None
    if doc is None:
        return Output("")
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    language = tree.get("lang") if tree is not None else None
    return Output("", doc.title, authors, doc.date, language)


EXTRACTORS: tuple[Callable[[Page], Output], ...] = (ours, traf_default, traf_precision)


def run_all(pages: list[Page], rounds: int) -> tuple[list[dict[str, Output]], list[float]]:
    """Every tool on every page, interleaved page by page, each page's fastest of `rounds`.

    Interleaving, and CPU time rather than wall time, keep the speed ratio fair on a machine
    that other work slows down now and then.
    Returns each tool's outputs by page id and its speed in pages per second.
    """
    outputs: list[dict[str, Output]] = [{} for _ in EXTRACTORS]
    seconds = [0.0 for _ in EXTRACTORS]
    for page in pages:
        for side, extract in enumerate(EXTRACTORS):
            best = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                out = extract(page)
                best = min(best, time.process_time() - start)
            outputs[side][page.id] = out
            seconds[side] += best
    for page in pages:
        meta = traf_metadata(page)
        for side in (1, 2):
            text = outputs[side][page.id].text
            outputs[side][page.id] = Output(
                text, meta.title, meta.authors, meta.published, meta.language
            )
    return outputs, [len(pages) / s for s in seconds]


def _normal(text: str | None) -> str:
    return " ".join(_TOKEN.findall((text or "").lower()))


def title_right(truth: str | None, found: str | None) -> bool:
    """Equal words, or one is the other with a site name before or after (truths often keep it):
    the shorter then starts or ends the longer and has at least half its words."""
    a, b = sorted((_normal(truth), _normal(found)), key=len)
    if a == b:
        return True
    return bool(a) and (b.startswith(a) or b.endswith(a)) and 2 * len(a.split()) >= len(b.split())


def author_right(byline: str | None, authors: tuple[str, ...]) -> bool:
    """At least one author, and every author named in the byline."""
    names = [_normal(a) for a in authors if _normal(a)]
    line = f" {_normal(byline)} "
    return bool(names) and all(f" {name} " in line for name in names)


def _days(value: str) -> set[str]:
    """The day a timestamp states, and its UTC day when it has an offset."""
    days = {value[:10]}
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return days
    if stamp.tzinfo is not None:
        days.add(stamp.astimezone(UTC).date().isoformat())
    return days


def day_right(truth: str, found: str | None) -> bool:
    """The day the truth states, in its own offset or in UTC."""
    return found is not None and found[:10] in _days(truth)


def lang_right(truth: str | None, found: str | None) -> bool:
    """The same primary language subtag."""
    primary = [(value or "").lower().replace("_", "-").split("-")[0] for value in (truth, found)]
    return primary[0] == primary[1]


_TRUTH_KEYS = {"title": "title", "author": "byline", "day": "publishedTime", "lang": "lang"}


def metadata_right(truth: dict[str, Any], out: Output) -> dict[str, bool]:
    """Per field the truth states, whether the output has it right."""
    checks = {
        "title": lambda: title_right(truth.get("title"), out.title),
        "author": lambda: author_right(truth.get("byline"), out.authors),
        "day": lambda: day_right(truth["publishedTime"], out.published),
        "lang": lambda: lang_right(truth.get("lang"), out.language),
    }
    return {k: check() for k, check in checks.items() if truth.get(_TRUTH_KEYS[k])}


def score(pages: list[Page], outputs: list[dict[str, Output]]) -> list[Row]:
    """Each tool's row over these pages."""
    rows = [Row() for _ in EXTRACTORS]
    for page in pages:
        base = outputs[1][page.id].text
        base_f1 = _f1(page_score(page.truth, base))
        for side, row in enumerate(rows):
            out = outputs[side][page.id]
            pair = page_score(page.truth, out.text)
            row.pages += 1
            row.precision += pair[0]
            row.recall += pair[1]
            row.empty += not out.text.strip()
            if side == 0:
                row.trail += _f1(pair) < base_f1 - TRAIL_F1
                row.lost += not out.text.strip() and len(base) >= LOST_CHARS
            expected = paragraphs(page.truth, one_a_line=True)
            found = paragraphs(out.text, one_a_line=side > 0)
            row.faithful += abs(found - expected) <= PARAGRAPH_SHARE * expected
            right = metadata_right(page.metadata or {}, out)
            row.meta_stated.update(right.keys())
            row.meta_right.update(k for k, v in right.items() if v)
    return rows


def _line(split: str, tool: str, row: Row) -> str:
    n = max(1, row.pages)
    ours_only = tool == TOOLS[0]
    trail = f"{row.trail:>5} {row.lost:>4}" if ours_only else f"{'-':>5} {'-':>4}"
    meta = " ".join(
        f"{row.meta_right[k] / row.meta_stated[k]:5.2f}" if row.meta_stated[k] else f"{'-':>5}"
        for k in FIELDS
    )
    return (
        f"{split:<8}{row.pages:>4}  {tool:<15}{row.precision / n:6.3f} {row.recall / n:6.3f}"
        f" {row.f1:6.3f} {row.empty:>5} {trail} {row.faithful / n:6.2f}  {meta}"
    )


HEADER = (
    f"{'split':<8}{'n':>4}  {'tool':<15}{'P':>6} {'R':>6} {'F1':>6} {'empty':>5} {'trail':>5}"
    f" {'lost':>4} {'para':>6}  " + " ".join(f"{k:>5}" for k in FIELDS)
)


def report(bench: BenchSet, rounds: int, worst: int, tuning_only: bool) -> None:
    """Print one set's table, speeds and worst pages."""
    pages = [p for p in bench.pages if not (tuning_only and bench.confirming(p))]
    split_by = "host" if bench.by_host else "page name (one host for all)"
    left_out = (
        f", {bench.fixtures} hand-made fixtures under 10 kB left out" if bench.fixtures else ""
    )
    print(f"== {bench.name}: {len(pages)} pages{left_out}; halves by hash of {split_by}")
    for extract in EXTRACTORS:  # imports and caches warmed before any timing
        extract(pages[0])
    outputs, speeds = run_all(pages, rounds)
    splits = {"tune": [p for p in pages if not bench.confirming(p)]}
    if not tuning_only:
        splits = {"all": pages, **splits, "confirm": [p for p in pages if bench.confirming(p)]}
    print(HEADER)
    for split, subset in splits.items():
        for tool, row in zip(TOOLS, score(subset, outputs), strict=True):
            print(_line(split, tool, row))
    print(
        "pages/s: "
        + ", ".join(f"{tool} {speed:.1f}" for tool, speed in zip(TOOLS, speeds, strict=True))
        + f"; newsarchive / traf default {speeds[0] / speeds[1]:.2f}"
    )
    rows = [
        (page_score(p.truth, outputs[0][p.id].text), p)
        for p in pages
        if tuning_only or not bench.confirming(p)
    ]
    ranked = sorted(rows, key=lambda row: _f1(row[0]))[:worst]
    print(f"worst {len(ranked)} tuning pages (newsarchive; F1 of trafilatura default):")
    for (precision, recall), page in ranked:
        base = _f1(page_score(page.truth, outputs[1][page.id].text))
        found, expected = paragraphs(outputs[0][page.id].text), paragraphs(page.truth, True)
        print(
            f"  {page.id[:12]:<12} P {precision:.3f} R {recall:.3f} traf {base:.3f}"
            f" paras {found}/{expected} {page.url}"
        )


def main(argv: list[str] | None = None) -> int:
    """Print every set's table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmarks root")
    parser.add_argument("--worst", type=int, default=10, help="how many worst pages to list")
    parser.add_argument("--rounds", type=int, default=3, help="timings per page (fastest counts)")
    parser.add_argument(
        "--tuning-only", action="store_true", help="score and list the tuning halves alone"
    )
    parser.add_argument("--set", action="append", help="only this set (folder name); repeatable")
    args = parser.parse_args(argv)
    sets = [s for s in load_sets(args.data) if not args.set or s.name in args.set]
    if not sets:
        parser.error(f"no */ground-truth.json under {args.data} (use --data DIR)")
    for bench in sets:
        report(bench, max(1, args.rounds), args.worst, args.tuning_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
