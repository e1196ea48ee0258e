"""`newsarchive serve` in a real browser (headless Chromium through Selenium), and over HTTP.

The archive is the sample site's, plus two hostile pages of a local site: one whose title holds
a script, one whose body runs a script that would rewrite the page.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import pytest
from archives import copy_archive
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support import (
    REPO,
    LocalSite,
    background_crawl,
    closed_port,
    local_config,
    newsarchive,
    records_of,
    serve,
    write_config,
)

from crawler.sample_server import SampleSite

pytestmark = pytest.mark.start_early  # runs for minutes: see conftest.py

CHROMEDRIVER = shutil.which("chromedriver")
HOSTILE_TITLE = "Council vote <script>window.pwned = 1</script> recount"
SCRIPTED = (
    "<html><head><title>Scripted page</title></head><body><article><h1>Scripted page</h1>"
    '<p id="status">static text as archived</p>'
    + "<p>The harbour board approved the new ferry timetable after a long debate on the costs "
    "and the expected number of passengers during the winter months.</p>"
    * 3
    + "<script>document.getElementById('status').textContent = 'script ran';</script>"
    "</article></body></html>"
)


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, site: SampleSite, crawled_twice: Path
) -> Path:
    """The site crawled twice, plus hostile pages; its config beside it, as a user keeps it."""
    root = copy_archive(crawled_twice, tmp_path_factory.mktemp("serve"))
    write_config(root.parent / "sources.toml", site, root)
    hostile = HOSTILE_TITLE.replace("<", "&lt;").replace(">", "&gt;")
    body = "<p>The council recount ended late on Sunday after a week of disputes over ballots.</p>"
    with serve(LocalSite()) as local:
        base = local.base_url
        local.pages["/titled.html"] = (
            "text/html",
            f"<html><head><title>{HOSTILE_TITLE}</title></head><body><article>"
            f"<h1>{hostile}</h1>{body * 4}</article></body></html>".encode(),
        )
        local.pages["/scripted.html"] = ("text/html", SCRIPTED.encode())
        items = "".join(
            f"<item><title>t</title><link>{base}/{name}.html</link></item>"
            for name in ("titled", "scripted")
        )
        local.pages["/feed.xml"] = (
            "application/rss+xml",
            f'<rss version="2.0"><channel>{items}</channel></rss>'.encode(),
        )
        config = local_config(
            root.parent / "hostile.toml",
            root,
            f'[[source]]\nname = "hostile"\nfeeds = ["{base}/feed.xml"]\n',
        )
        done = newsarchive("crawl", "--config", config)
        assert done.returncode == 0, done.stderr
    return root


@contextmanager
def _serving(archive: Path, *options: str) -> Iterator[str]:
    """`newsarchive serve` on a free loopback port, as a user starts it; its base URL."""
    port = closed_port()
    command = [sys.executable, "-m", "crawler", "serve", "--archive-dir", archive]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"serve did not start: {process.stderr.read() if process.stderr else ''}")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def app(archive: Path) -> Iterator[str]:
    with _serving(archive) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if CHROMEDRIVER is None:
        pytest.skip("chromedriver is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _record(archive: Path, url_part: str) -> dict[str, object]:
    return next(r for r in records_of(archive) if url_part in str(r["url"]))


def test_search_finds_the_seed_article_by_a_phrase(app: str, browser: WebDriver) -> None:
    driver = browser
    driver.get(app + "/")
    box = driver.find_element(By.ID, "q")
    box.send_keys('"Elon Musk"')
    box.submit()
    results = driver.find_elements(By.CSS_SELECTOR, "#results .result")
    titles = [r.find_element(By.CLASS_NAME, "title").text for r in results]
    assert any("Trump and Elon Musk interview" in title for title in titles), titles
    marks = driver.find_elements(By.CSS_SELECTOR, "#results mark")
    assert marks and all(mark.text.lower() in ("elon", "musk") for mark in marks)


def test_article_page_shows_clean_text(app: str, archive: Path, browser: WebDriver) -> None:
    seed = _record(archive, "trump-musk-interview")
    browser.get(f"{app}/articles/{seed['id']}")
    text = browser.find_element(By.ID, "text").text
    assert "historic event" in text
    assert "Skip to content" not in browser.page_source
    assert browser.find_element(By.ID, "title").text == seed["title"]


def test_a_title_holding_a_script_runs_nothing(app: str, archive: Path, browser: WebDriver) -> None:
    record = _record(archive, "/titled.html")
    assert "<script>" in str(record["title"])
    for path in (f"/articles/{record['id']}", "/?q=recount"):
        browser.get(app + path)
        assert browser.execute_script("return window.pwned === undefined")
    shown = browser.find_element(By.CSS_SELECTOR, "#results .title").text
    assert "<script>window.pwned = 1</script>" in shown


def test_the_captured_page_renders_with_scripts_blocked(
    app: str, archive: Path, browser: WebDriver
) -> None:
    record = _record(archive, "/scripted.html")
    browser.get(f"{app}/articles/{record['id']}/capture")
    frame = browser.find_element(By.ID, "capture")
    browser.switch_to.frame(frame)
    try:
        status = browser.find_element(By.ID, "status").text
        heading = browser.find_element(By.TAG_NAME, "h1").text
    finally:
        browser.switch_to.default_content()
    assert heading == "Scripted page"
    assert status == "static text as archived"
    # Opened on its own, outside the frame, the capture is still sandboxed by its header.
    browser.get(f"{app}/captured/{record['id']}")
    assert browser.find_element(By.ID, "status").text == "static text as archived"


def test_the_dashboard_chart_draws(app: str, browser: WebDriver) -> None:
    browser.get(app + "/sources")
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart rect.fetched")
    assert max(bar.size["height"] for bar in bars) > 50
    sources = browser.find_element(By.ID, "sources").text
    for name in ("daily", "gazette", "herald", "wire", "hostile"):
        assert name in sources


def _get(url: str, **headers: str) -> tuple[int, Message, bytes]:
    """Status, headers (names case-insensitive) and body of a GET."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_bad_requests_are_answered_not_crashed(app: str) -> None:
    for path, status in (
        ("/articles/no-such-id", 404),
        ("/api/articles/..%2F..%2Fetc%2Fpasswd", 404),
        ("/?page=99999999999999999999", 400),
        ("/?page=x", 400),
        ("/api/search?q=%22unterminated", 400),
        ("/?since=yesterday", 400),
        ("/captured/nope", 404),
    ):
        code, headers, body = _get(app + path)
        assert code == status, (path, body[:200])
        assert headers.get("Content-Security-Policy")
    code, _, body = _get(app + "/api/search?q=musk")
    assert code == 200 and json.loads(body)["results"]


