"""Agreement between two extractors: trafilatura's text bounded by readability's reading.

trafilatura sometimes starts before the article (a byline and toolbar run on into the first line)
or runs on past its end (an "About the company" box, a link rail). Readability scores the page's
containers on its own terms and picks one region. Where that region holds most of trafilatura's
text, the two agree on which article it is, and what trafilatura has before the first or after
the last stretch they share is cut off. Paragraphs between are kept: readability drops embeds and
short lines inside an article that trafilatura rightly keeps. Readability here is trafilatura's
fork of readability-lxml, which reads a parsed tree (no second parse) and costs a few ms a page;
`pipelines.article` also takes its region as the fallback where trafilatura finds too little.

Agreement also works the other way, for recall: trafilatura's precision mode now and then drops a
paragraph from the middle of an article (a short block with a link). Where the page has a
paragraph the text lacks between two that it has (`missing_paragraphs`), a second, balanced
extraction is read, and its lines that the page has there are put back (`fill_gaps`).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import cached_property

from lxml.etree import LxmlError, strip_elements
from lxml.html import HtmlElement, fromstring
from lxml.html.defs import block_tags
from trafilatura.readability_lxml import Document

from pipelines.boilerplate import (
    clean_lines,
    is_link_text,
    normal,
    strip_markers,
    word_spans,
    words,
)

# Readability's region must hold this share of trafilatura's 4-word shingles, and this share of
# its word count, to count as agreeing on the article; otherwise it read a different page part.
AGREEMENT_SHARE = 0.7
LENGTH_SHARE = 0.5
SHINGLE = 4
# Elements whose end is a line break in readability's text (HTML's block elements, line breaks
# and sectioning elements), so words on either side do not run together.
_BLOCKS = block_tags | {"br", "article", "section", "header", "figure"}

# A paragraph of the page at least this many words long, that ends like a sentence and that the
# text lacks between two that it has, is a gap in the article.
GAP_WORDS = 8
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019]?$")
# A line of prose (`prose_chars`) is this long at least, and ends like a sentence in any script.
PROSE_CHARS = 50
_PROSE_END = re.compile(r"[.!?\u3002\uff01\uff1f][\"'\u201d\u2019\u300d\u300f)]?$")

# Elements whose text is code, not prose.
_NOT_PROSE = ("script", "style")
_HEADINGS = ("h2", "h3", "h4", "h5", "h6")
_NEVER_ARTICLE = ("script", "style", "noscript", "svg", "nav", "footer", "aside", "form", "iframe")

Shingle = tuple[str, ...]
_SPACE = re.compile(r"\s")
_WORD_CHAR = re.compile(r"\w")


def readability_region(tree: HtmlElement) -> HtmlElement | None:
    """Readability's main-content region of the page, None when it finds none.

    Readability prunes the tree it reads, so this is the tree's last reader. Parts that are never
    the article (navigation, asides, forms, scripts) are removed first: a third less work.
    """
    strip_elements(tree, *_NEVER_ARTICLE, with_tail=False)
    try:
        return fromstring(Document(tree).summary())
    except (LxmlError, ValueError, TypeError):
        return None


def region_text(region: HtmlElement | None) -> str:
    """The text of a readability region, a line break after every block; "" for None."""
    if region is None:
        return ""
    for elem in region.iter():
        if elem.tag in _BLOCKS:
            elem.tail = "\n" + (elem.tail or "")
    return "".join(region.itertext())


def _shingles(tokens: list[str]) -> zip[Shingle]:
    return zip(*(tokens[i:] for i in range(SHINGLE)), strict=False)


def _words(text: str) -> list[str]:
    return words(text.lower())


def _plain(text: str) -> str:
    """A text lower-cased and single-spaced, the form `_Reading.find` looks for; its words are
    `_words(text)`, white space being no word. A text without line breaks or double spaces is
    taken as it is, which is quicker: rarer white space left in it only makes it found less often.
    """
    lower = text.lower().strip()
    return lower if "  " not in lower and "\n" not in lower else " ".join(lower.split())


def _is_word_at(text: str, at: int) -> bool:
    return 0 <= at < len(text) and _WORD_CHAR.match(text, at) is not None


class _Reading:
    """The second reading's words, each form built only when a cheaper one cannot tell: its text
    lower-cased (`lower`), where most lines are found whole; a spaced string of its words, to
    find a line's words in order; and the set of its shingles.

    Any white space in `lower` will do, but a line is found only where it is single spaces.
    """

    def __init__(self, lower: str) -> None:
        self._lower = lower

    @cached_property
    def tokens(self) -> list[str]:
        return words(self._lower)

    @cached_property
    def _joined(self) -> str:
        return f" {' '.join(self.tokens)} "

    def find(self, plain: str, start: int = 0) -> int:
        """Where a plain text (`_plain`) with words ends in the reading, found whole from `start`
        on and not inside a longer word: then the reading `holds` its words. -1 when it is not so
        found, which tells nothing."""
        at = self._lower.find(plain, start)
        end = at + len(plain)
        found = (
            at >= 0
            and _WORD_CHAR.search(plain) is not None
            and not (_is_word_at(plain, 0) and _is_word_at(self._lower, at - 1))
            and not (_is_word_at(plain, len(plain) - 1) and _is_word_at(self._lower, end))
        )
        return end if found else -1

    def holds(self, tokens: list[str]) -> bool:
        """True when these words appear in the reading, in order and next to each other. Before
        the reading is split into words, a word missing from its text settles it."""
        if not tokens or (
            not self.has_tokens and not all(token in self._lower for token in tokens)
        ):
            return False
        return f" {' '.join(tokens)} " in self._joined

    @cached_property
    def shingles(self) -> set[Shingle]:
        return set(_shingles(self.tokens))

    # `cached_property` keeps a form, once built, in the instance's dict under its own name.
    @property
    def has_tokens(self) -> bool:
        return "tokens" in self.__dict__

    @property
    def has_shingles(self) -> bool:
        return "shingles" in self.__dict__


def _agrees(line: str, other: _Reading) -> bool:
    """True when a line shares a shingle with the other reading, or (too short for one) its
    words appear there in order."""
    plain = _plain(line)
    if other.find(plain) >= 0:
        return True
    tokens = words(plain)
    if other.holds(tokens):
        return True
    return len(tokens) >= SHINGLE and not other.shingles.isdisjoint(_shingles(tokens))


def _shared_span(line: str, other: _Reading) -> tuple[int, int]:
    """Where a line's first shingle found in the other reading begins and its last one ends,
    widened to whitespace so quotes and final punctuation stay; the whole line when it has none."""
    spans = [match.span() for match in word_spans(line)]
    tokens = [line[start:end].lower() for start, end in spans]
    if len(tokens) < SHINGLE:
        return 0, len(line)
    plain = _plain(line)
    # Words lower-cased one by one can differ from the lower-cased line's (a final sigma).
    if (other.find(plain) >= 0 and words(plain) == tokens) or other.holds(tokens):
        start, end = spans[0][0], spans[-1][1]
    else:
        hits = [i for i, shingle in enumerate(_shingles(tokens)) if shingle in other.shingles]
        if not hits:
            return 0, len(line)
        start, end = spans[hits[0]][0], spans[hits[-1] + SHINGLE - 1][1]
    after = _SPACE.search(line, end)
    return line.rfind(" ", 0, start) + 1, after.start() if after else len(line)


def _agree(text: str, other: _Reading) -> bool:
    """True when the other reading holds half the text's length and `AGREEMENT_SHARE` of its
    shingles: then both read the same article. Until the other reading has its shingles built,
    the text's lines it has whole may show it without them (`_agree_by_lines`)."""
    if not other.has_shingles and _agree_by_lines(text.split("\n"), other):
        return True
    tokens = _words(text)
    if len(tokens) < SHINGLE or len(other.tokens) < LENGTH_SHARE * len(tokens):
        return False
    found = sum(map(other.shingles.__contains__, _shingles(tokens)))
    return found >= AGREEMENT_SHARE * (len(tokens) - SHINGLE + 1)


