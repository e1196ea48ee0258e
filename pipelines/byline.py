"""The article's authors: from the names meta data gives, else from the byline on the page.

Pages mark many bylines (related articles, teasers, comment threads, the author box at the end)
and write them with their date, role and "By": the byline nearest the headline is read by its
smallest marked parts, and each name is cleaned of what is not a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

from lxml.etree import XPath
from lxml.html import HtmlElement

from pipelines.headline import folded

# A byline: marked by rel/itemprop, or an element whose class names an author or a byline. Found
# by its attributes (a third faster than testing every element of the page), in page order.
_BYLINE = XPath(
    '(//@rel[. = "author"] | //@itemprop[. = "author"] | //@class[contains(., "byline")'
    ' or contains(., "author") or contains(., "Author") or contains(., "Byline")])/parent::*'
    "[not(self::meta or self::link or self::script or self::style or self::body or self::html)]"
)
# Readers' names in comment threads are never the article's authors: an element whose class or id
# names comments holds a thread (a "commentary" is an article).
_COMMENTS = re.compile(r"(^|[^a-z])comment(s|list)?([^a-z]|$)", re.IGNORECASE)
# An element's place in page order (its index in `tree.iter()`): the elements, comments and
# processing instructions before it, its ancestors among them. Counted in C for the few elements
# compared, rather than by a walk over the whole page.
_POSITION = XPath(
    "count(preceding::*|preceding::comment()|preceding::processing-instruction())"
    " + count(ancestor::*)"
)
# A byline element holding more text than this is a biography or a teaser, not a byline.
_BYLINE_MAX = 200
# Bylines tried, nearest the headline first, for one that names someone.
_BYLINE_TRIES = 3
_BY = re.compile(r"^\s*(?:(?:written\s+)?by|von|par|por|door|di|da|de)(?::|\s+|$)", re.IGNORECASE)
_ROLE = re.compile(
    r"\b(?:editor|writer|reporter|correspondent|staff|contributor|columnist|journalist|"
    r"author|press|news|reuters|associated|agency|photograph\w*|updated|published)\b",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\||&|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*")


def clean_authors(raw: list[str]) -> tuple[str, ...]:
    """One name per entry: no "By", no roles or agencies, no URLs, no dates, no duplicates, page
    order. A name holds no digit: a byline's time ("2 hours ago", "Jan 5, 2024") is dropped."""
    authors: list[str] = []
    for value in raw:
        for part in _AUTHOR_SPLIT.split(_BY.sub("", " ".join(value.split()))):
            name = _BY.sub("", part).strip(" .-\u2013\u2014:")
            if (
                not name
                or "@" in name
                or "/" in name
                or _ROLE.search(name)
                or len(name.split()) > 4
                or not any(ch.isalpha() for ch in name)
                or any(ch.isdigit() for ch in name)
            ):
                continue
            if name.lower() not in (a.lower() for a in authors):
                authors.append(name)
    return tuple(authors)


def _in_thread(elem: HtmlElement, seen: dict[HtmlElement, bool]) -> bool:
    """True when the element or an ancestor is a comment thread (`_COMMENTS`). The answer for
    each element looked at is kept in `seen`: bylines share their ancestors. (An XPath test of
    the same pattern calls back into Python for every ancestor of every byline.)"""
    path = []
    node: HtmlElement | None = elem
    while node is not None and node not in seen:
        path.append(node)
        node = node.getparent()
    answer = node is not None and seen[node]
    for node in reversed(path):
        answer = (
            answer or _COMMENTS.search(f"{node.get('class', '')} {node.get('id', '')}") is not None
        )
        seen[node] = answer
    return seen[elem]


def _bylines(tree: HtmlElement, headline: HtmlElement | None) -> Iterator[list[str]]:
    """The texts of each byline of the page, nearest the headline first, read by their parts.

    Pages mark many bylines (related articles, teasers, the author box at the end): the one
    nearest the <h1> in page order is the article's; without an <h1>, page order decides. A
    byline is read from the marked elements inside it (a name apart from its date, its role and
    its "By"), together with marked siblings (one link per author), never from a larger block.
    """
    threads: dict[HtmlElement, bool] = {}
    marked = [
        e
        for e in _BYLINE(tree)
        if len(e.text_content()) <= _BYLINE_MAX and not _in_thread(e, threads)
    ]
    nearest = marked
    if headline is not None and len(marked) > 1:
        position = {elem: int(_POSITION(elem)) for elem in (headline, *marked)}
        at = position[headline]
        nearest = sorted(marked, key=lambda e: (abs(position[e] - at), position[e] < at))
    chosen = set(marked)
    for anchor in nearest:
        while (parent := anchor.getparent()) is not None and parent in chosen:
            anchor = parent
        group = [e for e in marked if e is anchor or e.getparent() is anchor.getparent()]
        yield [
            piece
            for top in group
            for leaf in marked
            if (leaf is top or top in leaf.iterancestors())
            and not any(inner in chosen for inner in leaf.iterdescendants())
            for piece in leaf.itertext()
        ]


def authors(tree: HtmlElement, sources: list[list[str]], title: str | None) -> tuple[str, ...]:
    """The names of the first of `sources` (meta data's, best first) that names someone, else of
    the bylines nearest the headline (an author's photo or an empty box is marked as a byline
    too, so a few are tried). Where the first source (JSON-LD, the most deliberate) names only
    an agency or a role, that is the answer: the byline then holds the same agency and a
    dateline, not a person; a generic meta tag ("Staff") leaves the byline its say."""
    for raw in sources:
        if names := clean_authors(raw):
            return names
    if sources and sources[0]:
        return ()
    h1s = [h for h in tree.iter("h1") if title and folded(h.text_content()) == folded(title)]
    headline = h1s[0] if h1s else next(tree.iter("h1"), None)
    for raw in islice(_bylines(tree, headline), _BYLINE_TRIES):
        if names := clean_authors(raw):
            return names
    return ()