def test_api_mirrors_the_pages(app: str, archive: Path) -> None:
    seed = _record(archive, "trump-musk-interview")
    code, _, body = _get(f"{app}/api/articles/{seed['id']}")
    assert code == 200 and json.loads(body)["record"] == seed
    code, headers, body = _get(f"{app}/articles/{seed['id']}/record.json")
    assert code == 200 and json.loads(body) == seed
    assert "attachment" in headers.get("Content-Disposition", "")
    code, _, body = _get(app + "/api/sources")
    names = {s["source"] for s in json.loads(body)["sources"]}
    assert {"daily", "hostile"} <= names


def test_serving_changes_no_byte_of_the_archive(app: str, archive: Path) -> None:
    def fingerprint() -> dict[str, str]:
        return {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in archive.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))
        }

    seed = _record(archive, "trump-musk-interview")["id"]
    before = fingerprint()
    for path in (
        "/",
        "/?q=council&order=newest",
        "/sources",
        "/api/sources",
        "/api/search?q=musk",
        f"/articles/{seed}",
        f"/api/articles/{seed}",
        f"/articles/{seed}/diff",
        f"/articles/{seed}/capture",
        f"/articles/{seed}/raw",
        f"/captured/{seed}",
        f"/articles/{seed}/record.json",
        "/export?q=council&format=jsonl",
        "/export?q=council&format=parquet",
    ):
        assert _get(app + path)[0] == 200, path
    assert fingerprint() == before


def test_other_addresses_need_a_token(archive: Path) -> None:
    done = newsarchive("serve", "--archive-dir", archive, "--host", "0.0.0.0")
    assert done.returncode == 2 and "--token" in done.stderr


def test_a_token_is_required_when_set(archive: Path) -> None:
    with _serving(archive, "--token", "s3cret") as base:
        assert _get(base + "/")[0] == 401
        assert _get(base + "/api/sources", Authorization="Bearer wrong")[0] == 401
        assert _get(base + "/api/sources", Authorization="Bearer s3cret")[0] == 200
        code, headers, _ = _get(base + "/?token=s3cret")
        assert code == 200 and "newsarchive_token=s3cret" in headers.get("Set-Cookie", "")


