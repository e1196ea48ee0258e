"""Rows as text: aligned columns that fit a terminal, CSV, or JSON Lines.

Both `query` and `sql` print tables; the rows stream through, so a long result costs no memory:
column widths come from the first rows, and later cells that are wider are cut with an ellipsis.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from typing import TextIO

SAMPLE_ROWS = 200
MIN_WIDTH = 6
GAP = "  "


def cell_text(value: object) -> str:
    """One line of text for a cell: None is empty, times are ISO 8601, newlines become spaces."""
    if value is None:
        return ""
    return " ".join(_plain(value).split())


def _plain(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def render_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], width: int
) -> Iterator[str]:
    """Lines of an aligned table no wider than `width` (when every column can shrink to fit).

    The widest columns shrink first, down to a few characters; cut cells end with "…".
    """
    rows = iter(rows)
    sample = [[cell_text(value) for value in row] for row in islice(rows, SAMPLE_ROWS)]
    widths = [len(name) for name in header]
    for row in sample:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    _shrink(widths, width - len(GAP) * (len(widths) - 1))
    rest = ([cell_text(value) for value in row] for row in rows)
    yield _line(header, widths)
    yield _line(["-" * w for w in widths], widths)
    for row in chain(sample, rest):
        yield _line(row, widths)


def _shrink(widths: list[int], room: int) -> None:
    while sum(widths) > room:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= MIN_WIDTH:
            return
        widths[widest] -= 1


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    fitted = [
        cell.ljust(w) if len(cell) <= w else cell[: w - 1] + "…"
        for cell, w in zip(cells, widths, strict=True)
    ]
    return GAP.join(fitted).rstrip()


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]], out: TextIO) -> None:
    """RFC 4180 CSV with a header row; None is an empty field, times are ISO 8601."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if v is None else _plain(v) if isinstance(v, datetime) else v for v in row]
        )


def write_jsonl(header: Sequence[str], rows: Iterable[Sequence[object]], out: TextIO) -> None:
    """One JSON object per row, keyed by the header; times are ISO 8601, other odd types text."""
    for row in rows:
        out.write(
            json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False, default=_plain)
        )
        out.write("\n")
