"""Boilerplate filters around trafilatura: by HTML structure first, by the form of a line last.

trafilatura finds the main content well but lets through what sits inside it: the headline and
standfirst repeated as text, copies the browser never shows, promotion boxes, photo and agency
credits, "Read more" and related-link lists, calls to follow or subscribe, labels such as
"Comments". `prune_page` and `mark_links` prepare the page before trafilatura, `clean_body` drops
blocks (and lines between line breaks) of its output tree by what they are made of (links,
headline words, position), `clean_lines` drops lines by their form and `drop_page_header` cuts
the page header off a run-on first line. Nothing is keyed to a site.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml.etree import XPath, _Element
from lxml.html import HtmlElement
from trafilatura.settings import CUT_EMPTY_ELEMS

# Elements of trafilatura's output tree that hold one unit of text.
_BLOCKS = ("p", "head", "item", "quote", "cell")
_WORD = re.compile(r"\w+")
# trafilatura's own link output (include_links) changes what it extracts, so links are marked in
# the page with two private-use characters instead, and the markers are removed from the result.
LINK_START, LINK_END = "\ue000", "\ue001"
_LINKED = re.compile(f"{LINK_START}([^{LINK_START}{LINK_END}]*){LINK_END}")
_URL = re.compile(r"(?:https?://|www\.)\S+$", re.IGNORECASE)


def _line_form(forms: str) -> re.Pattern[str]:
    """A verbose pattern for a whole line that is one of `forms` amid non-word characters."""
    return re.compile(r"^\W*(?:" + forms + r")\W*$", re.VERBOSE)


# Lines that are boilerplate by their form alone: credits, e-mail addresses, timestamps,
# navigation and prompts that never belong to an article's text. The line patterns below are
# matched against the lower-cased line (faster than a case-blind match).
_BOILERPLATE_LINE = _line_form(
    r"""(?:photo|image|picture|video|foto|credit|source)s?(?:\s+(?:credit|source)s?)?\s*[:|©].{0,80}
    | (?:image|photo)\s+(?:source|credit)s?\s*,.{0,80}
    | (?:additional\s+)?(?:reporting|writing|editing)\s+by\s+[^.!?]{1,300}
      (?:reporting|writing|editing)\s+by\s+[^.!?]{1,100}
    | \(\s*(?:additional\s+)?(?:reporting|writing|editing)\s+by\s+[^.!?()]{1,300}\.?\s*\)
    | (?:additional\s+)?reporting\s+by\s+(?:\w+\s+){0,3}\w+
    | contributing\s*:.{1,100}
    | skip\s+to\s+(?:main\s+)?content
    | (?:more|related)\s+(?:content|stories|articles|news|coverage)
    | (?:read\s+more|see\s+also)\b.{0,120}
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+
    | \d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:z|[+-]\d{2}:?\d{2})?)?
    | \d*\s*comments?
    | advertisement"""
)
# Forms that scan a long stretch of the line for a word, each after a word it needs: a line
# without that word cannot match, and most lines are spared the scan, most of the patterns' cost.
_CONTRIBUTED = _line_form(
    r"""[^.!?]{1,300}\bcontributed\s+(?:reporting|to\s+this\s+(?:report|story|article))
    [^.!?]{0,80}"""
)
_PICTURE_AGENCY = _line_form(
    r"[\w.&' -]{0,40}\b(?:getty\s+images|shutterstock|istock(?:photo)?)\b[\w.&' /-]{0,40}"
)
_WORD_FORMS = (
    (("contributed",), _CONTRIBUTED),
    (("getty", "shutterstock", "istock"), _PICTURE_AGENCY),
)

# A call to action (`_is_prompt`) pairs an action asked of the reader with a channel to do it on.
_PROMPT_WORDS = 60
# Substrings every action has, a cheap test before the patterns.
_PROMPT_HINTS = ("subscri", "sign", "click", "follow", "mail", "contact", "join", "reached", "tip")
_PROMPT_ACTION = re.compile(
    r"""\bsubscri(?:be|bing)\b|\bsign(?:ing)?\s+up\b|\bclick\s+here\b
    | ^\W*(?:follow|e-?mail|contact|join)\b|\bfollow\s+(?:us|him|her|them)\b
    | \bmay\s+be\s+reached\b|\bhave\s+a\s+tip\b""",
    re.VERBOSE,
)
# Substrings every channel has, a cheap test before the pattern.
_CHANNEL_HINTS = (
    "@",
    "http",
    "www.",
    "twitter",
    "facebook",
    "instagram",
    "youtube",
    "linkedin",
    "whatsapp",
    "telegram",
    "newsletter",
    "inbox",
)
_PROMPT_CHANNEL = re.compile(
    r"""[\w.+-]+@[\w-]+\.[\w.-]+ | (?<![\w@])@\w{2,} | \bhttps?://|\bwww\.
    | \b(?:twitter|facebook|instagram|youtube|linkedin|whatsapp|telegram|newsletters?|inbox)\b""",
    re.VERBOSE,
)

# What a browser does not show: hidden attributes, inline display:none / visibility:hidden, and
# the conventional "hidden"/"hide" classes: off-screen copies of titles, dates and teasers.
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HIDDEN_CLASSES = {"hidden", "hide"}

# Class words that name a promotion of the outlet's, as whole words of a class name.
_PROMOTION_NAME = re.compile(
    r"(?<![a-z])(?:cta|promo(?:tion)?s?|subscri(?:be|ption)s?|paywall|trending|notification"
    r"|estimated-read-time|read-time)(?![a-z])",
    re.IGNORECASE,
)
_PROMOTION_SHARE = 0.3
# The elements worth a look for `prune_page`: cheap supersets of hidden ones and of promotions
# (promotions are looked for among blocks and paragraphs only, which keeps the query fast). An
# attribute's value is looked into only where the element has the attribute.
_MAYBE_HIDDEN = XPath(
    "//body/descendant::*[@hidden or @aria-hidden or @style[contains(., 'none')"
    " or contains(., 'hidden')] or @class[contains(., 'hid')]]"
)
_PROMOTION_TEST = " or ".join(
    f"contains(., '{word}')"
    for word in ("cta", "promo", "subscri", "paywall", "trending", "notification", "read-time")
)
_MAYBE_PROMOTION = XPath(f"//div[@class[{_PROMOTION_TEST}]] | //p[@class[{_PROMOTION_TEST}]]")
# Elements that, empty before text, are removed with the text kept: those trafilatura's precision
# mode deletes with the text after them, and links (a permalink icon before a heading's words,
# which its link-density test, counting no link text, takes for a link farm).
_EMPTY_BEFORE_TEXT = (*CUT_EMPTY_ELEMS, "a")
# A table cell of data is shorter than this many words; a longer one is a layout's text cell.
_DATA_WORDS = 40
# A ruby's reading (<rt>) and the brackets around it for browsers without ruby (<rp>): shown
# above the words, never in the line, they would run into the words in the text.
_RUBY_ANNOTATIONS = ("rt", "rp")
# A block that holds this share of a headline's words, in a row, repeats the headline.
_REPEAT_SHARE = 2 / 3
# A paragraph of running text (`running_text_length`) is this many characters long at least.
_RUNNING_CHARS = 80
# How far into a text's first line the page header (`drop_page_header`) may reach, in characters.
_LEAD_CHARS = 200


def _is_hidden(elem: _Element) -> bool:
    return (
        elem.get("hidden") is not None
        or elem.get("aria-hidden") == "true"
        or bool(_HIDDEN_STYLE.search(elem.get("style") or ""))
        or not _HIDDEN_CLASSES.isdisjoint((elem.get("class") or "").split())
    )


def _is_empty_before_text(elem: _Element) -> bool:
    """An element without content (white space at most) that text follows, such as a spacer
    before a heading's words."""
    return (
        not len(elem)
        and not (elem.text and elem.text.strip())
        and bool(elem.tail and elem.tail.strip())
    )


