"""Score `extract_article` on the public article-extraction benchmark against trafilatura.

The score is the field's usual one (see the benchmark README): `\\w+` tokens, 4-token shingles,
per-page true/false positives and false negatives normalised per page, precision and recall
averaged over pages, F1 from those two means. A fixed third of the pages, chosen by a seeded hash
of the page id, is held out: tune on the rest, report both.

    python bench/extraction.py [--data DIR] [--worst N] [--rounds N] [--tuning-only]

`--tuning-only` scores and lists the tuning pages alone, for use while changing the extractor:
the held-out figures are for the final report, and seeing them while tuning would spoil them.
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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.article import extract_article

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "article-extraction"
HOLD_OUT_SEED = "newsarchive-extraction-2026"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    """One benchmark page: its id, URL, raw HTML bytes and the expected article body."""

    id: str
    url: str
    html: bytes
    truth: str


@dataclass(frozen=True)
class Score:
    """Mean precision and recall over pages, and F1 from those two means."""

    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def held_out(page_id: str) -> bool:
    """True for the third of the pages kept out of tuning; fixed by the seed, stable across runs."""
    digest = hashlib.sha256(f"{HOLD_OUT_SEED}:{page_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 3 == 0


def load_pages(data: Path) -> list[Page]:
    """Read ground-truth.json and the gzipped HTML of every page it lists."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        Page(
            id=page_id,
            url=entry["url"],
            html=gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes()),
            truth=entry["articleBody"],
        )
        for page_id, entry in sorted(truth.items())
    ]


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


def mean_score(per_page: Iterable[tuple[float, float]]) -> Score:
    """Average per-page precision and recall."""
    pairs = list(per_page)
    if not pairs:
        return Score(0.0, 0.0)
    return Score(
        precision=sum(p for p, _ in pairs) / len(pairs),
        recall=sum(r for _, r in pairs) / len(pairs),
    )


def run_both(pages: list[Page], rounds: int) -> tuple[dict[str, str], dict[str, str], float, float]:
    """Extract every page with ours and with the baseline, interleaved page by page.

    Interleaving (and keeping each page's fastest of `rounds` timings) makes the speed ratio fair
    on a machine that other work slows down now and then. Returns both texts by page id and both
    speeds in pages per second.
    """
    texts: tuple[dict[str, str], dict[str, str]] = ({}, {})
    seconds = [0.0, 0.0]
    for page in pages:
        for side, extract in enumerate((ours, baseline)):
            best = float("inf")
            for _ in range(rounds):
                start = time.perf_counter()
                text = extract(page)
                best = min(best, time.perf_counter() - start)
            texts[side][page.id] = text or ""
            seconds[side] += best
    return texts[0], texts[1], len(pages) / seconds[0], len(pages) / seconds[1]


def ours(page: Page) -> str | None:
    """Our extractor, fed the raw bytes as the crawl would."""
    return extract_article(page.html, page.url, "text/html; charset=utf-8").text


def baseline(page: Page) -> str | None:
    """trafilatura with default settings, fed the decoded page (the issue's reference)."""
    return trafilatura.extract(page.html.decode("utf-8"), url=page.url, include_comments=False)


def main(argv: list[str] | None = None) -> int:
    """Print P, R, F1 for all, tuning and held-out pages, speeds, and the worst pages."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--worst", type=int, default=10, help="how many worst pages to list")
    parser.add_argument("--rounds", type=int, default=3, help="timings per page (fastest counts)")
    parser.add_argument(
        "--tuning-only", action="store_true", help="score and list the tuning pages alone"
    )
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        parser.error(f"no ground-truth.json in {args.data} (use --data DIR)")
    pages = load_pages(args.data)
    if args.tuning_only:
        pages = [p for p in pages if not held_out(p.id)]
    # Warm both up (imports, caches) so neither pays a first-call cost in the timing.
    ours(pages[0]), baseline(pages[0])
    our_texts, base_texts, our_speed, base_speed = run_both(pages, max(1, args.rounds))
    splits = {"tuning": pages}
    if not args.tuning_only:
        splits = {
            "all": pages,
            "tuning": [p for p in pages if not held_out(p.id)],
            "held-out": [p for p in pages if held_out(p.id)],
        }
    header = f"{'ours P':>7} {'R':>6} {'F1':>6}   {'trafilatura P':>13} {'R':>6} {'F1':>6}"
    print(f"{'pages':<10}{'n':>5}  {header}")
    for name, subset in splits.items():
        mine = mean_score(page_score(p.truth, our_texts[p.id]) for p in subset)
        base = mean_score(page_score(p.truth, base_texts[p.id]) for p in subset)
        print(
            f"{name:<10}{len(subset):>5}  {mine.precision:7.4f} {mine.recall:6.4f} {mine.f1:6.4f}"
            f"   {base.precision:13.4f} {base.recall:6.4f} {base.f1:6.4f}"
        )
    print(
        f"pages/s: ours {our_speed:.1f}, trafilatura {base_speed:.1f},"
        f" ratio {our_speed / base_speed:.2f}"
    )
    scored = sorted(
        ((*page_score(p.truth, our_texts[p.id]), p) for p in pages),
        key=lambda row: Score(row[0], row[1]).f1,
    )
    print(f"worst {args.worst} pages (ours):")
    for precision, recall, page in scored[: args.worst]:
        split = "held-out" if held_out(page.id) else "tuning"
        print(f"  {page.id[:12]} P {precision:.3f} R {recall:.3f} {split:<8} {page.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
