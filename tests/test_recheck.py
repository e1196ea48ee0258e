"""End to end: rechecks of articles already archived, against a site the test edits between runs.

A tiny news site on 127.0.0.1 lists three articles in one RSS feed. Every page carries a strong
ETag (a hash of its bytes) and honours If-None-Match, as real CMSs do. One archive goes through
four runs of the real `newsarchive crawl` (`EDITIONS`), then `newsarchive verify`:

1. the three articles are new;
2. an ad slot outside the article text rotates on one page (bytes change, text does not); the
   other two pages answer 304 to the conditional GET;
3. one article's text is edited; the page whose ad rotated is unchanged since run 2, so it must
   answer 304 to the validators that run 2 stored;
4. the recheck window is shortened to `SHORT_WINDOW` seconds or more, which run 1 is past and run 3
   is not: no article is requested.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import (
    CliResult,
    Hit,
    LocalSite,
    local_config,
    newsarchive,
    records_of,
    serve,
    warc_records,
)

from archive.records import record_validator
from archive.urls import canonical_url

FEED = "/feed.xml"
AD = "/news/ad-rotation.html"
STEADY = "/news/steady.html"
EDITED = "/news/edited.html"
HTML = "text/html; charset=utf-8"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

PARAGRAPHS = {
    AD: [
        "The harbour board voted on Monday to rebuild the northern breakwater after two winters "
        "of storms left the old stone wall cracked along most of its length.",
        "Engineers told the board that the repairs would take three summers, because the work can "
        "only go on while the sea is calm and the fishing fleet is away.",
        "Fishermen who use the harbour said they welcomed the decision but worried about where "
        "their boats would shelter while the cranes and barges are in the way.",
        "The board promised to publish a timetable for the works before the end of the month, "
        "together with the names of the firms invited to bid for the contract.",
    ],
    STEADY: [
        "The county library will open on Sundays from next month, the first time in twenty years "
        "that readers can borrow books at the weekend without a special appointment.",
        "Volunteers from the reading club offered to staff the front desk, and the council agreed "
        "to pay for heating and cleaning out of the money saved on the old mobile library.",
        "Librarians said that children's story hours would move to Sunday mornings, when parents "
        "had asked for them most often in the survey carried out last spring.",
        "The trial will last six months, after which the council will count the visitors and "
        "decide whether the Sunday opening becomes a permanent part of the service.",
    ],
    EDITED: [
        "A rare orchid has been found flowering in a railway cutting on the edge of town, "
        "botanists from the university confirmed after a walker sent them a photograph.",
        "The plant had not been recorded in the county since the nineteenth century, and experts "
        "believe its seeds may have arrived on the boots of hikers or in ballast stone.",
        "Network Rail said it would delay clearing the vegetation along the cutting until the "
        "flowers had set seed, and would fence off the patch from the footpath.",
        "The botanists plan to return in the autumn to count the plants and to collect a small "
        "amount of seed for the national seed bank in case the colony disappears.",
    ],
}
TITLES = {
    AD: "Harbour board backs breakwater rebuild",
    STEADY: "County library to open on Sundays",
    EDITED: "Rare orchid found in railway cutting",
}
EDITED_PARAGRAPH = (
    "Correction: the orchid was found by a railway worker inspecting the line, not by a walker, "
    "and it was he who sent the photograph to the botanists at the university."
)


def article_html(path: str, paragraphs: list[str], ad_slot: int) -> bytes:
    """A news page whose article text is `paragraphs`; `ad_slot` changes only page furniture."""
    body = "\n".join(f"<p>{text}</p>" for text in paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLES[path]} | Test Gazette</title>
<meta name="author" content="Ada Reporter">
<meta property="article:published_time" content="2024-08-13T09:00:00Z">
</head><body>
<header><nav><a href="/">Home</a> <a href="/local/">Local</a></nav></header>
<main><article><h1>{TITLES[path]}</h1>
<p class="byline">By Ada Reporter</p>
{body}
</article></main>
<aside class="advert" data-impression="{ad_slot * 7919}"><!-- ad slot {ad_slot} --></aside>
<footer><p>Copyright Test Gazette</p></footer>
</body></html>
"""
    return page.encode("utf-8")


def feed_xml(base: str, build: int) -> bytes:
    """The RSS feed; `build` changes its lastBuildDate, so every run gets a full feed."""
    items = "".join(
        f"<item><title>{TITLES[path]}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><pubDate>Tue, 13 Aug 2024 09:00:00 GMT</pubDate></item>"
        for path in (AD, STEADY, EDITED)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Test Gazette</title><link>{base}/</link><description>Local news</description>"
        f"<lastBuildDate>Wed, 14 Aug 2024 {build:02d}:00:00 GMT</lastBuildDate>{items}"
        "</channel></rss>\n"
    ).encode()


