"""extract_article on handcrafted news pages: clean complete text, right metadata, never a crash."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from lxml.html import tostring
from trafilatura.utils import load_html

from pipelines.article import Article, _main_content, decode_html, extract_article
from pipelines.boilerplate import prune_page
from pipelines.metadata import clean_authors, normalise_date, read_metadata
from pipelines.paragraphs import block_boundaries, split_line

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
BOILERPLATE = (
    "Skip to content",
    "Getty Images",
    "Credit:",
    "More Content",
    "cookie",
    "Subscribe",
    "newsletter",
    "Read more",
    "Share on",
    "reader42",
    "All rights reserved",
)


CANONICAL = b'<link rel="canonical" href="https://news.example.com/politics/trump-musk-interview">'


def _page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_news_template_around_real_article_comes_out_clean_and_complete() -> None:
    article = extract_article(
        _page("trump-musk-interview.html"),
        "https://news.example.com/politics/trump-musk-interview?utm_source=feed",
    )
    expected = (FIXTURES / "trump-musk-interview.txt").read_text(encoding="utf-8").strip()
    assert article.text == expected
    for noise in BOILERPLATE:
        assert noise.lower() not in (article.text or "").lower(), noise


def test_news_template_metadata() -> None:
    article = extract_article(
        _page("trump-musk-interview.html"), "https://news.example.com/politics/x?utm_source=feed"
    )
    assert article.title == "A look back at that Donald Trump and Elon Musk interview"
    assert article.authors == ("Jane Doe",)
    assert article.published == "2024-08-13T11:00:00+02:00"
    assert article.language == "en"
    assert article.tags == ("Donald Trump", "Elon Musk")
    assert article.image == "https://news.example.com/img/lead.jpg"
    assert article.canonical_url == "https://news.example.com/politics/trump-musk-interview"
    assert article.description and article.description.startswith("The conversation on X")


def test_captions_credits_read_more_and_newsletter_box_are_dropped() -> None:
    article = extract_article(
        _page("captions-and-prompts.html"), "https://zeitung.example.de/koeln/bruecke"
    )
    text = article.text or ""
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 5
    assert paragraphs[0].startswith("Nach sechs Jahren Bauzeit")
    assert paragraphs[-1].startswith("Die alte Brücke soll")
    for noise in ("Foto", "dpa", "Lesen Sie auch", "Newsletter", "Cookies", "Mehr zum Thema"):
        assert noise not in text, noise


def test_windows_1252_page_metadata_without_mojibake() -> None:
    article = extract_article(
        _page("captions-and-prompts.html"), "https://zeitung.example.de/koeln/bruecke"
    )
    assert article.title == "Neue Brücke über den Rhein eröffnet"
    assert article.authors == ("Anna Müller", "Peter Schmidt")
    assert article.published == "2024-05-02"
    assert article.language == "de"
    assert article.tags == ("Verkehr", "Köln", "Brücken")
    assert article.canonical_url == "https://zeitung.example.de/koeln/bruecke"


JAPANESE = "日本語の記事です。東京で新しい駅が開業しました。"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (f'<meta charset="shift_jis"><p>{JAPANESE}</p>'.encode("shift_jis"), None),
        (f"<p>{JAPANESE}</p>".encode("shift_jis"), "text/html; charset=Shift_JIS"),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">'
            + JAPANESE.encode("shift_jis"),
            "text/html",
        ),
        (b"\xef\xbb\xbf" + f"<p>{JAPANESE}</p>".encode(), "text/html; charset=iso-8859-1"),
        (f"<p>{JAPANESE}</p>".encode(), None),
    ],
)
def test_decode_html_by_header_bom_meta_or_detection(data: bytes, content_type: str | None) -> None:
    assert JAPANESE in decode_html(data, content_type)


def test_latin_encodings_decode_without_mojibake() -> None:
    text = "Übersee café \u2013 naïve"
    assert text in decode_html(f"<p>{text}</p>".encode("cp1252"), None)
    latin2 = "Zażółć gęślą jaźń"
    page = f'<meta charset="iso-8859-2"><p>{latin2}</p>'.encode("iso-8859-2")
    assert latin2 in decode_html(page)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00\x01\x02\xff" * 100,
        "<html><body><div><p>",
        "   ",
        b"%PDF-1.4\n%\xe2\xe3",
        "<svg><p><p>",
    ],
)
def test_never_raises_on_empty_broken_or_binary_input(junk: str | bytes) -> None:
    article = extract_article(junk, "https://example.com/a")
    assert isinstance(article, Article)
    assert article.text is None


@pytest.mark.parametrize(
    ("good", "bad", "field"),
    [
        (CANONICAL, b'<link rel="canonical" href="http://[::1">', "canonical_url"),
        (CANONICAL, b'<meta property="og:url" content="javascript:alert(1)">', "canonical_url"),
        (b'content="/img/lead.jpg"', b'content="http://[x/a.jpg"', "image"),
    ],
)
def test_a_malformed_canonical_or_image_url_costs_only_that_field(
    good: bytes, bad: bytes, field: str
) -> None:
    # urljoin raises on a malformed IPv6 host: the whole article used to be lost, uncounted.
    page = _page("trump-musk-interview.html")
    assert good in page
    plain = extract_article(page, "https://news.example.com/a")
    article = extract_article(page.replace(good, bad), "https://news.example.com/a")
    assert article.text == plain.text and article.title == plain.title
    assert getattr(article, field) is None


def test_article_is_picklable_for_the_process_pool() -> None:
    article = extract_article(_page("trump-musk-interview.html"), "https://news.example.com/a")
    assert pickle.loads(pickle.dumps(article)) == article


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-08-13T11:00:00+02:00", "2024-08-13T11:00:00+02:00"),
        ("2024-08-13T00:30:00.250+0200", "2024-08-13T00:30:00+02:00"),
        ("2024-08-12T21:00:00-05:00", "2024-08-12T21:00:00-05:00"),
        ("2024-08-13T09:00:00Z", "2024-08-13T09:00:00Z"),
        ("2024-08-13T09:00:00+00:00", "2024-08-13T09:00:00Z"),
        ("2024-08-13", "2024-08-13"),
        ("Tue, 13 Aug 2024 11:00:00 +0200", "2024-08-13T11:00:00+02:00"),
        ("2024-08-13T11:00:00", "2024-08-13T11:00:00"),
        ("not a date", None),
    ],
)
def test_dates_keep_the_pages_own_day_and_offset(raw: str, expected: str | None) -> None:
    # Converted to UTC, 00:30 in Berlin became the day before: not the day the page shows.
    assert normalise_date(raw) == expected


def test_bylines_cleaned_to_one_name_per_entry() -> None:
    assert clean_authors(["By Jane Doe and John Roe, Staff Writers"]) == ("Jane Doe", "John Roe")
    assert clean_authors(["BY MARY MAJOR; Reuters"]) == ("MARY MAJOR",)
    assert clean_authors(["https://example.com/author/x", "jane@example.com"]) == ()


def _prose(topic: str, count: int) -> list[str]:
    return [
        f"Paragraph {i} on the {topic} says what the harbour board decided on Tuesday, and why "
        f"the fishermen of the old quay think the new plan for the {topic} will not work."
        for i in range(count)
    ]


def test_comments_after_the_article_do_not_replace_it() -> None:
    """Long reader comments make the article look short beside the page's running text; the
    all-paragraphs fallback reads them too, and must not take the article's place."""
    article = "".join(f"<p>{p}</p>" for p in _prose("harbour", 4))
    comments = "".join(
        f'<div class="comment"><span>reader{i}</span><p>I have lived by this harbour for forty '
        f"years, comment {i}, and I can tell you that nobody asked us, the people who work "
        f"here every day, what we wanted from the board or the new quay.</p></div>"
        for i in range(12)
    )
    page = (
        "<html><head><title>Harbour plan</title></head><body>"
        f'<div class="story"><h1>Harbour plan</h1>{article}</div>'
        f'<section id="comments"><h3>Responses</h3>{comments}</section></body></html>'
    )
    text = extract_article(page, "https://news.example.com/harbour").text or ""
    assert "Paragraph 3 on the harbour" in text
    assert "forty years" not in text