def _agree_by_lines(lines: list[str], other: _Reading) -> bool:
    """True when `_agree` is for the text of these lines, as shown by the lines that the other
    reading has whole, one after another: their words and the shingles inside them are the other
    reading's too. Needs neither its words nor its shingles; False tells nothing."""
    total = held = inside = end = 0
    for line in lines:
        plain = _plain(line)
        count = len(words(plain))
        total += count
        found = other.find(plain, end)
        if found >= 0:
            held += count
            inside += max(0, count - SHINGLE + 1)
            end = found
    return (
        total >= SHINGLE
        and held >= LENGTH_SHARE * total
        and inside >= AGREEMENT_SHARE * (total - SHINGLE + 1)
    )


def bound_by(text: str, other: str) -> str:
    """`text` (one paragraph a line) cut to the stretch it shares with `other`, a second reading.

    Unchanged when `other` does not agree on the article: shorter than half of `text`, or holding
    less than `AGREEMENT_SHARE` of its shingles. Otherwise the lines before the first and after the
    last line `other` shares are dropped, and those two lines are cut at the first and last
    shingle they share, which removes a page header or footer run on into a paragraph. The cut is
    found first: when there is nothing to cut, agreement need not be measured.
    """
    reading = _Reading(_plain(other))
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if _agrees(line, reading)), None)
    if first is None:
        return text
    last = next(i for i in reversed(range(len(lines))) if _agrees(lines[i], reading))
    kept = lines[first : last + 1]
    kept[0] = kept[0][_shared_span(kept[0], reading)[0] :]
    kept[-1] = kept[-1][: _shared_span(kept[-1], reading)[1]]
    bounded = "\n".join(kept)
    if bounded == text or not _agree(text, reading):
        return text
    return bounded


