"""Paragraph boundaries of the page, put back where an extraction ran blocks together.

trafilatura's baseline hands back a JSON-LD body or a whole <article> as one line, and its main
pass flattens the line breaks inside a table cell (old templates separate paragraphs with
<br><br> in one cell). The words are right, the paragraphs are lost. The page knows where each
block began: `block_starts` reads that once, and `split_blocks` breaks a line wherever one of
those beginnings follows a space inside it.
"""

from __future__ import annotations

from lxml.html import HtmlElement

from pipelines.boilerplate import strip_markers

# The elements whose beginning starts a paragraph, and `br`, whose tail does.
_BLOCK_TAGS = (
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dd",
    "dt",
    "pre",
    "blockquote",
    "td",
    "th",
    "figcaption",
    "br",
)
# What ends a sentence or a quotation: a block begins inside a line only after one of these (a
# name that begins a block, a tag or a link, also occurs inside sentences).
_ENDS = frozenset('.!?:;"\u201d\u2019)\u00bb\u2026')
# A block's first characters that identify its beginning; shorter blocks are not looked for
# (a short heading's words may well occur inside a sentence).
START_CHARS = 24


def _single_spaced(text: str | None) -> str:
    return " ".join((text or "").split())


def _opening(elem: HtmlElement) -> str:
    """Enough of an element's text, single-spaced, to hold its first `START_CHARS` characters
    without the link markers; read no further (a layout cell may hold the whole page)."""
    pieces: list[str] = []
    size = 0
    for piece in elem.itertext():
        pieces.append(piece)
        size += len(piece)
        if (
            size > 2 * START_CHARS
            and len(_single_spaced(strip_markers("".join(pieces)))) > START_CHARS
        ):
            break
    return _single_spaced("".join(pieces))


def block_starts(tree: HtmlElement) -> frozenset[str]:
    """The first `START_CHARS` characters (single-spaced) of every block of the page, and of the
    text after every line break; both with the link markers and without them."""
    starts = set()
    for elem in tree.iter(_BLOCK_TAGS):
        text = _single_spaced(elem.tail) if elem.tag == "br" else _opening(elem)
        if len(text) >= START_CHARS:
            starts.add(text[:START_CHARS])
            starts.add(strip_markers(text)[:START_CHARS])
    return frozenset(starts)


def split_line(line: str, starts: frozenset[str]) -> list[str]:
    """A line broken before every page block that begins inside it after the end of a sentence."""
    if len(line) < 2 * START_CHARS or not starts:
        return [line]
    cuts = [0]
    at = line.find(" ", START_CHARS - 1)
    while at >= 0:
        if line[at - 1] in _ENDS and line[at + 1 : at + 1 + START_CHARS] in starts:
            cuts.append(at + 1)
        at = line.find(" ", at + 1)
    if len(cuts) == 1:
        return [line]
    return [line[i:j].strip() for i, j in zip(cuts, [*cuts[1:], len(line)], strict=True)]


def split_blocks(text: str, starts: frozenset[str]) -> str:
    """`text` (one paragraph a line) with each line split where page blocks begin in it."""
    return "\n".join(part for line in text.split("\n") for part in split_line(line, starts))