def words(text: str) -> list[str]:
    """The `\\w+` tokens of a text, the unit the filters (and the benchmark) count in.

    A chunk between white space that `str.isalnum` accepts (the same characters as `\\w`, bar
    "_") is one token, found faster so than by the pattern, which reads only the other chunks.
    """
    found: list[str] = []
    for chunk in text.split():
        if chunk.isalnum():
            found.append(chunk)
        else:
            found.extend(_WORD.findall(chunk))
    return found


def word_spans(text: str) -> Iterator[re.Match[str]]:
    """The `\\w+` tokens of a text as matches, for callers that cut the text where a word is."""
    return _WORD.finditer(text)


def _text(elem: _Element) -> str:
    """An element's text as it is: the filters that read it count words, not white space."""
    return "".join(elem.itertext())


def prune_page(tree: HtmlElement) -> int:
    """Remove, in place, what a reader never takes for the article; return the running text left.

    Removed: elements of the body a browser would not display, empty elements followed by text
    (trafilatura's precision mode deletes those with the text that follows them, often the start
    of a heading or paragraph, or the whole heading after an empty permalink; removed here, the
    text stays), then parts whose class names them
    a promotion of the outlet's (calls to action, subscription and paywall boxes, trending rails,
    notification bars, reading-time notes), which sit inside the article container where
    trafilatura keeps them. A promotion holding a large share of the page's running text is kept:
    some sites put the whole article in a "paywall" container. Returns `running_text_length` of
    the page without its hidden parts, the yardstick for the body.
    """
    for elem in _MAYBE_HIDDEN(tree):
        if _is_hidden(elem):
            _remove(elem)
    for elem in [e for e in tree.iter(*_EMPTY_BEFORE_TEXT) if _is_empty_before_text(e)]:
        _remove(elem)
    for elem in list(tree.iter(_RUBY_ANNOTATIONS)):
        _remove(elem)
    running = running_text_length(tree)
    for elem in _MAYBE_PROMOTION(tree):
        if (
            _PROMOTION_NAME.search(elem.get("class", ""))
            and running_text_length(elem) < _PROMOTION_SHARE * running
        ):
            _remove(elem)
    return running


