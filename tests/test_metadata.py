"""Title, authors and date as a reader of the record sees them, on small hand-made pages."""

from __future__ import annotations

import pytest

from pipelines.article import Article, extract_article

BODY = (
    "<p>The council voted on Tuesday to rebuild the old bridge over the river, after two years of"
    " debate about its cost and about the traffic it would bring to the town centre.</p>"
    "<p>Work starts in spring and should take three years, the mayor said at the meeting.</p>"
)


def _extract(head: str, body: str = "") -> Article:
    page = f"<html><head>{head}</head><body>{body}<article>{BODY}</article></body></html>"
    return extract_article(page, "https://news.example.com/2024/bridge")


@pytest.mark.parametrize(
    ("opening", "closing"),
    [
        ("<![CDATA[", "]]>"),
        ("//<![CDATA[\n", "\n//]]>"),
        ("/* <![CDATA[ */", "/* ]]> */"),
        ("<!--", "-->"),
    ],
)
def test_json_ld_wrapped_in_cdata_or_a_comment_is_read(opening: str, closing: str) -> None:
    head = (
        f'<script type="application/ld+json">{opening} {{"@type": "NewsArticle",'
        ' "headline": "Council votes to rebuild the bridge", "datePublished":'
        ' "2024-05-02T10:00:00+02:00", "author": {"@type": "Person", "name": "Ann Lee"}}'
        f" {closing}</script><title>Bridge</title>"
    )
    article = _extract(head)
    assert article.title == "Council votes to rebuild the bridge"
    assert article.authors == ("Ann Lee",)
    assert article.published == "2024-05-02T10:00:00+02:00"


def test_rdfa_properties_and_dublin_core_creator_before_generic_author() -> None:
    head = (
        '<meta property="dc:creator twitter:creator" content="Ann Lee">'
        '<meta name="author" content="Example Media Group">'
        '<meta property="og:title twitter:title" content="Council votes to rebuild the bridge">'
    )
    article = _extract(head)
    assert article.authors == ("Ann Lee",)
    assert article.title == "Council votes to rebuild the bridge"


def test_author_meta_names_other_than_author() -> None:
    assert _extract('<meta name="byl" content="By Ann Lee">').authors == ("Ann Lee",)
    assert _extract('<meta name="parsely-author" content="Ann Lee">').authors == ("Ann Lee",)


def test_readers_in_the_comments_are_not_authors() -> None:
    body = (
        "<h1>Council votes to rebuild the bridge</h1>"
        '<div class="comments"><div class="byline">J J</div><div class="byline">S Sky</div></div>'
        '<div class="author-name">Ann Lee</div>'
    )
    assert _extract("", body).authors == ("Ann Lee",)
    # An opinion section is no comment thread.
    opinion = (
        '<div class="commentary"><h1>Why the bridge</h1><p class="byline">By Ann Lee</p></div>'
    )
    assert _extract("", opinion).authors == ("Ann Lee",)


def test_the_byline_next_to_the_headline_not_the_teasers() -> None:
    teasers = "".join(
        f'<li><a href="/t{n}">Other story {n}</a> <span class="byline">{name}</span></li>'
        for n, name in enumerate(("Tom Fox", "Eve Stone", "Max Weber"))
    )
    body = (
        f"<nav><ul>{teasers}</ul></nav><h1>Council votes to rebuild the bridge</h1>"
        '<span class="byline"><a rel="author" href="/ann">Ann Lee</a></span>'
    )
    assert _extract("", body).authors == ("Ann Lee",)


def test_byline_read_by_its_parts_name_apart_from_date_role_and_by() -> None:
    body = (
        "<h1>Council votes to rebuild the bridge</h1>"
        '<div class="author"><em class="author__by">By</em>'
        '<a class="author__name" href="/ann">Ann Lee</a>'
        '<span class="author__role">Senior Editor</span>'
        '<span class="author__date">2 hours ago</span></div>'
    )
    assert _extract("", body).authors == ("Ann Lee",)
    dated = '<cite class="byline">By ANN LEE <abbr>May 2, 2024 3:46 PM</abbr></cite>'
    assert _extract("", dated).authors == ("ANN LEE",)


def test_several_authors_of_one_byline() -> None:
    body = (
        "<h1>Council votes to rebuild the bridge</h1>"
        '<p class="authors"><span class="author">Ann Lee</span>'
        '<span class="author">Bo Chen</span></p>'
    )
    assert _extract("", body).authors == ("Ann Lee", "Bo Chen")


