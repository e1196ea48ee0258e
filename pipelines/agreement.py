"""Agreement between two extractors: trafilatura's text bounded by readability's reading.

trafilatura sometimes starts before the article (a byline and toolbar run on into the first line)
or runs on past its end (an "About the company" box, a link rail). Readability scores the page's
containers on its own terms and picks one region. Where that region holds most of trafilatura's
text, the two agree on which article it is, and what trafilatura has before the first or after
the last stretch they share is cut off. Paragraphs between are kept: readability drops embeds and
short lines inside an article that trafilatura rightly keeps. Readability here is trafilatura's
fork of readability-lxml, which reads a parsed tree (no second parse) and costs a few ms a page.
"""

from __future__ import annotations

import re

from lxml.etree import LxmlError, strip_elements
from lxml.html import HtmlElement, fromstring
from trafilatura.readability_lxml import Document

from pipelines.boilerplate import word_spans, words

# Readability's region must hold this share of trafilatura's 4-word shingles, and this share of
# its word count, to count as agreeing on the article; otherwise it read a different page part.
AGREEMENT_SHARE = 0.7
LENGTH_SHARE = 0.5
SHINGLE = 4
# Elements whose end is a line break in readability's text, so words do not run together.
_BLOCKS = frozenset(("p", "div", "br", "li", "td", "tr", "blockquote", "pre", "figure", "table"))

_NEVER_ARTICLE = ("script", "style", "noscript", "svg", "nav", "footer", "aside", "form", "iframe")

Shingle = tuple[str, ...]
_SPACE = re.compile(r"\s")


def readability_text(tree: HtmlElement) -> str:
    """The text of readability's main-content region of the page, "" when it finds none.

    Readability prunes the tree it reads, so this is the tree's last reader. Parts that are never
    the article (navigation, asides, forms, scripts) are removed first: a third less work.
    """
    strip_elements(tree, *_NEVER_ARTICLE, with_tail=False)
    try:
        region = fromstring(Document(tree).summary())
    except (LxmlError, ValueError, TypeError):
        return ""
    for elem in region.iter():
        if elem.tag in _BLOCKS:
            elem.tail = "\n" + (elem.tail or "")
    return "".join(region.itertext())


def _shingles(tokens: list[str]) -> zip[Shingle]:
    return zip(*(tokens[i:] for i in range(SHINGLE)), strict=False)


def _words(text: str) -> list[str]:
    return words(text.lower())


def _agrees(line: str, shared: set[Shingle], other: str) -> bool:
    """True when a line shares a shingle with the other reading, or (too short for one) its
    words appear there in order."""
    tokens = _words(line)
    if len(tokens) < SHINGLE:
        return bool(tokens) and f" {' '.join(tokens)} " in other
    return not shared.isdisjoint(_shingles(tokens))


def _shared_span(line: str, shared: set[Shingle]) -> tuple[int, int]:
    """Where a line's first shingle found in `shared` begins and its last one ends, widened to
    whitespace so quotes and final punctuation stay; the whole line when it has none."""
    spans = [match.span() for match in word_spans(line)]
    tokens = [line[start:end].lower() for start, end in spans]
    hits = [i for i, shingle in enumerate(_shingles(tokens)) if shingle in shared]
    if not hits:
        return 0, len(line)
    start, end = spans[hits[0]][0], spans[hits[-1] + SHINGLE - 1][1]
    after = _SPACE.search(line, end)
    return line.rfind(" ", 0, start) + 1, after.start() if after else len(line)


def bound_by(text: str, other: str) -> str:
    """`text` (one paragraph a line) cut to the stretch it shares with `other`, a second reading.

    Unchanged when `other` does not agree on the article: shorter than half of `text`, or holding
    less than `AGREEMENT_SHARE` of its shingles. Otherwise the lines before the first and after the
    last line `other` shares are dropped, and those two lines are cut at the first and last
    shingle they share, which removes a page header or footer run on into a paragraph.
    """
    tokens, other_tokens = _words(text), _words(other)
    if len(tokens) < SHINGLE or len(other_tokens) < LENGTH_SHARE * len(tokens):
        return text
    shared = set(_shingles(other_tokens))
    if sum(shingle in shared for shingle in _shingles(tokens)) < AGREEMENT_SHARE * (
        len(tokens) - SHINGLE + 1
    ):
        return text
    joined = f" {' '.join(other_tokens)} "
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if _agrees(line, shared, joined)), None)
    if first is None:
        return text
    last = next(i for i in reversed(range(len(lines))) if _agrees(lines[i], shared, joined))
    lines = lines[first : last + 1]
    lines[0] = lines[0][_shared_span(lines[0], shared)[0] :]
    lines[-1] = lines[-1][: _shared_span(lines[-1], shared)[1]]
    return "\n".join(lines)