@dataclass
class Run:
    result: CliResult
    hits: list[Hit]
    records: list[dict[str, Any]]
    started: float  # time.monotonic() just before the crawl began

    def summary(self) -> dict[str, Any]:
        return self.result.summary()

    def hit(self, path: str) -> Hit:
        """The one request this run made for `path`."""
        (found,) = [hit for hit in self.hits if hit.path == path]
        return found


@dataclass
class History:
    archive: Path
    base: str
    runs: list[Run]
    verify: CliResult
    short_window: int  # the recheck window of the last run, in seconds

    def url(self, path: str) -> str:
        return self.base + path

    def records_for(self, run: int, path: str) -> list[dict[str, Any]]:
        return [
            r for r in self.runs[run].records if r["canonical_url"] == canonical_url(self.url(path))
        ]

    def captures(self, path: str) -> list[Any]:
        """WARC response and revisit records of `path`'s URL, oldest first: one per run that
        requested it."""
        return [
            record
            for _, record in warc_records(self.archive)
            if record.rec_type in ("response", "revisit")
            and record.rec_headers.get_header("WARC-Target-URI") == self.url(path)
        ]


@dataclass(frozen=True)
class Edition:
    """What the site serves during one run, and the recheck window that run is configured with."""

    ad_slot: int
    edited: bool
    recheck_seconds: int

    def pages(self) -> dict[str, tuple[str, bytes]]:
        text = dict(PARAGRAPHS)
        if self.edited:
            text[EDITED] = [EDITED_PARAGRAPH, *PARAGRAPHS[EDITED][1:]]
        return {
            path: (HTML, article_html(path, paragraphs, self.ad_slot if path == AD else 0))
            for path, paragraphs in text.items()
        }


DEFAULT_WINDOW = 48 * 3600
# Run 4 waits until run 1 is this old: the window is over if it counts from the first fetch, as
# it must, and not over if it counted from run 3's recheck, a few seconds earlier. On a loaded
# machine, where runs 2 and 3 alone take longer, the window is the whole seconds they took.
SHORT_WINDOW = 4
EDITIONS = (
    Edition(ad_slot=1, edited=False, recheck_seconds=DEFAULT_WINDOW),
    Edition(ad_slot=2, edited=False, recheck_seconds=DEFAULT_WINDOW),
    Edition(ad_slot=2, edited=True, recheck_seconds=DEFAULT_WINDOW),
    Edition(ad_slot=2, edited=True, recheck_seconds=SHORT_WINDOW),
)