def test_export_links_give_the_same_selection(app: str, archive: Path) -> None:
    code, _, page = _get(app + "/?q=council")
    assert code == 200 and b'href="/export?q=council&amp;format=jsonl"' in page
    code, headers, body = _get(app + "/export?q=council&format=jsonl")
    assert code == 200 and "attachment" in headers.get("Content-Disposition", "")
    exported = [json.loads(line) for line in body.splitlines()]
    _, _, found = _get(app + "/api/search?q=council")
    assert [r["id"] for r in exported][:20] == [r["id"] for r in json.loads(found)["results"]]
    code, _, body = _get(app + "/export?q=council&format=csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert code == 200 and [row["id"] for row in rows] == [r["id"] for r in exported]
    code, _, body = _get(app + "/export?q=council&format=parquet")
    assert code == 200 and body[:4] == b"PAR1"
    assert _get(app + "/export?format=exe")[0] == 400


def test_serve_answers_while_a_crawl_writes(tmp_path: Path) -> None:
    """Counts only grow, every answer is whole, and the app sees the crawl's records at once."""
    archive = tmp_path / "archive"
    with SampleSite(bulk_articles=300) as site:
        config = write_config(tmp_path / "sources.toml", site, archive)
        assert newsarchive("crawl", "--config", config, "--source", "wire").returncode == 0
        with _serving(archive) as base:
            before = _archived(base)
            seen = []
            with background_crawl(config, "--source", "bulk") as crawl:
                while crawl.running():
                    seen.append(_archived(base))
                done = crawl.finish(timeout=120)
            assert done.returncode == 0, done.stderr
            final = _archived(base)
    assert final == before + 300 == len(records_of(archive))
    assert seen and seen == sorted(seen) and all(before <= n <= final for n in seen)


def _archived(base: str) -> int:
    code, _, body = _get(base + "/api/sources")
    assert code == 200, body[:200]
    return sum(source["records"] for source in json.loads(body)["overview"]["sources"])


def test_the_diff_of_an_edited_article_marks_the_changed_sentence(
    app: str, archive: Path, browser: WebDriver
) -> None:
    edited = [r for r in records_of(archive) if "reservoir-levels" in str(r["url"])]
    latest = max(edited, key=lambda r: int(str(r["version"])))
    assert latest["version"] == 2
    browser.get(f"{app}/articles/{latest['id']}")
    browser.find_element(By.CSS_SELECTOR, "#versions a.diff").click()
    added = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, "#change-text ins"))
    removed = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, "#change-text del"))
    assert "temporary ban on using hosepipes" in added
    assert "Wednesday" in added and "Tuesday" in removed
    assert "Millbrook Reservoir" in browser.find_element(By.ID, "change-text").text


def test_duplicates_are_shown_both_ways(app: str, archive: Path, browser: WebDriver) -> None:
    copy = next(r for r in records_of(archive) if r["duplicate_of"])
    browser.get(f"{app}/articles/{copy['id']}")
    link = browser.find_element(By.CSS_SELECTOR, "#duplicate-of a")
    link.click()
    shown = browser.find_element(By.ID, "duplicates").text
    assert str(copy["url"]) in shown


def test_with_its_config_the_dashboard_shows_schedules_and_retry_lists(archive: Path) -> None:
    with _serving(archive, "--config", str(archive.parent / "sources.toml")) as base:
        code, _, body = _get(base + "/api/sources")
        page = _get(base + "/sources")[2].decode()
    assert code == 200
    daily = next(s for s in json.loads(body)["sources"] if s["source"] == "daily")
    assert daily["schedule"] and daily["outcome"] == "finished"
    assert daily["retries"]["waiting"] > 0, "the sample site's 404 and 500 pages wait for a retry"
    assert f"{daily['retries']['waiting']} waiting" in page and daily["schedule"] in page
    errors = daily["last_run"]["counts"]["errors"]
    assert errors and all(line.startswith("WARNING daily: ") for line in errors), errors
    assert "warnings and errors in its last run" in page and html.escape(errors[0]) in page
    assert "bytes in all" in page


def test_a_search_pages_best_match_or_newest_first(app: str) -> None:
    def ids(query: str) -> list[tuple[str, str]]:
        found = json.loads(_get(f"{app}/api/search?{query}")[2])["results"]
        return [(r["id"], r["published"] or r["fetched_at"]) for r in found]

    best = ids("q=council")
    newest = ids("q=council&order=newest")
    assert sorted(best) == sorted(newest) and len(best) > 2
    assert [time for _, time in newest] == sorted((time for _, time in newest), reverse=True)
    everything = ids("order=newest")
    first, second = ids("order=newest&page=1"), ids("order=newest&page=2")
    assert first == everything[:20] and (len(everything) <= 20 or second[0] == everything[20])