def holds(text: str, other: str) -> bool:
    """True when `other` holds `text`: half its length and `AGREEMENT_SHARE` of its shingles."""
    return _agree(text, _Reading(_plain(other)))


def grown_stretch(text: str, core: str, wider: str) -> str:
    """The lines of `text` (one paragraph a line) from the first to the last that `core` shares,
    grown line by line at either end while `wider` shares the next line; "" when `core` shares
    none.

    A fallback that reads the whole page (comments, share buttons, teasers) is so held to the
    article a first pass found, widened by what a second reading of the article has next to it;
    a line neither has (a share button, a "Related" heading) ends the article there.
    """
    lines = text.split("\n")
    inner, outer = _Reading(_plain(core)), _Reading(_plain(wider))
    shared = [i for i, line in enumerate(lines) if _has_line(line, inner)]
    if not shared:
        return ""
    first, last = shared[0], shared[-1]
    while first > 0 and _has_line(lines[first - 1], outer):
        first -= 1
    while last + 1 < len(lines) and _has_line(lines[last + 1], outer):
        last += 1
    return "\n".join(lines[first : last + 1])


def _has_line(line: str, other: _Reading) -> bool:
    """True when the other reading has the line: whole, or most of its shingles."""
    plain = _plain(line)
    if other.find(plain) >= 0:
        return True
    tokens = words(plain)
    if len(tokens) < SHINGLE:
        return other.holds(tokens)
    found = sum(map(other.shingles.__contains__, _shingles(tokens)))
    return found >= LENGTH_SHARE * (len(tokens) - SHINGLE + 1)


def prose_chars(text: str) -> int:
    """Characters of `text` in prose lines: `PROSE_CHARS` or more that end like a sentence (in
    any script). Menus, teasers, captions and credits have few; an article has most."""
    return sum(
        len(line)
        for line in text.split("\n")
        if len(line) >= PROSE_CHARS and _PROSE_END.search(line.rstrip())
    )


def prose_lines(text: str) -> int:
    """Lines of `text` that `prose_chars` counts."""
    return sum(
        1
        for line in text.split("\n")
        if len(line) >= PROSE_CHARS and _PROSE_END.search(line.rstrip())
    )


def missing_paragraphs(tree: HtmlElement, text: str) -> list[str]:
    """The page's paragraphs of prose that `text` lacks between the first and the last it has.

    Prose here is a paragraph of `GAP_WORDS` or more that ends like a sentence, outside figures
    and captions, neither mostly link (`mark_links` must have marked the page) nor boilerplate
    by its form. Each comes as its words, lower-cased and single-spaced. A gap is the sign that
    the extraction dropped part of the article; empty when there is none.
    """
    # Paragraphs are found in its lines, which trafilatura writes single-spaced.
    reading = _Reading(strip_markers(text).lower())
    paragraphs: list[tuple[bool, str, HtmlElement]] = []
    end = 0  # the text has them in page order, mostly: each is looked for after the last
    for paragraph in tree.iter("p"):
        if next(paragraph.iter(*_NOT_PROSE), None) is not None:
            continue
        plain = _plain(strip_markers(paragraph.text_content()))
        found = reading.find(plain, end)
        end = found if found >= 0 else end
        paragraphs.append((found >= 0 or reading.holds(words(plain)), plain, paragraph))
    held = [i for i, (holds, _, _) in enumerate(paragraphs) if holds]
    if not held:
        return []
    gaps = []
    for holds, plain, paragraph in paragraphs[held[0] : held[-1]]:
        tokens = [] if holds else words(plain)
        if len(tokens) >= GAP_WORDS and _is_prose(paragraph):
            gaps.append(" ".join(tokens))
    return gaps


