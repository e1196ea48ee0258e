"""Line and block filters: what reads as boilerplate goes, what reads as prose stays."""

from __future__ import annotations

import pytest

from pipelines.article import extract_article
from pipelines.boilerplate import clean_lines


@pytest.mark.parametrize(
    "line",
    [
        "Credit: Getty Images",
        "Getty Images",
        "Photo: Reuters",
        "Image source, EPA",
        "Picture credit: AFP/Getty Images",
        "Skip to content",
        "More Content",
        "Read more: Why the markets fell today",
        "12 Comments",
        "Advertisement",
        "2019-11-19T08:57:40+01:00",
        "newsdesk@example.com",
    ],
)
def test_boilerplate_lines_are_dropped(line: str) -> None:
    assert clean_lines(f"First paragraph of prose.\n{line}\nLast one.") == (
        "First paragraph of prose.\nLast one."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Getty Images reported record revenue for the third quarter, the company said.",
        "The photo editor said the picture had been taken at dawn.",
        "Comments from the minister drew criticism from the opposition on Tuesday.",
    ],
)
def test_prose_that_mentions_the_same_words_is_kept(line: str) -> None:
    assert clean_lines(line) == line


def _sentences(part: str) -> str:
    return " ".join(
        f"Sentence {i} of the {part} explains what the council decided about the new bridge."
        for i in range(8)
    )


def _page(body: str) -> str:
    return (
        "<html><head><title>Council approves bridge | Example Post</title>"
        '<meta property="og:site_name" content="Example Post"></head><body><article>'
        f"<h1>Council approves bridge</h1><p>{_sentences('report')}</p>{body}"
        f"<p>{_sentences('summary')}</p></article></body></html>"
    )


def test_related_link_list_inside_the_body_is_dropped() -> None:
    related = (
        '<ul><li><a href="/a">Bridge costs rise again this year</a></li>'
        '<li><a href="/b">Mayor defends the transport budget</a></li></ul>'
    )
    text = extract_article(_page(related), "https://post.example/bridge").text or ""
    assert "Bridge costs rise" not in text
    assert "Mayor defends" not in text
    assert "Sentence 7 of the report" in text
    assert "Sentence 7 of the summary" in text


def test_list_of_prose_items_with_a_link_is_kept() -> None:
    items = (
        "<ul><li>The first span opens in May, says the <a href='/c'>council</a> engineer, "
        "after three years of work on the foundations.</li>"
        "<li>Cyclists get a separate lane on both sides of the bridge deck.</li></ul>"
    )
    text = extract_article(_page(items), "https://post.example/bridge").text or ""
    assert "The first span opens in May" in text
    assert "Cyclists get a separate lane" in text


def test_headline_and_hidden_copies_are_not_in_the_text() -> None:
    hidden = '<div style="display: none">Council approves bridge 2019-11-19</div>'
    text = extract_article(_page(hidden), "https://post.example/bridge").text or ""
    assert "Council approves bridge" not in text
    assert text.startswith("Sentence 0 of the report")