def test_paragraphs_separated_by_double_line_breaks_in_a_table_cell_stay_apart() -> None:
    cell = "<br><br>".join(_prose("table", 4))
    page = (
        "<html><head><title>Old template</title></head><body><table><tr>"
        f'<td class="nav"><a href="/">Home</a></td><td>{cell}</td></tr></table></body></html>'
    )
    text = extract_article(page, "https://news.example.com/old").text or ""
    assert text.split("\n\n") == _prose("table", 4)


def test_ruby_readings_reach_no_reader_of_the_page() -> None:
    """trafilatura's main pass drops <rt>, but its baseline and readability, the fallbacks, read
    the page's text as it is: there the reading ran into the words (子こども)."""
    sentence = "<ruby>子<rp>(</rp><rt>こ</rt><rp>)</rp></ruby>どもたちは毎日学校へ歩いて行きます。"
    tree = load_html(f"<html lang='ja'><body><div><p>{sentence}</p></div></body></html>")
    prune_page(tree)
    assert tree.text_content() == "子どもたちは毎日学校へ歩いて行きます。"


def test_a_standfirst_that_the_description_repeats_stays_as_the_lead() -> None:
    lead = "The harbour board voted for the new quay, and the fishermen say nobody asked them."
    page = (
        "<html><head><title>Harbour plan</title>"
        f'<meta name="description" content="{lead}"></head><body><article>'
        f"<h1>Harbour plan</h1><h2>{lead}</h2>"
        + "".join(f"<p>{p}</p>" for p in _prose("harbour", 4))
        + "</article></body></html>"
    )
    text = extract_article(page, "https://news.example.com/harbour").text or ""
    assert text.split("\n\n") == [lead, *_prose("harbour", 4)]


