"""Line and block filters: what reads as boilerplate goes, what reads as prose stays."""

from __future__ import annotations

import pytest
from trafilatura.utils import load_html

from pipelines.agreement import bound_by, fill_gaps, readability_region, region_text
from pipelines.article import extract_article
from pipelines.boilerplate import clean_lines, drop_page_header


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
        "(Reporting by Ann Lee, Bo Chen, with reporting by Cy Day; editing by Di Eve.)",
        "Reporting by Ann Lee; additional reporting by Bo Chen; Editing by Cy Day",
        "Keith Bradsher contributed reporting from Hong Kong.",
        "Associated Press writers Ann Lee and Bo Chen contributed to this report.",
        "Contributing: Kristine Phillips",
        "Follow Newsbeat on Instagram, Facebook, Twitter and YouTube.",
        "Email Jane Roe at jroe@example.com or follow her @janeroe.",
        "Have a tip? Jane Roe may be reached at jroe@example.com.",
        "Get the latest updates right in your inbox. Subscribe to our newsletters.",
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
        "The details were shared on the Twitter handle of the Senate, @NGRSenate.",
        "Subscribers to the service can also watch the matches on Facebook and YouTube.",
        "Reporting by the Times found that the council had ignored three warnings.",
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
    hidden = (
        '<div style="display: none">Council approves bridge 2019-11-19</div>'
        "<p hidden>Stadium teaser: the new ground opens soon with a concert for the city.</p>"
        '<p class="hide">Ferry teaser: a late service starts in spring for the night crowd.</p>'
    )
    text = extract_article(_page(hidden), "https://post.example/bridge").text or ""
    assert "Council approves bridge" not in text
    assert "Stadium teaser" not in text and "Ferry teaser" not in text
    assert text.startswith("Sentence 0 of the report")


def test_teaser_lines_between_line_breaks_are_dropped() -> None:
    teasers = (
        "<p><strong>DON'T MISS</strong><br>"
        "<strong><a href='/x'>Bridge costs rise again this year</a> [INSIGHT]</strong><br>"
        "<a href='/y'><u><strong>Mayor defends the transport budget</strong></u></a></p>"
    )
    text = extract_article(_page(teasers), "https://post.example/bridge").text or ""
    assert "Bridge costs rise" not in text
    assert "Mayor defends" not in text
    assert "Sentence 7 of the summary" in text


def test_a_link_that_shows_its_address_is_kept() -> None:
    cited = (
        "<p>The full ruling: <a href='https://court.example/r/1'>https://court.example/r/1</a></p>"
    )
    text = extract_article(_page(cited), "https://post.example/bridge").text or ""
    assert "https://court.example/r/1" in text


def test_promotion_boxes_go_but_a_paywall_container_with_the_article_stays() -> None:
    promo = (
        "<div class='nrplus-cta'><p>If you enjoyed this article, we have a proposition for you:"
        " join our club of members for unlimited reading.</p></div>"
        "<p class='estimated-read-time'>Reading time: 3 minutes</p>"
    )
    text = extract_article(_page(promo), "https://post.example/bridge").text or ""
    assert "proposition" not in text
    assert "Reading time" not in text
    walled = (
        _page("")
        .replace("<article>", "<article><div class='paywall'>")
        .replace("</article>", "</div></article>")
    )
    text = extract_article(walled, "https://post.example/bridge").text or ""
    assert "Sentence 7 of the report" in text
    assert "Sentence 7 of the summary" in text


def test_page_header_is_cut_off_a_run_on_first_line_and_the_lead_stays() -> None:
    """The lead stays although the meta description repeats it: it is the article's start."""
    text = (
        "Business 11.15.2019 10:09 AM Council approves bridge The span opens in May. "
        "The council voted on Tuesday.\nSecond paragraph."
    )
    assert drop_page_header(text, ("Council approves bridge",)) == (
        "The span opens in May. The council voted on Tuesday.\nSecond paragraph."
    )
    assert drop_page_header("No header here.\nMore.", ("Council approves bridge",)) == (
        "No header here.\nMore."
    )


_STORY = [
    "The council voted on Tuesday to rebuild the harbour wall before the winter storms arrive.",
    "Engineers said the old wall had been patched so often that little of the original remained.",
    "Work is due to start in March and should take two years, the council said in a statement.",
]


def test_agreement_cuts_a_run_on_byline_and_a_trailing_company_profile() -> None:
    ours = "\n".join(
        [
            "By Ann Lee Updated Nov. 19 Print Article " + _STORY[0],
            *_STORY[1:],
            *_STORY,
            "Harbourco is a global provider of harbour walls with offices in nine countries.",
        ]
    )
    assert bound_by(ours, "\n".join(_STORY * 2)) == "\n".join(_STORY * 2)


def test_agreement_keeps_the_text_when_the_second_reading_is_another_part_of_the_page() -> None:
    ours = "\n".join(_STORY)
    assert bound_by(ours, _STORY[0]) == ours
    assert bound_by(ours, "Most read: ten harbour walls you must see, and other stories") == ours


