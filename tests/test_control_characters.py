"""Control characters a page or feed sends never reach a record, whatever a reader prints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from support import LocalSite, local_config, newsarchive, records_of, serve
from trafilatura.utils import load_html

from archive.controls import strip_controls, strip_tree_controls
from crawler.feeds import parse_feed
from pipelines.extracted import Article

# Set the window title, clear the screen, an 8-bit CSI, NEL: as character references and raw.
HOSTILE = "&#27;]0;pwned&#7;&#x1b;[2J&#x1b;[3J\u009b31m\u0085\x1b[H\x07"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PAGE = (
    "<html><head><title>Harbour {h}board meets</title>"
    '<meta name="author" content="Ann &#27;&#7;\u0085\x07Lee">'
    '<meta name="description" content="The {h}quay">'
    '<meta name="keywords" content="harbour, {h}quay"></head>'
    "<body><article><h1>Harbour {h}board meets</h1>"
    + "".join(
        f"<p>The harbour board{{h}} met on Monday to settle the matter of quay {n} at length, and "
        "agreed after a long debate that it deserved another hearing within the month.</p>"
        for n in range(4)
    )
    + "</article></body></html>"
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_crawled_record_holds_no_control_characters(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        base = site.base_url
        site.pages["/feed.xml"] = (
            "application/rss+xml",
            f'<rss version="2.0"><channel><item><title>Feed {HOSTILE}title</title>'
            f"<link>{base}/harbour.html</link></item></channel></rss>".encode(),
        )
        site.pages["/harbour.html"] = ("text/html; charset=utf-8", PAGE.format(h=HOSTILE).encode())
        archive = tmp_path / "archive"
        config = local_config(
            tmp_path / "crawl.toml",
            archive,
            f'[[source]]\nname = "hostile"\nfeeds = ["{base}/feed.xml"]\n'
            'allowed_domains = ["127.0.0.1"]\n',
        )
        result = newsarchive("crawl", "--config", config, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    (record,) = records_of(archive)
    found = {text for text in _strings(record) if CONTROL.search(text)}
    assert not found
    assert record["title"].startswith("Harbour ") and record["title"].endswith("board meets")
    assert record["authors"] and record["authors"][0].startswith("Ann ")
    assert record["text"].count("\n\n") == 3, "paragraphs kept"
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0


def test_feed_titles_and_articles_are_stripped_wherever_they_are_made() -> None:
    body = f'<rss version="2.0"><channel><item><title>A {HOSTILE}b</title><link>/a</link></item>'
    (entry,) = parse_feed(f"{body}</channel></rss>".encode(), "https://news.example/").entries
    assert entry.title is not None and not CONTROL.search(entry.title)
    article = Article(title="\x1b\x07", authors=("\x9b", "Ann\rLee"), text="a\r\nb\x00\tc")
    assert article == Article(title=None, authors=("Ann\nLee",), text="a\nb\tc")


def test_strip_controls_keeps_tabs_newlines_and_format_characters() -> None:
    assert strip_controls("a\tb\nc\r\nd\re\x7f\x80\x9f\u200d\u200f\u2028") == (
        "a\tb\nc\nd\ne\u200d\u200f\u2028"
    )


def test_raw_controls_without_a_reference_are_found_and_stripped_from_the_tree() -> None:
    """DEL and C1 controls sent raw, with no character reference beside them, reach lxml's tree:
    the page is searched for them (in its UTF-8 bytes, where a C1 control is C2 80 to C2 9F and
    a no-break space C2 A0 is none), and the tree is cleaned."""
    for control in ("\x7f", "\x85", "\x9b"):
        markup = (
            f'<html><body><p title="quay{control}4">Harbour{control}\u00a0board</p></body></html>'
        )
        tree = load_html(markup)
        strip_tree_controls(tree, markup)
        paragraph = tree.find(".//p")
        assert (paragraph.text, paragraph.get("title")) == ("Harbour\u00a0board", "quay4")
