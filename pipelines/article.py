"""Pure article extraction: HTML bytes or text in, clean text and metadata out.

`extract_article` is the one function the crawl uses; it imports no Scrapy and keeps no state, so
it can run in a process pool and be tested without a crawl. The page is parsed once; trafilatura
picks the main content, `pipelines.boilerplate` removes what trafilatura lets through and
`pipelines.metadata` reads title, authors, dates and the rest from the same tree.
"""

from __future__ import annotations

from copy import copy
from dataclasses import fields

from lxml.etree import _Element
from lxml.html import HtmlElement
from trafilatura.baseline import baseline
from trafilatura.core import _forum_thread_page, trafilatura_sequence
from trafilatura.external import sanitize_tree
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor
from trafilatura.utils import load_html
from trafilatura.xml import xmltotxt
from trafilatura.xpaths import (
    RAW_TREE_PRUNE_XPATH,
    REMOVE_COMMENTS_AND_LISTS_XPATH,
    REMOVE_COMMENTS_XPATH,
)

from archive.controls import strip_tree_controls
from pipelines.agreement import (
    bound_by,
    fill_gaps,
    grown_stretch,
    holds,
    missing_paragraphs,
    prose_chars,
    prose_lines,
    put_back_headings,
    readability_region,
    region_blocks,
    region_text,
)
from pipelines.boilerplate import (
    clean_body,
    clean_lines,
    drop_page_header,
    mark_links,
    prune_page,
)
from pipelines.charset import decode_html
from pipelines.extracted import Article, Metadata
from pipelines.metadata import PageMetadata, read_metadata
from pipelines.paragraphs import (
    as_paragraphs,
    block_boundaries,
    code_blocks,
    join_code_lines,
    split_blocks,
    split_line,
    unwrap_source_lines,
)

__all__ = ["Article", "decode_html", "extract_article"]

# Below this share of the page's running text, the first extraction gets a second opinion.
SECOND_OPINION_SHARE = 0.45
# Readability's region replaces trafilatura's text when it is more than this many times longer,
# trafilatura's own rule for its readability fallback.
RESCUE_FACTOR = 2
# A first pass with fewer prose paragraphs than this is no article (a menu, a teaser, a caption):
# a fallback may replace it whole. Otherwise a fallback must hold it, or is held to the stretch
# that the first pass and readability vouch for.
ARTICLE_PROSE = 2
# Readability's region that does not hold the first pass replaces it only when it is this many
# times longer: a gallery or a comment thread beside an article is often twice as long, an
# article beside a short wrong block (an author box, a few teasers) much longer.
OTHER_BLOCK_FACTOR = 4
# The options trafilatura's fallback uses to turn readability's region into its output tree.
_FALLBACK_OPTIONS = Extractor(fast=True, precision=True, comments=False)


def _main_content(tree: HtmlElement, url: str, meta: PageMetadata, precision: bool = True) -> str:
    """trafilatura's main-content pass over the (marked) tree, then the boilerplate filters.

    `precision` picks trafilatura's precision mode, the first reading; without it, its balanced
    mode reads the page for the recall pass. Each pass works on one copy of the tree: the public
    API would copy it three times, the pruned raw tree kept for fallbacks that precision mode
    in fast mode never runs. Only the output tree is read (`xmltotxt` writes the text once).
    """
    options = Extractor(
        output_format="xml", fast=True, precision=precision, comments=False, url=url
    )
    work = copy(tree)
    # What bare_extraction discards: errors of the pass, a text below its floor.
    try:
        if precision:
            body, text = _precision_sequence(work, options)
        else:
            body, text, _, _ = trafilatura_sequence(work, options, url)
    except (TypeError, ValueError):
        return ""
    if len(text) < options.min_output_size:
        return ""
    return _filtered(body, meta)


def _precision_sequence(work: HtmlElement, options: Extractor) -> tuple[_Element, str]:
    """`trafilatura_sequence` in fast precision mode without comments, on a tree it may use up.

    That mode runs none of the cascade's later stages (comparison, baseline rescue, recall
    escalation) that read the raw tree, so the raw tree is cleaned in place and no
    pre-conversion backup is made.
    """
    is_forum = _forum_thread_page(work)
    prune_unwanted_nodes(work, RAW_TREE_PRUNE_XPATH)
    prune_unwanted_nodes(work, REMOVE_COMMENTS_AND_LISTS_XPATH)
    cleaned = convert_tags(tree_cleaning(work, options), options, options.url)
    if not is_forum:
        cleaned = prune_unwanted_nodes(cleaned, REMOVE_COMMENTS_XPATH)
    return extract_content(cleaned, options)


def _region_content(region: HtmlElement, meta: PageMetadata) -> str:
    """Readability's region as trafilatura's fallback converts it, then the boilerplate filters."""
    body, _ = sanitize_tree(region, _FALLBACK_OPTIONS)
    return _filtered(body, meta)


