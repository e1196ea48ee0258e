"""Paragraph boundaries read from the page and put back into lines that ran blocks together."""

from __future__ import annotations

from trafilatura.utils import load_html

from pipelines.agreement import put_back_headings, region_blocks
from pipelines.boilerplate import mark_links
from pipelines.paragraphs import block_boundaries, split_line

_PARAGRAPHS = [
    "The council met on Tuesday to vote on the new quay for the harbour.",
    "The fishermen say the plan leaves them without a place to land the catch.",
]


def _boundaries(body: str) -> frozenset[str]:
    return block_boundaries(load_html(f"<html><body>{body}</body></html>"))


def test_a_short_heading_run_into_its_paragraphs_is_split_off() -> None:
    """A heading shorter than the characters that identify a boundary ("In use"): both of its
    boundaries were lost, and it ran on into the paragraphs on either side."""
    first, second = _PARAGRAPHS
    boundaries = _boundaries(f"<p>{first}</p><h3>In use</h3><p>{second}</p>")
    assert split_line(f"{first} In use {second}", boundaries) == [first, "In use", second]


def test_short_runs_at_the_start_or_end_of_a_line_are_split_off() -> None:
    first, second = _PARAGRAPHS
    boundaries = _boundaries(f"<p>Yes.</p><p>{first}</p><p>{second}</p><p>No reply.</p>")
    assert split_line(f"Yes. {first}", boundaries) == ["Yes.", first]
    assert split_line(f"{second} No reply.", boundaries) == [second, "No reply."]


def test_words_that_meet_only_inside_a_paragraph_are_not_split() -> None:
    first, second = _PARAGRAPHS
    boundaries = _boundaries(f"<p>{first}</p><h3>In use</h3><p>{second}</p>")
    line = "The harbour In use since 1901 is the oldest quay of the town, the council says."
    assert split_line(line, boundaries) == [line]


def test_a_line_is_split_where_the_extraction_dropped_a_block_between_two() -> None:
    """A linked paragraph between two, dropped as a link: the words on either side of the gap
    never met in the page, but one ends a block of it and the other begins one."""
    first, second = _PARAGRAPHS
    boundaries = _boundaries(
        f'<p>{first}</p><p><a href="/more">More on the quay</a></p><p>{second}</p>'
    )
    assert split_line(f"{first} {second}", boundaries) == [first, second]


def test_a_pull_quote_repeated_inside_a_paragraph_does_not_split_it() -> None:
    quote = "We will rebuild the old quay this year."
    paragraph = f"The mayor said: {quote} The fishermen were not convinced by her promise."
    boundaries = _boundaries(f"<blockquote>{quote}</blockquote><p>{paragraph}</p>")
    assert split_line(paragraph, boundaries) == [paragraph]


_ARTICLE = [
    "The council met on Tuesday to vote on the new quay for the old harbour of the town.",
    "The fishermen say that the plan leaves them without a place to land the catch at night.",
    "The vote was postponed to March, when the engineers will have finished their new report.",
]


def _region(body: str) -> list[tuple[bool, str]]:
    """The blocks of a region, its links marked as in the page that readability reads."""
    region = load_html(f"<html><body><div>{body}</div></body></html>")
    mark_links(region)
    return region_blocks(region)


def test_a_heading_of_the_region_between_kept_paragraphs_is_put_back_in_place() -> None:
    """trafilatura dropped a subheading that readability's region has between two paragraphs
    that the text keeps: it goes back before the paragraph that follows it."""
    first, second, third = _ARTICLE
    blocks = _region(f"<p>{first}</p><h2>What the fishermen say</h2><p>{second}</p><p>{third}</p>")
    text = put_back_headings("\n".join(_ARTICLE), blocks, (), ())
    assert text.split("\n") == [first, "What the fishermen say", second, third]


def test_headings_that_are_no_subheadings_stay_out() -> None:
    """Before the first kept paragraph, the headline again, a byline, a linked heading, the
    heading of a box whose paragraph the text drops, a heading that the text has already: none
    is put back."""
    first, second, third = _ARTICLE
    blocks = _region(
        "<h2>Before the article</h2>"
        f"<p>{first}</p><h2>Harbour plan postponed</h2><h3>By Ann Lee, harbour desk</h3>"
        f'<h2><a href="/more">More from the harbour</a></h2><p>{second}</p>'
        "<h3>The harbour newsletter</h3><p>The news from the quay in your inbox every morning.</p>"
        f"<h2>The vote</h2><p>{third}</p>"
    )
    text = "\n".join([first, second, "The vote", third])
    kept = put_back_headings(text, blocks, ("Harbour plan postponed",), ("Ann Lee",))
    assert kept == text
