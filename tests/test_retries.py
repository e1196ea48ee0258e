"""End to end: articles that fail go on a retry list with growing waits, then are given up, and
their feed keeps its conditional GET throughout.

One feed on 127.0.0.1 lists a story that is there, one that is missing (404), one on a port
nobody listens on (its robots.txt cannot be read, so it is refused) and one robots.txt
forbids. Four runs of the real `newsarchive crawl`, with `retry_attempts = 2` and
`retry_after = "10s"`:

1. each failing article is tried once and goes on the retry list;
2. the feed changed (a new story): the failed articles are listed again but wait for their time;
3. the wait is over, the feed is unchanged (304): the failed articles are tried from the retry
   list; the 404 and the dead link fail again and are given up; robots.txt now allows the last,
   which is archived and leaves the list;
4. nothing is tried again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from support import (
    LocalSite,
    closed_port,
    local_config,
    newsarchive,
    records_of,
    serve,
    story_feed,
    story_page,
)

WAIT = 10.0  # longer than a run takes on a loaded machine: run 2 comes before it is over
FORBIDDEN = "/private/9.html"


def _feed(base: str, dead: str, numbers: range) -> tuple[str, bytes]:
    """The feed: stories `numbers` (story 1 is never served), the dead link, the forbidden one."""
    content_type, body = story_feed(base, numbers)
    extra = f"<item><link>{dead}</link></item><item><link>{base}{FORBIDDEN}</link></item>"
    return content_type, body.replace(b"</channel>", extra.encode() + b"</channel>")


def test_failed_articles_are_retried_with_backoff_then_given_up(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    dead = f"http://127.0.0.1:{closed_port()}/story/dead.html"
    with serve(LocalSite()) as site:
        base = site.base_url
        site.pages["/robots.txt"] = ("text/plain", b"User-agent: *\nDisallow: /private/\n")
        site.pages["/feed.xml"] = _feed(base, dead, range(2))
        for n in (0, 2):
            site.pages[f"/story/{n}.html"] = story_page(n)
        site.pages[FORBIDDEN] = story_page(9)
        config = local_config(
            tmp_path / "c.toml",
            archive,
            f'[[source]]\nname = "local"\nfeeds = ["{base}/feed.xml"]\n',
            timeout=10,  # robots.txt that times out would allow everything
            retry_attempts=2,
            retry_after=f"{WAIT:.0f}s",
        )

        def crawl() -> dict[str, int]:
            done = newsarchive("crawl", "--config", config, "--json")
            assert done.returncode == 0, done.stderr
            return done.summary()

        first = crawl()
        first_done = time.monotonic()
        assert first["articles_new"] == 1
        # the dead link's host has no readable robots.txt: refused, as RFC 9309 says
        assert first["articles_failed"] == 1 and first["articles_refused"] == 2
        assert site.count("/story/1.html") == 1

        site.pages["/feed.xml"] = _feed(base, dead, range(3))
        second = crawl()
        assert second["articles_new"] == 1, "the new story"
        assert second["articles_deferred"] == 3, "the failed ones wait for their time"
        assert site.count("/story/1.html") == 1, "a 404 is not fetched again at once"

        site.pages["/robots.txt"] = ("text/plain", b"User-agent: *\nDisallow:\n")
        time.sleep(max(0.0, first_done + WAIT + 0.5 - time.monotonic()))
        third = newsarchive("crawl", "--config", config, "--json")
        assert third.returncode == 0, third.stderr
        assert third.summary()["feeds_not_modified"] == 1
        assert third.summary()["articles_new"] == 1, "robots.txt allows it now"
        assert site.count("/story/1.html") == 2, "tried again from the retry list"
        assert "try 2 of 2: given up" in third.stderr

        fourth = crawl()
        assert fourth["feeds_not_modified"] == 1
        assert site.count("/story/1.html") == 2 and site.count(FORBIDDEN) == 1

        feed_hits = [hit for hit in site.hits if hit.path == "/feed.xml"]
    assert [hit.status for hit in feed_hits] == [200, 200, 304, 304]
    assert all(hit.if_none_match for hit in feed_hits[1:]), "validators kept throughout"
    assert {r["final_url"] for r in records_of(archive)} == {
        f"{base}/story/0.html",
        f"{base}/story/2.html",
        f"{base}{FORBIDDEN}",
    }
    status = json.loads(newsarchive("status", "--config", config, "--json").stdout)
    assert status["sources"][0]["retries"] == {"waiting": 0, "given_up": 2}
    shown = newsarchive("status", "--config", config).stdout
    assert "retries:  0 articles to try again, 2 given up" in shown
    stats = json.loads(newsarchive("stats", "--archive-dir", archive, "--json").stdout)
    assert stats["retries"] == {"local": {"waiting": 0, "given_up": 2}}
