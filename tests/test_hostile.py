"""A hostile server, seen through the real CLI: what it tries ends counted, with one log line.

Each case is a `LocalSite` on 127.0.0.1 answering with the routes of tests/hostile.py. Cases
about robots.txt need a host of their own (robots.txt is fetched once per host and run): their
articles sit on one site, listed by a feed on another, so that it is the articles that
robots.txt refuses, not the feed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile import announce, error, flood, redirect, stall
from support import (
    EVENT,
    CliResult,
    LocalSite,
    Route,
    closed_port,
    local_config,
    newsarchive,
    serve,
    warc_records,
)

from crawler.summary import EXIT_UNAVAILABLE

ARTICLE = (
    "<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
    + "<p>The harbour board met on Monday to weigh story number {n}, and after a long and "
    "careful debate its members sent the question back to the committee for a month.</p>"
    * 3
    + "</article></body></html>"
)
REFRESH = '<html><head><meta http-equiv="refresh" content="0; url={to}"></head><body></body></html>'


def rss(urls: list[str]) -> tuple[str, bytes]:
    items = "".join(f"<item><title>{url}</title><link>{url}</link></item>" for url in urls)
    return "application/rss+xml", f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()


def story(n: int) -> tuple[str, bytes]:
    return "text/html", ARTICLE.format(n=n).encode()


def crawl(
    tmp_path: Path, feeds: list[str], *options: str, timeout: float = 2, exit_code: int = 0
) -> CliResult:
    """`newsarchive crawl --json` of one source listing `feeds` (every host on 127.0.0.1),
    which must exit with `exit_code`."""
    config = local_config(
        tmp_path / "crawl.toml",
        tmp_path / "archive",
        f'[[source]]\nname = "hostile"\nfeeds = {json.dumps(feeds)}\n'
        'allowed_domains = ["127.0.0.1"]\n',
        timeout=timeout,
    )
    result = newsarchive("crawl", "--config", config, "--json", *options, timeout=120)
    assert result.returncode == exit_code, result.stderr
    return result


def assert_one_line_per_event(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert "Traceback" not in stderr
    for line in lines:
        assert EVENT.match(line), f"not one event per line: {line!r}"
    return lines


@contextmanager
def articles_behind(robots: Route, paths: list[str]) -> Iterator[tuple[LocalSite, str]]:
    """A site whose robots.txt answers with `robots` and which serves a story at each path,
    and the URL of a feed listing them on another site."""
    site = LocalSite(pages={path: story(n) for n, path in enumerate(paths)})
    site.routes["/robots.txt"] = robots
    with serve(site), serve(LocalSite()) as lister:
        lister.pages["/feed.xml"] = rss([site.base_url + path for path in paths])
        yield site, lister.base_url + "/feed.xml"


def fetched(site: LocalSite, paths: list[str]) -> list[str]:
    return [path for path in paths if site.count(path)]


def test_redirect_and_meta_refresh_loops_are_failed_articles(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        site.routes["/loop-a"] = redirect("/loop-b")
        site.routes["/loop-b"] = redirect(site.base_url + "/loop-a")
        site.pages["/refresh-a"] = ("text/html", REFRESH.format(to="/refresh-b").encode())
        site.pages["/refresh-b"] = ("text/html", REFRESH.format(to="/refresh-a").encode())
        site.pages["/story/1.html"] = story(1)
        listed = ["/loop-a", "/refresh-a", "/story/1.html"]
        site.pages["/feed.xml"] = rss([site.base_url + path for path in listed])
        base = site.base_url
        result = crawl(tmp_path, [base + "/feed.xml"])
    summary = result.summary()
    assert (summary["articles_new"], summary["articles_failed"]) == (1, 2)
    lines = assert_one_line_per_event(result.stderr)
    for start in ("/loop-a", "/refresh-a"):
        loop = [
            line
            for line in lines
            if f"failed: RedirectLoop: redirect loop: {base}{start} -> " in line
        ]
        assert len(loop) == 1, result.stderr
    assert all(site.count(path) == 1 for path in ("/loop-a", "/loop-b", "/refresh-a", "/refresh-b"))


def test_a_page_over_the_size_cap_is_one_failed_line(tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        site.pages["/huge.html"] = ("text/html", b"<p>" + b"x" * 1_100_000)  # cap: 1,000,000
        site.pages["/feed.xml"] = rss([site.base_url + "/huge.html"])
        result = crawl(tmp_path, [site.base_url + "/feed.xml"])
    assert result.summary()["articles_failed"] == 1
    lines = assert_one_line_per_event(result.stderr)
    assert len([line for line in lines if "/huge.html" in line]) == 1, result.stderr


@pytest.mark.parametrize(
    ("robots", "reason"),
    [
        (error(503), "HTTP 503"),
        (stall(), "TimeoutError"),
        (announce("text/plain", 50_000_000), "larger than download max size"),
    ],
    ids=["5xx", "never-answers", "over-the-size-cap"],
)
def test_unreachable_robots_txt_refuses_the_host(
    tmp_path: Path, robots: Route, reason: str
) -> None:
    paths = ["/story/1.html", "/story/2.html"]
    with articles_behind(robots, paths) as (site, feed):
        result = crawl(tmp_path, [feed], timeout=1)
    summary = result.summary()
    assert (summary["articles_refused"], summary["articles_new"]) == (2, 0)
    assert fetched(site, paths) == [], "RFC 9309: unreachable robots.txt, complete disallow"
    lines = assert_one_line_per_event(result.stderr)
    unreachable = [line for line in lines if "robots.txt" in line and "unreachable" in line]
    assert len(unreachable) == 3, result.stderr  # the host once, then each article refused
    assert all(reason in line for line in unreachable)
    assert sum(" refused: " in line for line in unreachable) == 2


def test_robots_txt_4xx_allows_everything(tmp_path: Path) -> None:
    paths = ["/story/1.html", "/story/2.html"]
    with articles_behind(error(404), paths) as (site, feed):
        result = crawl(tmp_path, [feed])
    assert result.summary()["articles_new"] == 2
    assert fetched(site, paths) == paths
    assert_one_line_per_event(result.stderr)


def test_huge_robots_txt_is_read_to_500_kib_only(tmp_path: Path) -> None:
    # 10 MB of rules; the last one, far past 500 KiB, would forbid everything.
    robots = flood(
        "text/plain",
        b"User-agent: *\nDisallow: /private/\n",
        b"Disallow: /archive/section/000000/\n",
        10_000_000,
        b"Disallow: /\n",
    )
    paths = ["/story/1.html", "/private/2.html"]
    with articles_behind(robots, paths) as (site, feed):
        result = crawl(tmp_path, [feed])
    summary = result.summary()
    assert (summary["articles_new"], summary["articles_refused"]) == (1, 1)
    assert fetched(site, paths) == ["/story/1.html"]
    lines = assert_one_line_per_event(result.stderr)
    assert sum("robots.txt" in line and "is over 512000 bytes" in line for line in lines) == 1
    stored = [
        int(record.rec_headers.get_header("Content-Length"))
        for _, record in warc_records(tmp_path / "archive")
        if record.rec_type == "response"
        and record.rec_headers.get_header("WARC-Target-URI") == site.base_url + "/robots.txt"
    ]
    assert len(stored) == 1 and stored[0] < 600 * 1024, "what was read, as read"


def test_unreachable_outlet_logs_one_line_per_event(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    feeds = [f"{base}/news.xml", f"{base}/world.xml"]
    # every feed failed and nothing was archived: an outage, which monitoring sees
    result = crawl(tmp_path, feeds, timeout=1, exit_code=EXIT_UNAVAILABLE)
    assert (result.summary()["feeds_polled"], result.summary()["feeds_failed"]) == (2, 2)
    lines = assert_one_line_per_event(result.stderr)
    # robots.txt unreachable, then each feed refused for it
    assert len(lines) == 3, result.stderr
    assert sum(feed in line for feed in feeds for line in lines) == 2
    quiet = crawl(tmp_path, feeds, "--quiet", timeout=1, exit_code=EXIT_UNAVAILABLE)
    assert quiet.stderr == "", "-q: errors only"
