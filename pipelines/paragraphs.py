"""Paragraph boundaries of the page, put back where an extraction ran blocks together.

trafilatura's baseline hands back a JSON-LD body or a whole <article> as one line, and its main
pass now and then flattens line breaks (in a table cell, in some posts' <p>). The words are
right, the paragraphs are lost. The page knows where each block ends and the next begins:
`block_boundaries` reads that once, as the words on either side of each boundary, and
`split_blocks` breaks a line wherever those words meet in it.

The other way round, a line break that the page does not show (the source's own, which trafilatura
leaves in a paragraph holding inline code) is a space (`unwrap_source_lines`), and the lines of a
preformatted block stay together, one paragraph for each part between its blank lines
(`code_blocks`, `join_code_lines`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
# Marks a side of a boundary cut short by the start or end of a line.
_EDGE = "\x01"
# Where the extraction dropped a block between two (a linked paragraph, a gallery), the words on
# either side of the gap never met in the page: the end of one run and the start of another, this
# long at least so that a chance match inside a paragraph is rarer still, mark the gap instead.
ALONE_CHARS = 20
_ENDS, _STARTS = "\x02", "\x03"
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
    end, scripts and styles left out; a Python walk over the tree costs three times as much.
    """
    whole = str(_MARK_BREAKS(tree))
    return [run for run in (" ".join(part.split()) for part in whole.split(_RUN)) if run]


def block_boundaries(tree: HtmlElement) -> frozenset[str]:
    """Each boundary between two text runs of the page (`_runs`), as `_boundary_keys` gives it;
    both with the link markers and without them."""
    runs = _runs(tree)
    keys = set(_boundary_keys(runs))
    if any(LINK_START in run for run in runs):
        keys.update(_boundary_keys([run for run in map(strip_markers, runs) if run]))
    return frozenset(keys)


def _boundary_keys(runs: list[str]) -> Iterator[str]:
    """The boundaries between these runs, each as the `SIDE_CHARS` before and after it in the
    runs' text, written as an extraction writes them on one line: a space between runs.

    A short run (a heading, a line of dialogue: "Yes.") so takes its sides from its neighbours,
    and the boundaries on both sides of it are found. Where a short run may begin or end a line of
    the extraction, the run itself is that side, marked as the line's edge (`_EDGE`).
    """
    whole = " ".join(runs)
    at = -1  # where the space after the run before the boundary is, in `whole`
    for before, after in pairwise(runs):
        at += len(before) + 1
        left = whole[max(0, at - SIDE_CHARS) : at]
        right = whole[at + 1 : at + 1 + SIDE_CHARS]
        lefts = (left, _EDGE + before) if len(before) < SIDE_CHARS else (left,)
        rights = (right, after + _EDGE) if len(after) < SIDE_CHARS else (right,)
        yield from (side + _JOIN + other for side in lefts for other in rights)
    for run in runs:
        if len(run) >= ALONE_CHARS:
            yield _ENDS + run[-ALONE_CHARS:]
            yield _STARTS + run[:ALONE_CHARS]


def split_line(line: str, boundaries: frozenset[str]) -> list[str]:
    """A line broken at every space where the words of a page boundary meet."""
    if not boundaries:
        return [line]
    cuts = [0]
    at = line.find(" ")
    while at >= 0:
        left = line[at - SIDE_CHARS : at] if at >= SIDE_CHARS else _EDGE + line[:at]
        end = at + 1 + SIDE_CHARS
        right = line[at + 1 : end] if end <= len(line) else line[at + 1 :] + _EDGE
        if left + _JOIN + right in boundaries or (
            _ENDS + line[at - ALONE_CHARS : at] in boundaries
            and _STARTS + line[at + 1 : at + 1 + ALONE_CHARS] in boundaries
        ):
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
# Output elements of running text, where a line break of the page's source is white space.
_RUNNING = ("p", "head", "item", "cell")
_SOURCE_BREAK = re.compile(r"\s*\n\s*")
# Output elements that may sit in a <pre> that trafilatura makes a quote: links and emphasis.
_INLINE = frozenset({"hi", "ref", "lb"})


def unwrap_source_lines(body: _Element) -> None:
    """Make, in place, each line break of the page's source left in running text a space.

    trafilatura keeps the text of a paragraph that holds inline code as the source has it
    (`the <code>Cow</code> example we used\n      in a previous episode`), and each line of the
    source became a paragraph. Line breaks the page shows are `lb` elements, and code keeps its
    own.
    """
    in_code = {elem for code in body.iter("code") for elem in code.iter()}
    for block in body.iter(*_RUNNING):
        for elem in block.iter():
            if elem.text and "\n" in elem.text and elem not in in_code:
                elem.text = _SOURCE_BREAK.sub(" ", elem.text)
                if elem is block:
                    elem.text = elem.text.lstrip()
            if (
                elem is not block
                and elem.tail
                and "\n" in elem.tail
                and elem.getparent() not in in_code
            ):
                elem.tail = _SOURCE_BREAK.sub(" ", elem.tail)
                if elem.getnext() is None and elem.getparent() is block:
                    elem.tail = elem.tail.rstrip()


def code_blocks(body: _Element) -> list[list[str]]:
    """The lines of each preformatted block of trafilatura's output tree: an outermost code block,
    or a quote of text alone, which is what trafilatura makes of a <pre> it does not take for code
    (a plain-text document, a poem). Lines are stripped; "" stands for the blank lines between two
    of them, which end a paragraph of the block."""
    blocks = []
    for elem in body.iter("code", "quote"):
        if next(elem.iterancestors("code"), None) is not None or (
            elem.tag == "quote" and not _INLINE.issuperset(child.tag for child in elem)
        ):
            continue
        lines = [line.strip() for line in strip_markers("".join(elem.itertext())).split("\n")]
        kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
        if sum(1 for line in kept if line) > 1:
            blocks.append(kept[:-1] if not kept[-1] else kept)
    return blocks


def join_code_lines(text: str, blocks: list[list[str]]) -> str:
    """`text` (one paragraph a line) with the lines of each preformatted block joined by
    `LINE_BREAK` where they follow one another: a block is one paragraph, or one for each part of
    it between blank lines, not one a line."""
    if not blocks:
        return text
    lines = text.split("\n")
    for block in blocks:
        wanted = [line for line in block if line]
        size = len(wanted)
        for i in range(len(lines) - size + 1):
            if lines[i : i + size] == wanted:
                paragraphs = LINE_BREAK.join(block).split(LINE_BREAK * 2)
                lines[i : i + size] = paragraphs
                break
    return "\n".join(lines)


def as_paragraphs(text: str) -> str:
    """One paragraph a line made into the record's form: a blank line between paragraphs, a line
    break where `LINE_BREAK` marks one inside a paragraph."""
    return "\n\n".join(line.replace(LINE_BREAK, "\n") for line in text.split("\n") if line)
