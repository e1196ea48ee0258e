"""Boilerplate filters around trafilatura: by HTML structure first, by the form of a line last.

trafilatura finds the main content well but lets through what sits inside it: the headline and
standfirst repeated as text, copies the browser never shows, photo credits, "Read more" and
related-link lists, labels such as "Comments". These filters remove them in three steps:
`prune_hidden` and `mark_links` prepare the page before trafilatura, `clean_body` drops blocks
of its output tree by what they are made of (links, headline words, position), `clean_lines`
drops lines by their form. Nothing is keyed to a site.
"""

from __future__ import annotations

import re

from lxml.etree import XPath, _Element
from lxml.html import HtmlElement

# Elements of trafilatura's output tree that hold one unit of text.
_BLOCKS = ("p", "head", "item", "quote", "cell")
_WORD = re.compile(r"\w+")
# trafilatura's own link output (include_links) changes what it extracts, so links are marked in
# the page with two private-use characters instead, and the markers are removed from the result.
LINK_START, LINK_END = "\ue000", "\ue001"
_LINKED = re.compile(f"{LINK_START}([^{LINK_START}{LINK_END}]*){LINK_END}")
_MARKERS = re.compile(f"[{LINK_START}{LINK_END}]")

# Lines that are boilerplate by their form alone: credits, e-mail addresses, timestamps,
# navigation and prompts that never belong to an article's text.
_BOILERPLATE_LINE = re.compile(
    r"""^\W*(?:
        (?:photo|image|picture|video|foto|credit|source)s?(?:\s+(?:credit|source)s?)?\s*[:|©].{0,80}
        | (?:image|photo)\s+(?:source|credit)s?\s*,.{0,80}
        | (?:additional\s+)?(?:reporting|writing|editing)\s+by\s+[^.;:!?]{1,60}
          (?:;\s*(?:additional\s+)?(?:reporting|writing|editing)\s+by\s+[^.;:!?]{1,60})+
        | (?:additional\s+)?reporting\s+by\s+(?:\w+\s+){0,3}\w+
        | [\w.&' -]{0,40}\b(?:getty\s+images|shutterstock|istock(?:photo)?)\b[\w.&' /-]{0,40}
        | skip\s+to\s+(?:main\s+)?content
        | (?:more|related)\s+(?:content|stories|articles|news|coverage)
        | (?:read\s+more|see\s+also)\b.{0,120}
        | [\w.+-]+@[\w-]+(?:\.[\w-]+)+
        | \d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?
        | \d*\s*comments?
        | advertisement
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)


# What a browser does not show: hidden attributes, inline display:none / visibility:hidden, and
# the conventional "hidden"/"hide" classes: off-screen copies of titles, dates and teasers.
_MAYBE_HIDDEN = XPath(
    "//body//*[@hidden or @aria-hidden or contains(@style, 'none') or contains(@style, 'hidden')"
    " or contains(@class, 'hid')]"
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HIDDEN_CLASSES = {"hidden", "hide"}


def _is_hidden(elem: _Element) -> bool:
    return (
        elem.get("hidden") is not None
        or elem.get("aria-hidden") == "true"
        or bool(_HIDDEN_STYLE.search(elem.get("style") or ""))
        or not _HIDDEN_CLASSES.isdisjoint((elem.get("class") or "").split())
    )


def words(text: str) -> list[str]:
    """The `\\w+` tokens of a text, the unit the filters (and the benchmark) count in."""
    return _WORD.findall(text)


def _text(elem: _Element) -> str:
    return " ".join("".join(elem.itertext()).split())


def prune_hidden(tree: HtmlElement) -> None:
    """Remove, in place, the elements of the page body a browser would not display."""
    for elem in _MAYBE_HIDDEN(tree):
        if _is_hidden(elem):
            _remove(elem)


def running_text_length(tree: HtmlElement) -> int:
    """Characters in the page's paragraphs of sentence length (80+), a yardstick for the body."""
    lengths = (len(" ".join(p.text_content().split())) for p in tree.iter("p"))
    return sum(n for n in lengths if n >= 80)


def mark_links(tree: HtmlElement) -> None:
    """Wrap the text of every link that points somewhere in the two marker characters."""
    for link in tree.iter("a"):
        if link.get("href") and link.text and link.text.strip():
            link.text = LINK_START + link.text
            link.tail = LINK_END + (link.tail or "")


def strip_markers(text: str) -> str:
    """Remove the link markers `mark_links` put in."""
    return _MARKERS.sub("", text)


def _link_share(text: str) -> float:
    """Share of a text's words that sit inside marked links."""
    total = len(words(text))
    if not total:
        return 0.0
    return sum(len(words(span)) for span in _LINKED.findall(text)) / total


def _normal(text: str) -> str:
    """A text's words, lower-cased and single-spaced: what "the same text" compares."""
    return " ".join(words(text.lower()))


def _repeats(block: list[str], texts: list[str]) -> bool:
    """True when a block says the words of one of `texts`, or (4+ words) a part of one."""
    joined = " ".join(block)
    return bool(block) and any(
        joined == text or (len(block) >= 4 and joined in text) for text in texts
    )


def _remove(elem: _Element) -> None:
    """Remove an element but keep its tail text where it was."""
    parent = elem.getparent()
    if parent is None:
        return
    if elem.tail and elem.tail.strip():
        prev = elem.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + elem.tail
        else:
            parent.text = (parent.text or "") + elem.tail
    parent.remove(elem)


def _is_link_list(elem: _Element) -> bool:
    """A list whose every item is (almost) only a link: related stories, "more on this"."""
    items = elem.findall("item")
    return bool(items) and all(_link_share(_text(item)) >= 0.7 for item in items)


def clean_body(body: _Element, headlines: tuple[str, ...], description: str | None) -> None:
    """Remove, in place, the boilerplate blocks from trafilatura's output tree.

    Dropped: any block that repeats the headline (`headlines`: every form the page gives), a
    heading before the first paragraph that repeats the standfirst (`description`), lists made
    only of links, and short blocks that are mostly a link ("Read more: ...", "Related: ...").
    `mark_links` must have marked the page trafilatura read.
    """
    for lst in list(body.iter("list")):
        if _is_link_list(lst):
            _remove(lst)
    heads = [_normal(headline) for headline in headlines]
    standfirst = [_normal(description)] if description else []
    longest = max((h.count(" ") + 1 for h in heads + standfirst), default=0)
    seen_paragraph = False
    for elem in list(body.iter(*_BLOCKS)):
        if elem.getparent() is None:
            continue
        marked = _text(elem)
        block = words(strip_markers(marked).lower())
        n = len(block)
        if n <= longest and (
            _repeats(block, heads)
            or (elem.tag == "head" and not seen_paragraph and _repeats(block, standfirst))
        ):
            _remove(elem)
            continue
        if n and n <= 25 and _link_share(marked) >= 0.6:
            _remove(elem)
            continue
        if elem.tag == "p" and n >= 10:
            seen_paragraph = True


def clean_lines(text: str) -> str:
    """Drop lines that are boilerplate by their form and blank lines; strip each line and the
    link markers."""
    kept = [line.strip() for line in strip_markers(text).splitlines()]
    kept = [line for line in kept if line and not _BOILERPLATE_LINE.match(line)]
    return "\n".join(kept)