def test_a_second_reading_that_quotes_two_paragraphs_does_not_cut_the_article() -> None:
    # A box quoting two of the article's five paragraphs is another part of the page, not the
    # article: the archived text is not cut down to the stretch between the two quotes.
    story = [
        *_STORY,
        "Residents asked whether the beach below the wall would stay open while the work went on.",
        "The council promised a public meeting in February to answer questions about the plans.",
    ]
    ours = "\n".join(["Share", *story, "Share"])
    assert bound_by(ours, f"{story[0]}\n{story[4]}") == ours


def test_a_toolbar_word_is_not_matched_inside_a_longer_word() -> None:
    # A "Share" button above the article is cut off although the second reading's first
    # paragraph begins with "Shareholders": the archived article does not open with "Share".
    ours = "\n".join(["Share", *_STORY])
    other = "\n".join(["Shareholders of the port company were not asked.", *_STORY])
    assert bound_by(ours, other) == "\n".join(_STORY)


def test_readability_reading_of_a_page_is_its_article() -> None:
    body = "".join(f"<p>{line}</p>" for line in _STORY * 3)
    page = (
        "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article>{body}</article><footer>Copyright Harbour Times</footer></body></html>"
    )
    text = region_text(readability_region(load_html(page)))
    assert _STORY[2] in " ".join(text.split())
    assert "Copyright" not in text and "Home" not in text


def _story_page(story: str, headline: str = "Harbour wall to be rebuilt") -> str:
    return (
        f"<html><head><title>{headline}</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"{story}<footer><a href='/about'>About</a></footer></body></html>"
    )


def test_a_heading_does_not_run_on_into_the_first_word_of_the_article() -> None:
    body = "".join(f"<p>{line}</p>" for line in _STORY)
    page = _story_page(f"<div class='story'><h1>Harbour wall to be rebuilt</h1>{body}</div>")
    text = extract_article(page, "https://post.example/wall").text or ""
    assert text.split("\n\n") == _STORY


def test_an_article_the_main_pass_misses_comes_from_the_second_reading() -> None:
    # trafilatura's precision mode discards a container classed "link"; text between line
    # breaks has no paragraphs, so only readability's reading of the page finds the article.
    page = _story_page(f"<div class='link'>{'<br><br>'.join(_STORY)}</div>")
    text = extract_article(page, "https://post.example/wall").text or ""
    assert text.split("\n\n") == _STORY


def test_a_paragraph_quoting_part_of_the_headline_is_kept() -> None:
    headline = "Mayor on the harbour wall: We will build it to last, whatever the winter brings"
    quote = "“We will build it to last.”"
    body = "".join(f"<p>{line}</p>" for line in [_STORY[0], quote, *_STORY[1:]])
    page = _story_page(f"<article><h1>{headline}</h1>{body}</article>", headline)
    text = extract_article(page, "https://post.example/wall").text or ""
    assert text.split("\n\n") == [_STORY[0], quote, *_STORY[1:]]


def test_a_heading_after_an_empty_spacer_keeps_its_words() -> None:
    # trafilatura's precision mode deletes an empty element together with the text after it.
    heading = "<h2><strong><div class='spacer'></div>Three ways the wall will change</strong></h2>"
    body = "".join(f"<p>{line}</p>" for line in _STORY)
    page = _story_page(f"<article><p>{_STORY[0]}</p>{heading}{body}</article>")
    text = extract_article(page, "https://post.example/wall").text or ""
    assert "Three ways the wall will change" in text.split("\n\n")


def _card(paragraph: str) -> str:
    return f"<div class='card'><div class='card-content'><p>{paragraph}</p></div></div>"


def test_a_short_linked_paragraph_in_its_own_box_is_put_back_in_place() -> None:
    # trafilatura's precision mode drops a short box that holds a link; its balanced mode keeps
    # it, and the page has it between two paragraphs the text keeps.
    cited = "The plans were published on Monday in the <a href='/plans'>council's journal</a>."
    story = [*_STORY, *(line.replace("council", "mayor") for line in _STORY)]
    cards = "".join(map(_card, [*story[:3], cited, *story[3:]]))
    page = _story_page(f"<div class='story'>{cards}</div>")
    text = extract_article(page, "https://post.example/wall").text or ""
    assert text.split("\n\n") == [
        *story[:3],
        "The plans were published on Monday in the council's journal.",
        *story[3:],
    ]


def test_only_missing_paragraphs_between_kept_lines_are_put_back() -> None:
    lost = "The plans were published on Monday in the council's journal."
    other = "\n".join(["Most read: ten harbour walls", _STORY[0], lost, "Share", *_STORY[1:]])
    missing = ["the plans were published on monday in the council s journal"]
    assert fill_gaps("\n".join(_STORY), other, missing) == "\n".join([_STORY[0], lost, *_STORY[1:]])
    assert fill_gaps("\n".join(_STORY), other, []) == "\n".join(_STORY)