def test_linked_cells_and_items_among_plain_ones_stay() -> None:
    """A film title that links to its page, in a row of data; a linked bug number in a list of
    facts: navigation is a row or a list made only of links, not these."""
    rows = "".join(
        f'<tr><td><a href="/film/{i}">Film number {i}</a></td><td>{1990 + i}</td>'
        f"<td>Director {i} Smith</td></tr>"
        for i in range(4)
    )
    items = "".join(
        f'<li><a href="/bug/{i}">Bug 10{i}</a></li><li>The crash on start {i} is fixed now.</li>'
        for i in range(3)
    )
    page = (
        "<html><head><title>Films</title></head><body><article><h1>Films</h1>"
        + "".join(f"<p>{p}</p>" for p in _prose("films", 2))
        + f"<table>{rows}</table><ul>{items}</ul>"
        + "".join(f"<p>{p}</p>" for p in _prose("archive", 2))
        + "</article></body></html>"
    )
    text = extract_article(page, "https://news.example.com/films").text or ""
    assert "| Film number 3 | 1993 | Director 3 Smith |" in text
    assert "- Bug 102\n\n- The crash on start 2 is fixed now." in text


def test_a_code_block_is_one_paragraph() -> None:
    code = "def add(a, b):\n    total = a + b\n    return total"
    page = (
        "<html><head><title>Adding</title></head><body><article><h1>Adding</h1>"
        + "".join(f"<p>{p}</p>" for p in _prose("code", 2))
        + f"<pre><code>{code}</code></pre>"
        + "".join(f"<p>{p}</p>" for p in _prose("tests", 2))
        + "</article></body></html>"
    )
    text = extract_article(page, "https://blog.example.com/adding").text or ""
    assert "\n\ndef add(a, b):\ntotal = a + b\nreturn total\n\n" in text


def test_a_longer_gallery_beside_the_article_does_not_replace_it() -> None:
    """Readability reads the gallery's 15 captions as the page's main part, more than twice as
    long as the article: length alone made it the text, and the article was lost."""
    article = "".join(f"<p>{p}</p>" for p in _prose("harbour", 4))
    slides = "".join(
        f'<li><img src="/s{i}.jpg"><div class="caption">{i + 1}/15 Slide {i}: boats in the '
        f"harbour at dawn, the crew of the trawler number {i} unloading the catch on the old "
        "quay before the market opens.</div></li>"
        for i in range(15)
    )
    page = (
        "<html><head><title>Harbour plan</title></head><body>"
        f"<article><h1>Harbour plan</h1>{article}</article>"
        f'<div class="gallery"><h3>Business in pictures</h3><ul>{slides}</ul></div></body></html>'
    )
    text = extract_article(page, "https://news.example.com/harbour").text or ""
    assert text.split("\n\n") == _prose("harbour", 4)