def _is_prose(paragraph: HtmlElement) -> bool:
    """A paragraph outside figures that ends like a sentence and that the filters would keep."""
    marked = " ".join(paragraph.text_content().split())
    plain = strip_markers(marked)
    return (
        next(paragraph.iterancestors("figure", "figcaption"), None) is None
        and _SENTENCE_END.search(plain) is not None
        and not is_link_text(marked)
        and bool(clean_lines(plain))
    )


def fill_gaps(text: str, other: str, missing: list[str]) -> str:
    """`text` (one paragraph a line) with lines of `other`, a second extraction, put back.

    A line of `other` is put back where `other` has it between two lines that `text` keeps (never
    before the first or after the last), and only when it is one of the `missing` paragraphs (from
    `missing_paragraphs`), or part of one: the page has it there too.
    """
    lines, others = text.split("\n"), other.split("\n")
    gaps = f" {' | '.join(missing)} "
    matcher = SequenceMatcher(
        None, list(map(normal, lines)), list(map(normal, others)), autojunk=False
    )
    inserts: dict[int, list[str]] = {}
    for op, i1, _, j1, j2 in matcher.get_opcodes():
        if op == "insert" and 0 < i1 < len(lines):
            inserts[i1] = [line for line in others[j1:j2] if f" {normal(line)} " in gaps]
    return "\n".join(line for i, kept in enumerate(lines) for line in (*inserts.get(i, ()), kept))


def region_blocks(region: HtmlElement | None) -> list[tuple[bool, str]]:
    """The paragraphs and headings (h2 to h6) of a readability region in page order, each as
    (True for a heading, its text single-spaced with the link markers); [] for None or a region
    without headings. Read before the region is converted for the fallback, which renames its
    headings."""
    elems = [] if region is None else list(region.iter("p", *_HEADINGS))
    if all(elem.tag == "p" for elem in elems):
        return []
    return [(elem.tag != "p", " ".join(elem.text_content().split())) for elem in elems]


def put_back_headings(
    text: str, blocks: list[tuple[bool, str]], headlines: tuple[str, ...], authors: tuple[str, ...]
) -> str:
    """`text` (one paragraph a line) with the headings of readability's region (`region_blocks`)
    that it lacks between two paragraphs that it keeps put back, each before the paragraph that
    follows it in the region.

    trafilatura drops a subheading now and then (on a page it reads with its recovery pass, at the
    start of a block it reads alone); readability's region vouches for the heading being the
    article's, and the paragraphs around it for its place. A heading whose next paragraph the
    text lacks headed a box that it drops (a newsletter sign-up); one that repeats a headline,
    names an author (a byline), is mostly link or is boilerplate by its form stays out too.
    """
    lines = text.split("\n")
    present = set(lines)
    heads = {normal(headline) for headline in headlines}
    names = [name.lower() for name in authors]
    lost = {
        i
        for i, (heading, marked) in enumerate(blocks)
        if heading
        and (plain := strip_markers(marked)) not in present
        and normal(plain) not in heads
        and not any(name in plain.lower() for name in names)
        and not is_link_text(marked)
        and clean_lines(plain)
    }
    if not lost:
        return text
    last = max(lost)
    reading = _Reading(_plain(text))
    starts = [normal(line) for line in lines]
    inserts: dict[int, list[str]] = {}
    pending: list[str] = []
    seen_kept = False
    at = 0  # the line from which the next kept paragraph is looked for
    for i, (heading, marked) in enumerate(blocks):
        if i > last and not pending:
            break
        plain = strip_markers(marked)
        if heading:
            if seen_kept and i in lost and normal(plain) not in starts:
                pending.append(plain)
            continue
        tokens = _words(plain)
        if not (reading.find(_plain(plain)) >= 0 or reading.holds(tokens)):
            # the heading's own paragraph is gone: it headed a box the text rightly drops
            pending = [] if tokens else pending
            continue
        if len(tokens) < GAP_WORDS:
            continue
        seen_kept = True
        if pending:
            first = " ".join(tokens[:GAP_WORDS])
            line = next((n for n in range(at, len(lines)) if starts[n].startswith(first)), None)
            if line is not None:
                inserts.setdefault(line, []).extend(pending)
                at = line
        pending = []
    return "\n".join(line for i, kept in enumerate(lines) for line in (*inserts.get(i, ()), kept))