def running_text_length(tree: HtmlElement) -> int:
    """Characters in the page's paragraphs of sentence length (80+), a yardstick for the body.

    White space made single only shortens a text: one shorter than that as it is is not counted
    without being made so."""
    texts = (p.text_content() for p in tree.iter("p"))
    lengths = (len(" ".join(text.split())) for text in texts if len(text) >= _RUNNING_CHARS)
    return sum(n for n in lengths if n >= _RUNNING_CHARS)


def mark_links(tree: HtmlElement) -> None:
    """Wrap the text of every link that points somewhere in the two marker characters.

    A link that shows its own address is the author citing it, not a teaser, and is not marked.
    """
    for link in tree.iter("a"):
        if not link.get("href"):
            continue
        text = link.text
        label = (text if text and text.strip() else link.text_content()).strip()
        if label and not _URL.match(label):
            link.text = LINK_START + (text or "")
            link.tail = LINK_END + (link.tail or "")


def strip_markers(text: str) -> str:
    """Remove the link markers `mark_links` put in."""
    return text.replace(LINK_START, "").replace(LINK_END, "")


def _link_share(text: str) -> float:
    """Share of a text's words that sit inside marked links (0 at once for a text without).

    The text is split at its links (every other part is a link's text), each part's words
    counted once: a marker is no word character, so no word spans two parts.
    """
    if LINK_START not in text:
        return 0.0
    counts = [len(words(part)) for part in _LINKED.split(text)]
    total = sum(counts)
    if not total:
        return 0.0
    return sum(counts[1::2]) / total


def normal(text: str) -> str:
    """A text's words, lower-cased and single-spaced: what "the same text" compares."""
    return " ".join(words(text.lower()))