def write_site_config(path: Path, archive: Path, feed_url: str, recheck_seconds: int) -> Path:
    return local_config(
        path,
        archive,
        f'[[source]]\nname = "gazette"\nfeeds = ["{feed_url}"]\nschedule = "*/30 * * * *"\n',
        recheck_window=f"{recheck_seconds}s",
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """Crawl every edition in turn into one archive, then verify it."""
    root = tmp_path_factory.mktemp("recheck")
    archive = root / "archive"
    with serve(LocalSite()) as site:
        base = site.base_url
        runs: list[Run] = []
        first_run_end = 0.0
        for number, edition in enumerate(EDITIONS):
            window = edition.recheck_seconds
            if window == SHORT_WINDOW:
                window = max(SHORT_WINDOW, math.ceil(time.monotonic() - first_run_end))
                time.sleep(max(0.0, first_run_end + window - time.monotonic()))
            config = write_site_config(root / "sources.toml", archive, base + FEED, window)
            with site.lock:
                site.pages = {FEED: ("application/rss+xml", feed_xml(base, number))}
                site.pages.update(edition.pages())
                site.hits = []
            started = time.monotonic()
            done = newsarchive("crawl", "--config", config, "--json", timeout=60)
            assert done.returncode == 0, done.stderr
            with site.lock:
                hits = list(site.hits)
            runs.append(Run(done, hits, records_of(archive), started))
            first_run_end = first_run_end or time.monotonic()
        verify = newsarchive("verify", "--archive-dir", archive, timeout=60)
        yield History(archive, base, runs, verify, window)


def kinds(captures: list[Any]) -> list[str]:
    """Each capture's kind: `response`, or `revisit/<profile>`."""
    return [
        c.rec_type + "/" + c.rec_headers.get_header("WARC-Profile").rsplit("/", 1)[-1]
        if c.rec_type == "revisit"
        else c.rec_type
        for c in captures
    ]


def payload_digest(capture: Any) -> str | None:
    digest: str | None = capture.rec_headers.get_header("WARC-Payload-Digest")
    return digest


def record_id(capture: Any) -> str | None:
    found: str | None = capture.rec_headers.get_header("WARC-Record-ID")
    return found


def test_first_run_archives_the_three_articles(history: History) -> None:
    """The baseline the rechecks compare against: one version-1 record per article."""
    assert history.runs[0].summary()["articles_new"] == 3
    for path in (AD, STEADY, EDITED):
        (record,) = history.records_for(0, path)
        record_validator().validate(record)
        assert record["version"] == 1 and record["previous"] is None
        assert PARAGRAPHS[path][1] in record["text"]


def test_changed_bytes_with_the_same_text_are_unchanged_but_captured(history: History) -> None:
    second = history.runs[1]
    summary = second.summary()
    assert second.hit(AD).status == 200, "the rotated ad changed the ETag: a full response"
    assert summary["articles_unchanged"] == 3
    assert summary["articles_new"] == summary["articles_updated"] == 0
    assert summary["articles_duplicate"] == 0
    assert second.records == history.runs[0].records, "no JSON record for an unchanged text"
    captures = history.captures(AD)
    assert kinds(captures[:2]) == ["response", "response"], "new bytes are stored, not revisited"
    assert payload_digest(captures[0]) != payload_digest(captures[1])
    (record,) = history.records_for(1, AD)
    assert record["warc"]["record_id"] == record_id(captures[0]), "the record keeps its capture"


def test_validators_of_an_unchanged_recheck_are_remembered(history: History) -> None:
    """Run 3 sends the ETag run 2 received for the rotated page and gets a 304: no refetch."""
    first, second, third = (history.runs[n].hit(AD) for n in range(3))
    assert third.if_none_match == second.etag != first.etag
    assert third.status == 304
    assert history.records_for(2, AD) == history.records_for(0, AD)
    assert kinds(history.captures(AD)[:3]) == [
        "response",
        "response",
        "revisit/server-not-modified",
    ]


def test_not_modified_recheck_is_a_server_not_modified_revisit(history: History) -> None:
    second = history.runs[1]
    hit = second.hit(STEADY)
    assert hit.if_none_match == history.runs[0].hit(STEADY).etag
    assert hit.status == 304
    assert history.records_for(1, STEADY) == history.records_for(0, STEADY)
    original, revisit, *_ = history.captures(STEADY)
    assert kinds([original, revisit]) == ["response", "revisit/server-not-modified"]
    assert revisit.rec_headers.get_header("WARC-Profile") == NOT_MODIFIED_PROFILE
    assert revisit.http_headers.get_statuscode() == "304"
    assert revisit.rec_headers.get_header("WARC-Refers-To") == record_id(original)
    assert payload_digest(revisit) == payload_digest(original)


def test_edited_text_is_a_second_version(history: History) -> None:
    third = history.runs[2]
    summary = third.summary()
    assert summary["articles_updated"] == 1
    assert summary["articles_new"] == 0
    assert summary["articles_unchanged"] == 2
    assert len(third.records) == len(history.runs[1].records) + 1
    first, second = history.records_for(2, EDITED)
    record_validator().validate(second)
    assert second["version"] == 2 and second["previous"] == first["id"] != second["id"]
    assert second["canonical_url"] == first["canonical_url"]
    assert second["content_hash"] != first["content_hash"]
    assert second["text"].startswith("Correction: the orchid was found by a railway worker")
    assert PARAGRAPHS[EDITED][0] not in second["text"]
    captures = history.captures(EDITED)[:3]
    assert kinds(captures) == ["response", "revisit/server-not-modified", "response"]
    assert second["warc"]["record_id"] == record_id(captures[-1])


def test_articles_past_the_recheck_window_are_not_requested(history: History) -> None:
    """The window counts from the first fetch: neither an unchanged recheck nor a new version
    makes an article look new to the catalog."""
    third, fourth = history.runs[2:]
    # + 1: the catalog keeps whole seconds, so a check may look up to a second older
    assert fourth.started - third.started + 1 < history.short_window, (
        "too slow to tell first fetch from last check"
    )
    summary = fourth.summary()
    assert summary["articles_already_archived"] == 3
    assert summary["articles_unchanged"] == summary["articles_new"] == 0
    assert summary["articles_updated"] == 0
    assert not [hit for hit in fourth.hits if hit.path in PARAGRAPHS]
    assert fourth.records == history.runs[2].records


def test_verify_passes_after_the_rechecks(history: History) -> None:
    assert history.verify.returncode == 0, history.verify.stdout + history.verify.stderr
