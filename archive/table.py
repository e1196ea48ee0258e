"""Rows as text: aligned columns that fit a terminal, CSV, or JSON Lines.

Both `query` and `sql` print tables; the rows stream through, so a long result costs no memory:
column widths come from the first rows, and later cells that are wider are cut with an ellipsis.
Archived strings are hostile: a title may hold escape sequences that clear the screen or set the
window title. A table cell shows every control character as a visible escape (`terminal_safe`),
and so does CSV or JSON Lines written to a terminal (`for_terminal`); piped, those stay exact.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from typing import TextIO

# C0 and C1 controls (tab and newline aside, for the text formats), DEL, and the bidirectional
# overrides and isolates that can make a line read as something else.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SAMPLE_ROWS = 200
MIN_WIDTH = 6
GAP = "  "


def cell_text(value: object) -> str:
    """One line of text for a cell: None is empty, times are ISO 8601, newlines become spaces,
    control characters visible escapes."""
    if value is None:
        return ""
    return terminal_safe(" ".join(_plain(value).split()))


def terminal_safe(text: str) -> str:
    """`text` with every control character a terminal would act on shown as `\\xNN`/`\\uNNNN`."""
    return _CONTROLS.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


class _TerminalSafe:
    """A text stream that writes through `terminal_safe`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))


def for_terminal(stream: TextIO = sys.stdout) -> TextIO:
    """`stream`, or a wrapper escaping control characters when it is a terminal."""
    return _TerminalSafe(stream) if stream.isatty() else stream  # type: ignore[return-value]


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
    widths = [display_width(name) for name in header]
    for row in sample:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, row, strict=True)]
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
    return GAP.join(_fit(cell, w) for cell, w in zip(cells, widths, strict=True)).rstrip()


def display_width(text: str) -> int:
    """How many terminal columns `text` takes: East Asian wide and full-width characters two,
    combining marks none, others one."""
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _fit(cell: str, width: int) -> str:
    """`cell` padded to `width` columns, or cut to `width` columns ending with "…"."""
    used = display_width(cell)
    if used <= width:
        return cell + " " * (width - used)
    kept, used = [], 1  # room for the ellipsis
    for char in cell:
        used += _char_width(char)
        if used > width:
            break
        kept.append(char)
    cut = "".join(kept) + "…"
    return cut + " " * (width - display_width(cut))


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