def test_a_heading_after_an_empty_permalink_stays() -> None:
    """A permalink icon (an empty link) before a heading's words: trafilatura's precision mode
    read the heading as a link farm, its link holding no text, and dropped it."""
    anchor = '<a href="#plan" class="anchor"><svg aria-hidden="true"><path d="M4 9h1"/></svg></a>'
    paragraphs = [f"<p>{p}</p>" for p in _prose("harbour", 4)]
    page = (
        "<html><head><title>Harbour plan</title></head><body><div class='post'>"
        + "".join(paragraphs[:2])
        + f'<h2 id="plan">{anchor}What the board decided</h2>'
        + "".join(paragraphs[2:])
        + "</div></body></html>"
    )
    text = extract_article(page, "https://news.example.com/harbour").text or ""
    assert text.split("\n\n") == [
        *_prose("harbour", 2),
        "What the board decided",
        *_prose("harbour", 4)[2:],
    ]


def test_source_line_breaks_beside_inline_code_are_spaces() -> None:
    """trafilatura keeps the source's line breaks in a paragraph that holds inline code: each
    line of the source came out as a paragraph."""
    page = (
        "<html><head><title>Adding</title></head><body><article><h1>Adding</h1>"
        + "".join(f"<p>{p}</p>" for p in _prose("code", 2))
        + "<p>As an example, let's reuse the <code>Cow</code> example we used\n"
        + '      <a href="/code/cow">in a previous episode</a>:</p>'
        + "<ul><li>Notice the <code>data-cover</code> attribute we added to the tag\n"
        + "         loading the library;</li><li>The test runs in the browser.</li></ul>"
        + "".join(f"<p>{p}</p>" for p in _prose("tests", 2))
        + "</article></body></html>"
    )
    text = extract_article(page, "https://blog.example.com/adding").text or ""
    assert (
        "\n\nAs an example, let's reuse the Cow example we used in a previous episode:\n\n" in text
    )
    assert (
        "\n\n- Notice the data-cover attribute we added to the tag loading the library;\n\n" in text
    )


def test_preformatted_text_keeps_its_lines_and_its_paragraphs() -> None:
    """A plain-text document in a <pre> (trafilatura makes it a quote, not code): its lines stay
    together, and a blank line between them ends a paragraph, as the page shows it."""
    pre = (
        "Abstract\n\n"
        "   This draft describes a protocol by which client-side applications,\n"
        "   running inside a web browser, can talk to a storage server.\n\n\n"
        "Status of this Memo\n\n"
        "   This Internet-Draft is submitted in full conformance with the\n"
        "   provisions of BCP 78 and BCP 79.\n"
    )
    page = (
        "<html><head><title>Draft</title></head><body><div>"
        + "".join(f"<p>{p}</p>" for p in _prose("draft", 2))
        + f"<pre>{pre}</pre></div></body></html>"
    )
    text = extract_article(page, "https://docs.example.org/draft").text or ""
    assert text.split("\n\n")[2:] == [
        "Abstract",
        "This draft describes a protocol by which client-side applications,\n"
        "running inside a web browser, can talk to a storage server.",
        "Status of this Memo",
        "This Internet-Draft is submitted in full conformance with the\n"
        "provisions of BCP 78 and BCP 79.",
    ]


def test_a_line_is_split_where_its_own_page_has_blocks_meet() -> None:
    """Each page's boundaries split its lines, whichever page's lines were split before (the
    boundaries' first sides are kept between lines of one page)."""
    line = "The harbour board met on Monday at noon to settle the quay"
    pages = {
        "<p>The harbour board met on Monday</p><p>at noon to settle the quay</p>": 31,
        "<p>The harbour board met</p><p>on Monday at noon to settle the quay</p>": 21,
    }
    for _ in range(2):
        for page, cut in pages.items():
            boundaries = block_boundaries(load_html(f"<html><body>{page}</body></html>"))
            assert split_line(line, boundaries) == [line[:cut], line[cut + 1 :]]


def test_trafilatura_passes_leave_the_page_tree_to_its_next_readers() -> None:
    """Each trafilatura pass cleans a copy of its own, in place: the page's tree that the
    baseline, readability and the next pass read afterwards is left as it was."""
    url = "https://news.example.com/politics/trump-musk-interview"
    tree = load_html(_page("trump-musk-interview.html"))
    meta = read_metadata(tree, url)
    before = tostring(tree)
    first = _main_content(tree, url, meta)
    assert tostring(tree) == before
    assert _main_content(tree, url, meta, precision=False)
    assert tostring(tree) == before
    assert "Musk" in first and _main_content(tree, url, meta) == first