def _all_paragraphs(tree: HtmlElement, meta: PageMetadata, boundaries: frozenset[str]) -> str:
    """trafilatura's baseline (every paragraph-like element), then the boilerplate filters.

    The baseline may hand back a whole article container (or the JSON-LD body) as one line: it
    is split where the page's blocks meet (`boundaries`), so that the filters judge each paragraph
    and the paragraphs stay; a page header left at its top is cut off. The baseline works on its
    own copy of the tree.
    """
    body, _, _ = baseline(tree)
    for paragraph in list(body):
        parts = split_line(paragraph.text or "", boundaries)
        paragraph.text = parts[0]
        for part in reversed(parts[1:]):
            paragraph.addnext(paragraph.makeelement(paragraph.tag))
            paragraph.getnext().text = part
    return drop_page_header(_filtered(body, meta), meta.headlines)


def _filtered(body: _Element, meta: PageMetadata) -> str:
    clean_body(body, meta.headlines)
    unwrap_source_lines(body)
    text = clean_lines(xmltotxt(body, include_formatting=False))
    return join_code_lines(text, code_blocks(body))


def _body_text(tree: HtmlElement, url: str, meta: PageMetadata) -> str | None:
    """The article text, paragraphs separated by one blank line, or None when there is none.

    trafilatura runs without its fallback extractors, which is fast. When its result is empty or
    much shorter than the page's running text (paragraphs of sentence length), trafilatura's
    baseline, which keeps every paragraph, gets a turn. Readability then reads the page once
    (`pipelines.agreement`). A fallback (the baseline's text, or readability's region where it is
    more than twice as long as the text, trafilatura's own rule) replaces an article only where it
    holds it; the baseline, which also reads comments and teasers, is then held to the
    text's stretch, grown by the region's lines next to it (`grown_stretch`). A text that is no
    article (`ARTICLE_PROSE`: a menu, a teaser, a list) gives way only to a fallback that is one,
    the one with most prose; an empty text to any. The text is then bounded by the region where
    the two agree on the article: what lies before or after their shared stretch is cut. Where
    the page has paragraphs the text lacks between two that it has, trafilatura's balanced mode
    reads the page too, and its lines that are those paragraphs are put back where they belong;
    so are the region's headings that the text lacks between two paragraphs that it keeps.
    Last, lines that run two of the page's blocks together are split (`pipelines.paragraphs`).
    """
    running = prune_page(tree)
    mark_links(tree)
    boundaries = block_boundaries(tree)
    text = _main_content(tree, url, meta)
    fallback = ""
    if not text or len(text) < SECOND_OPINION_SHARE * running:
        fallback = _all_paragraphs(tree, meta, boundaries)
    missing = missing_paragraphs(tree, text)
    recall = _main_content(tree, url, meta, precision=False) if missing else ""
    region = readability_region(tree)
    other = region_text(region)
    blocks = region_blocks(region)
    # The page's description vouches for the lead it repeats, which readability may leave out.
    lead = f"{meta.description}\n" if meta.description else ""
    article = _is_article(text)
    rescue = ""
    # The region's text is filtered only where it may win: longer, and not an article's rival.
    if (
        region is not None
        and len(other) > RESCUE_FACTOR * len(text)
        and (not article or len(other) > OTHER_BLOCK_FACTOR * len(text) or holds(text, other))
    ):
        rescue = _region_content(region, meta)
    if article:
        if len(fallback) > len(text) and holds(text, fallback):
            text = grown_stretch(fallback, text, lead + other)
        if len(rescue) > OTHER_BLOCK_FACTOR * len(text) or (
            len(rescue) > RESCUE_FACTOR * len(text) and holds(text, rescue)
        ):
            text = rescue
    else:
        stand_ins = [t for t in (fallback, rescue) if not text or _is_article(t)]
        text = max((text, *stand_ins), key=_articleness)
    text = bound_by(text, lead + other)
    if recall:
        text = fill_gaps(text, recall, missing)
    text = put_back_headings(text, blocks, meta.headlines, meta.authors)
    return as_paragraphs(split_blocks(text, boundaries)) or None


def _is_article(text: str) -> bool:
    return prose_lines(text) >= ARTICLE_PROSE


def _articleness(text: str) -> tuple[int, int]:
    """Which of the readings that stand in for a text that is no article reads most like one: the
    most prose (`prose_chars`); for the same prose the shorter one, which has less else; with no
    prose at all the longest, so that a page is not left empty."""
    prose = prose_chars(text)
    return prose, -len(text) if prose else len(text)


def extract_article(html: str | bytes, url: str, content_type: str | None = None) -> Article:
    """Extract the article body (paragraphs separated by a blank line) and its metadata.

    Never raises on what a web server may send: empty, broken or binary input gives
    `Article(text=None)` with whatever metadata could be read.
    """
    try:
        markup = decode_html(html, content_type)
        tree = load_html(markup)
    except (ValueError, TypeError):
        tree = None
    if tree is None:
        return Article(text=None)
    # For some fragments lxml hands back an element inside the document (`<svg><p>`), which
    # htmldate would try to drop: read the whole document.
    tree = tree.getroottree().getroot()
    strip_tree_controls(tree, markup)
    meta = read_metadata(tree, url)
    text = _body_text(tree, url, meta)
    found = {field.name: getattr(meta, field.name) for field in fields(Metadata)}
    found["language"] = meta.language or meta.detect_language(text)
    return Article(text=text, **found)
