"""Paragraph boundaries of the page, put back where an extraction ran blocks together.

trafilatura's baseline hands back a JSON-LD body or a whole <article> as one line, and its main
pass now and then flattens line breaks (in a table cell, in some posts' <p>). The words are
right, the paragraphs are lost. The page knows where each block ends and the next begins:
`block_boundaries` reads that once, as the words on either side of each boundary, and
`split_blocks` breaks a line wherever those words meet in it.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

from lxml.etree import XML, XSLT, _Element
from lxml.html import HtmlElement

from pipelines.boilerplate import LINK_START, strip_markers

# Elements whose start and end separate the text before from the text after, as a browser
# lays them out; `br` among them.
_BREAKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td"),
        *("th", "tr", "ul"),
    }
)
# Characters on either side of a boundary that identify it: enough to make a chance match of
# both sides rare, few enough that short lines (a list of short items) have them.
SIDE_CHARS = 10
_JOIN = "\x00"
_RUN = "\ue003"  # a private-use character: no page text has it
_MARK_BREAKS = XSLT(
    XML(
        f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="{"|".join(sorted(_BREAKS))}">{_RUN}<xsl:apply-templates/>{_RUN}</xsl:template>
<xsl:template match="script|style"/>
</xsl:stylesheet>"""
    )
)


def _runs(tree: HtmlElement) -> list[str]:
    """The page's text runs between breaks, in order, single-spaced; empty runs left out.

    One XSLT pass (in C) writes the page's text with a mark at each breaking element's start and
    end, scripts and styles left out; a Python walk over the tree costs three times as much. The
    white space is made single in the whole text at once (the mark is none), which leaves a run
    at most a space at either end to strip.
    """
    whole = " ".join(str(_MARK_BREAKS(tree)).split())
    return [run for run in map(str.strip, whole.split(_RUN)) if run]


def block_boundaries(tree: HtmlElement) -> frozenset[str]:
    """Each boundary between two text runs of the page (`_runs`), as the last `SIDE_CHARS` of
    the one and the first of the next; both with the link markers and without them."""
    keys = set()
    for before, after in pairwise(_runs(tree)):
        if len(before) >= SIDE_CHARS and len(after) >= SIDE_CHARS:
            keys.add(before[-SIDE_CHARS:] + _JOIN + after[:SIDE_CHARS])
            if LINK_START in before or LINK_START in after:
                before, after = strip_markers(before), strip_markers(after)
                keys.add(before[-SIDE_CHARS:] + _JOIN + after[:SIDE_CHARS])
    return frozenset(keys)


@lru_cache(maxsize=1)
def _run_ends(boundaries: frozenset[str]) -> frozenset[str]:
    """The first sides of the boundaries (a run's last characters), made once for a page's lines:
    a space after none of them is no boundary, found without building the whole key."""
    return frozenset(key[:SIDE_CHARS] for key in boundaries)


def split_line(line: str, boundaries: frozenset[str]) -> list[str]:
    """A line broken at every space where the words of a page boundary meet."""
    if len(line) < 2 * SIDE_CHARS + 1 or not boundaries:
        return [line]
    ends = _run_ends(boundaries)
    cuts = [0]
    at = line.find(" ", SIDE_CHARS)
    while at >= 0:
        end = line[at - SIDE_CHARS : at]
        if end in ends and end + _JOIN + line[at + 1 : at + 1 + SIDE_CHARS] in boundaries:
            cuts.append(at + 1)
        at = line.find(" ", at + 1)
    if len(cuts) == 1:
        return [line]
    return [line[i:j].strip() for i, j in zip(cuts, [*cuts[1:], len(line)], strict=True)]


def split_blocks(text: str, boundaries: frozenset[str]) -> str:
    """`text` (one paragraph a line) with each line split where page blocks meet in it."""
    return "\n".join(part for line in text.split("\n") for part in split_line(line, boundaries))


# A line break inside a paragraph (a code block's lines), carried through the one-paragraph-a-line
# steps as a private-use character: neither white space nor a word character.
LINE_BREAK = "\ue002"


def code_blocks(body: _Element) -> list[list[str]]:
    """The lines (stripped, blank ones left out) of each outermost code block of trafilatura's
    output tree."""
    blocks = []
    for code in body.iter("code"):
        if next(code.iterancestors("code"), None) is None:
            lines = [line.strip() for line in "".join(code.itertext()).split("\n")]
            if sum(1 for line in lines if line) > 1:
                blocks.append([line for line in lines if line])
    return blocks


def join_code_lines(text: str, blocks: list[list[str]]) -> str:
    """`text` (one paragraph a line) with the lines of each code block joined by `LINE_BREAK`
    where they follow one another: a block of code is one paragraph, not one a line."""
    if not blocks:
        return text
    lines = text.split("\n")
    for block in blocks:
        size = len(block)
        for i in range(len(lines) - size + 1):
            if lines[i : i + size] == block:
                lines[i : i + size] = [LINE_BREAK.join(block)]
                break
    return "\n".join(lines)


def as_paragraphs(text: str) -> str:
    """One paragraph a line made into the record's form: a blank line between paragraphs, a line
    break where `LINE_BREAK` marks one inside a paragraph."""
    return "\n\n".join(line.replace(LINE_BREAK, "\n") for line in text.split("\n") if line)
