"""A short passage of an article around the words searched for, with those words marked.

The search index is contentless (it holds no text to quote), so the passage is cut from the
record's own text: the window of `width` characters that holds the most searched words. What is
returned is plain text in pieces (text, marked?), for a page to escape and mark up itself.
"""

from __future__ import annotations

import re

from archive.search import RAW_PREFIX

WIDTH = 240
_OPERATORS = {"and", "or", "not", "near"}
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def search_words(search: str | None) -> list[str]:
    """The words of a search, lower-cased, without operators, column names or wildcards."""
    if not search:
        return []
    words = []
    for token in _WORD.findall(search.removeprefix(RAW_PREFIX).replace("title:", " ")):
        if token.lower() not in _OPERATORS:
            words.append(token.lower())
    return words


def snippet(text: str, search: str | None, width: int = WIDTH) -> list[tuple[str, bool]]:
    """The passage of `text` richest in the searched words, as (piece, is_match) pairs."""
    words = search_words(search)
    matches = []
    if words:
        pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
        matches = [m.span() for m in pattern.finditer(text.lower())]
    start = _best_window(matches, width)
    end = min(len(text), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    cursor = start
    for begin, finish in matches:
        if begin < start or finish > end:
            continue
        pieces += [(text[cursor:begin], False), (text[begin:finish], True)]
        cursor = finish
    pieces.append((text[cursor:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return [(_SPACE.sub(" ", piece), marked) for piece, marked in pieces if piece]


def _best_window(matches: list[tuple[int, int]], width: int) -> int:
    """Where the window holding the most matches starts (a little before the first of them)."""
    best, best_count, first = 0, 0, 0
    for index, (begin, _) in enumerate(matches):
        while matches[first][0] < begin - width + 40:
            first += 1
        if index - first + 1 > best_count:
            best_count, best = index - first + 1, max(0, matches[first][0] - 40)
    return best