def _repeats(block: list[str], texts: list[str]) -> bool:
    """True when a block says the words of one of `texts`, or (4+ words) most of one.

    A block that repeats only a phrase of the headline is article text the headline quotes.
    """
    joined = " ".join(block)
    return bool(block) and any(
        joined == text
        or (
            len(block) >= 4
            and len(block) >= _REPEAT_SHARE * (text.count(" ") + 1)
            and joined in text
        )
        for text in texts
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


def is_link_text(text: str) -> bool:
    """Text that is mostly link: short and mostly linked ("Related: ..."), or all link.

    Links count only where `mark_links` marked them.
    """
    share = _link_share(text)
    return share >= 0.9 or (share >= 0.6 and len(words(text)) <= 25)


def _drop_link_lines(elem: _Element) -> None:
    """Empty, in place, the lines of a block split by line breaks that are mostly link.

    Teaser lists are often one paragraph of links separated by <br>; each line is judged alone.
    Only blocks made of text and line breaks are split; emptied lines vanish in `clean_lines`.
    """
    breaks = list(elem)
    if not breaks or any(child.tag != "lb" for child in breaks):
        return
    if elem.text and is_link_text(elem.text):
        elem.text = ""
    for lb in breaks:
        if lb.tail and is_link_text(lb.tail):
            lb.tail = ""


def _among_content(elem: _Element, seen: dict[_Element, bool]) -> bool:
    """A linked table cell or list item beside one that is not mostly link: a film title in a
    row of data, a linked entry in a list of facts. A row or list made only of links is
    navigation, and so is a linked cell beside a whole text (a layout table's menu cell). The
    answer is the same for every child of a row or list, kept in `seen`."""
    parent = elem.getparent()
    if elem.tag not in ("cell", "item") or parent is None:
        return False
    if parent not in seen:
        texts = [_text(child) for child in parent.iterchildren(elem.tag)]
        seen[parent] = not (
            elem.tag == "cell" and any(len(words(text)) > _DATA_WORDS for text in texts)
        ) and any(text.strip() and not is_link_text(text) for text in texts)
    return seen[parent]


def clean_body(body: _Element, headlines: tuple[str, ...]) -> None:
    """Remove, in place, the boilerplate blocks from trafilatura's output tree.

    Dropped: any block that repeats the headline (`headlines`: every form the page gives), lists
    made only of links, and short blocks that are mostly a link ("Read more: ...", "Related:
    ..."), bar a linked cell or item among others that are not (`_among_content`). A standfirst
    or first sentence that the meta description repeats is the article's lead and stays.
    `mark_links` must have marked the page trafilatura read.
    """
    for lst in list(body.iter("list")):
        if _is_link_list(lst):
            _remove(lst)
    heads = [normal(headline) for headline in headlines]
    longest = max((h.count(" ") + 1 for h in heads), default=0)
    # A block of this many words cannot repeat a headline.
    enough = longest + 1
    among_content: dict[_Element, bool] = {}
    for elem in list(body.iter(*_BLOCKS)):
        if elem.getparent() is None:
            continue
        marked = _text(elem)
        lower = marked.lower()  # link markers are no word characters
        # Each chunk of letters and digits alone is one word; with enough of them the block need
        # not be split into words.
        many = sum(map(str.isalnum, lower.split())) >= enough
        block = [] if many else words(lower)
        if (not many and len(block) <= longest and _repeats(block, heads)) or (
            is_link_text(marked) and not _among_content(elem, among_content)
        ):
            _remove(elem)
            continue
        _drop_link_lines(elem)


def _is_prompt(lower: str) -> bool:
    """A short paragraph (lower-cased) that asks the reader to act on a channel of the outlet's.

    "Follow us on Twitter", "Subscribe to our newsletter", "Email the author at ...": an action
    and a channel together mark it; either alone can be part of the news.
    """
    return (
        any(hint in lower for hint in _PROMPT_HINTS)
        and any(hint in lower for hint in _CHANNEL_HINTS)
        and len(words(lower)) <= _PROMPT_WORDS
        and _PROMPT_ACTION.search(lower) is not None
        and _PROMPT_CHANNEL.search(lower) is not None
    )


def _phrase_end(text: str, phrase: str, start: int) -> int:
    """Where `phrase` (word for word) ends in `text` if it begins within `_LEAD_CHARS` of
    `start`, else -1."""
    pattern = r"\W+".join(re.escape(word) for word in words(phrase))
    found = re.compile(pattern, re.IGNORECASE).search(text, start) if pattern else None
    return found.end() if found and found.start() - start <= _LEAD_CHARS else -1


def drop_page_header(text: str, headlines: tuple[str, ...]) -> str:
    """Cut the page header off a text whose first line runs on from the page's top.

    A whole-container text starts with what precedes the article in the page: section, byline,
    date, then the headline. The first line is cut after the headline when it appears near its
    start. What follows it stays, even where the meta description repeats it: the standfirst or
    the first sentence is the article's lead.
    """
    first, newline, rest = text.partition("\n")
    cut = max((_phrase_end(first, headline, 0) for headline in headlines), default=-1)
    if cut < 0:
        return text
    return first[cut:].lstrip(" .,;:!?|-\u2013\u2014") + newline + rest


def _is_boilerplate(line: str) -> bool:
    lower = line.lower()
    if _BOILERPLATE_LINE.match(lower) is not None:
        return True
    for needed, form in _WORD_FORMS:
        if any(word in lower for word in needed) and form.match(lower) is not None:
            return True
    return _is_prompt(lower)


def clean_lines(text: str) -> str:
    """Drop lines that are boilerplate by their form and blank lines; strip each line and the
    link markers."""
    kept = [line.strip() for line in strip_markers(text).splitlines()]
    return "\n".join(line for line in kept if line and not _is_boilerplate(line))