HEADLINE = "Council votes to rebuild the bridge"
OG = '<meta property="og:title" content="{}">'


@pytest.mark.parametrize(
    ("head", "body", "title"),
    [
        pytest.param(
            f"<title>{HEADLINE}</title>", "<h1>Local News Centre</h1>", HEADLINE, id="section-h1"
        ),
        pytest.param(
            f"<title>{HEADLINE} - Example Times</title>",
            f"<h1>Example Times</h1><h1>{HEADLINE}</h1>",
            HEADLINE,
            id="h1-is-a-part-of-the-title",
        ),
        pytest.param(
            OG.format(f"{HEADLINE} | Example.com")
            + '<meta property="og:site_name" content="Example.com - News as it happens">',
            "",
            HEADLINE,
            id="suffix-begins-the-site-name",
        ),
        pytest.param(
            OG.format(f"{HEADLINE} - Spanner"),
            f"<h1>{HEADLINE}</h1>",
            HEADLINE,
            id="suffix-the-h1-lacks",
        ),
        pytest.param(
            OG.format("Bridge - what the council decided today"),
            "<h1>Bridge</h1>",
            "Bridge - what the council decided today",
            id="kept-when-longer-than-the-h1",
        ),
        pytest.param(
            '<script type="application/ld+json">{"@type": "Article", "name": "Hermitian matrix",'
            ' "headline": "matrix equal to its conjugate transpose"}</script>'
            + OG.format("Hermitian matrix - Wikipedia"),
            "<h1>Hermitian matrix</h1>",
            "Hermitian matrix",
            id="json-ld-headline-no-form-confirms",
        ),
        pytest.param(
            f"<title>{HEADLINE} \u2013 My town blog</title>",
            "",
            HEADLINE,
            id="bare-title-after-a-dash",
        ),
        pytest.param(
            "<title>Bridge \u2013 Town</title>", "", "Bridge \u2013 Town", id="bare-title-too-short"
        ),
        pytest.param(
            '<meta name="dc.title" content="remoteStorage">'
            "<title>draft-remotestorage-04 - remoteStorage</title>",
            "<h1>Table of contents</h1>",
            "remoteStorage",
            id="other-meta-name-the-title-confirms",
        ),
        pytest.param(
            '<meta name="headline" content="Example Times">',
            f"<h1>{HEADLINE}</h1>",
            HEADLINE,
            id="other-meta-name-nothing-confirms",
        ),
        pytest.param(
            "<title>Town Review: Council votes to rebuild the bridge</title>",
            f"<h1>{HEADLINE}</h1>",
            HEADLINE,
            id="h1-after-a-colon-of-the-title",
        ),
        pytest.param(
            OG.format("Council votes on Ann&amp;#8217;s bridge &amp;#8211; at last"),
            "",
            "Council votes on Ann\u2019s bridge \u2013 at last",
            id="entities-escaped-twice",
        ),
        pytest.param(
            "<title>Shared history \u2014 Evolve documentation</title>",
            '<h1>Shared history<a class="headerlink" href="#top">\u00b6</a></h1>',
            "Shared history",
            id="h1-with-a-mark",
        ),
    ],
)
def test_title_is_the_headline_without_site_or_section_names(
    head: str, body: str, title: str
) -> None:
    assert _extract(head, body).title == title


def test_an_empty_author_box_next_to_the_headline_does_not_hide_the_byline() -> None:
    body = (
        '<header><h1>Council votes to rebuild the bridge</h1><div class="author-photo">'
        '<img src="a.jpg"></div></header><div class="meta"><p class="byline">By Ann Lee</p></div>'
    )
    assert _extract("", body).authors == ("Ann Lee",)


def test_an_agency_named_in_meta_data_is_not_replaced_by_the_dateline() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bridge",'
        ' "author": {"@type": "Organization", "name": "Reuters"}}</script>'
    )
    body = '<div class="article-author">Reuters, Washington, May 2</div>'
    assert _extract(head, body).authors == ()
    # A generic meta tag is no such statement: the byline is read.
    staff = '<meta name="author" content="Editorial Staff">'
    assert _extract(staff, '<p class="byline">By Ann Lee</p>').authors == ("Ann Lee",)
