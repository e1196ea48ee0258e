"""Title, authors and date as a reader of the record sees them, on small hand-made pages."""

from __future__ import annotations

from pipelines.article import Article, extract_article

BODY = (
    "<p>The council voted on Tuesday to rebuild the old bridge over the river, after two years of"
    " debate about its cost and about the traffic it would bring to the town centre.</p>"
    "<p>Work starts in spring and should take three years, the mayor said at the meeting.</p>"
)


def _extract(head: str, body: str = "") -> Article:
    page = f"<html><head>{head}</head><body>{body}<article>{BODY}</article></body></html>"
    return extract_article(page, "https://news.example.com/2024/bridge")


def test_json_ld_wrapped_in_cdata_is_read() -> None:
    head = (
        '<script type="application/ld+json"><![CDATA[ {"@type": "NewsArticle",'
        ' "headline": "Council votes to rebuild the bridge", "datePublished":'
        ' "2024-05-02T10:00:00+02:00", "author": {"@type": "Person", "name": "Ann Lee"}} ]]>'
        "</script><title>Bridge</title>"
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


def test_title_not_a_generic_section_heading() -> None:
    head = "<title>Council votes to rebuild the bridge</title>"
    assert _extract(head, "<h1>Local News Centre</h1>").title == (
        "Council votes to rebuild the bridge"
    )
    # An <h1> that is the <title> without the site's name is the clean form.
    head = "<title>Council votes to rebuild the bridge - Example Times</title>"
    body = "<h1>Example Times</h1><h1>Council votes to rebuild the bridge</h1>"
    assert _extract(head, body).title == "Council votes to rebuild the bridge"


def test_site_name_cut_where_it_only_begins_the_sites_name() -> None:
    head = (
        '<meta property="og:title" content="Council votes to rebuild the bridge | Example.com">'
        '<meta property="og:site_name" content="Example.com - News as it happens">'
    )
    assert _extract(head).title == "Council votes to rebuild the bridge"


def test_suffix_cut_where_the_page_gives_the_headline_without_it() -> None:
    head = '<meta property="og:title" content="Council votes to rebuild the bridge - Spanner">'
    body = "<h1>Council votes to rebuild the bridge</h1>"
    assert _extract(head, body).title == "Council votes to rebuild the bridge"
    # A headline whose last part is shorter than the <h1> kicker keeps it.
    head = '<meta property="og:title" content="Bridge - what the council decided today">'
    assert _extract(head, "<h1>Bridge</h1>").title == "Bridge - what the council decided today"


def test_json_ld_headline_that_no_other_form_confirms_gives_way() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "Article", "name": "Hermitian matrix",'
        ' "headline": "matrix equal to its conjugate transpose"}</script>'
        '<meta property="og:title" content="Hermitian matrix - Wikipedia">'
    )
    assert _extract(head, "<h1>Hermitian matrix</h1>").title == "Hermitian matrix"


def test_site_name_after_a_dash_of_a_bare_title_is_cut() -> None:
    head = "<title>Council votes to rebuild the bridge \u2013 My town blog</title>"
    assert _extract(head).title == "Council votes to rebuild the bridge"
    # Too short a headline would be left: the <title> is kept whole.
    assert _extract("<title>Bridge \u2013 Town</title>").title == "Bridge \u2013 Town"


def test_title_from_the_titles_own_words_where_the_h1_carries_a_mark() -> None:
    head = "<title>Shared history \u2014 Evolve documentation</title>"
    body = '<h1>Shared history<a class="headerlink" href="#top">\u00b6</a></h1>'
    assert _extract(head, body).title == "Shared history"


def test_an_empty_author_box_next_to_the_headline_does_not_hide_the_byline() -> None:
    body = (
        '<header><h1>Council votes to rebuild the bridge</h1><div class="author-photo">'
        '<img src="a.jpg"></div></header><div class="meta"><p class="byline">By Ann Lee</p></div>'
    )
    assert _extract("", body).authors == ("Ann Lee",)
