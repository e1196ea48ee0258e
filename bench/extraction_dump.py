"""Dump `extract_article`'s output (text and metadata) for every page of every extraction set,
or compare it with an earlier dump: a change meant to cost less must change no output.

Every page of each set under the benchmarks root is read, the small hand-made fixtures included,
and written as one JSON line (set, page id, the Article's fields). With `--compare`, the pages
whose output differs from the earlier dump are listed and the exit status is 1.

    python bench/extraction_dump.py OUT.jsonl [--data DIR] [--compare EARLIER.jsonl]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.extraction import DEFAULT_DATA
from pipelines.article import extract_article


def outputs(root: Path) -> Iterator[str]:
    """One JSON line per page of every set under `root`, in set and page order."""
    for folder in sorted(p.parent for p in root.glob("*/ground-truth.json")):
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        for page_id, entry in sorted(truth.items()):
            html = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
            article = extract_article(html, entry["url"], "text/html; charset=utf-8")
            found = {"set": folder.name, "id": page_id, **dataclasses.asdict(article)}
            yield json.dumps(found, ensure_ascii=False)


def _by_page(lines: list[str]) -> dict[tuple[str, str], str]:
    return {(entry["set"], entry["id"]): line for line in lines if (entry := json.loads(line))}


def main(argv: list[str] | None = None) -> int:
    """Write the dump; with `--compare`, list the pages whose output changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the dump (JSON lines)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmarks root")
    parser.add_argument("--compare", type=Path, help="an earlier dump to compare with")
    args = parser.parse_args(argv)
    lines = list(outputs(args.data))
    args.out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    if args.compare is None:
        print(f"{len(lines)} pages written to {args.out}")
        return 0
    before = _by_page(args.compare.read_text(encoding="utf-8").splitlines())
    after = _by_page(lines)
    changed = sorted(
        key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
    )
    for set_name, page_id in changed:
        print(f"changed: {set_name}/{page_id}")
    print(f"{len(after)} pages, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
