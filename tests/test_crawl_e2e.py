"""End to end: the real `newsarchive crawl` against the sample news site, read back from disk.

One archive goes through three runs: the first crawl, the same site again (nothing new may be
written), and the site's second generation (one article edited, new ones published).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from support import CliResult, newsarchive, records_of, warc_records, write_config
from warcio.archiveiterator import ArchiveIterator

from archive.records import record_validator
from archive.urls import canonical_url
from crawler.sample_server import SampleSite


@dataclass
class History:
    archive: Path
    config: Path
    site: SampleSite
    runs: dict[str, CliResult]
    records: dict[str, list[dict[str, Any]]]
    broken_hits: dict[str, int]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("e2e")
    archive = root / "archive"
    with SampleSite(slow_seconds=3.0) as site:
        config = write_config(root / "sources.toml", site, archive)
        runs: dict[str, CliResult] = {}
        records: dict[str, list[dict[str, Any]]] = {}
        broken_hits: dict[str, int] = {}
        for name, generation in (("first", 1), ("again", 1), ("second", 2)):
            site.generation = generation
            runs[name] = newsarchive("crawl", "--config", config, "--json")
            assert runs[name].returncode == 0, runs[name].stderr
            records[name] = records_of(archive)
            broken_hits[name] = site.hits("daily", "/broken.html")
        yield History(archive, config, site, runs, records, broken_hits)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(got: str, want: str) -> float:
    got_counts, want_counts = Counter(words(got)), Counter(words(want))
    overlap = sum((got_counts & want_counts).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got_counts.values())
    recall = overlap / sum(want_counts.values())
    return 2 * precision * recall / (precision + recall)


def by_canonical(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record["canonical_url"], []).append(record)
    return grouped


def primary_truths(site: SampleSite, generation: int) -> list[Any]:
    """Articles that must have a record of their own text: not an AMP/print alias, not a
    syndicated copy, not the page slower than the timeout."""
    return [
        t
        for t in site.truth()
        if generation in t.generations
        and t.canonical_of is None
        and t.syndicated_of is None
        and not t.slow
    ]


# --- the first run --------------------------------------------------------------------------


def test_first_run_counts_every_kind_of_outcome(history: History) -> None:
    summary = history.runs["first"].summary()
    assert summary["sources"] == 4
    assert summary["feeds_failed"] >= 2, "truncated and billion-laughs feeds count as failed"
    assert summary["articles_refused"] >= 2, "robots.txt disallow and the private address"
    assert summary["articles_off_site"] >= 1, "a link to another outlet is off-site"
    assert summary["sitemaps_polled"] >= 1, "the gazette's news sitemap, counted apart"
    # Pages met again under another URL (a redirect, a print version) in the first crawl of
    # an empty archive are already archived, not "unchanged": nothing was rechecked.
    assert summary["articles_unchanged"] == 0 and summary["articles_already_archived"] >= 2
    assert summary["articles_failed"] >= 4, "404, 500, slow page and huge page"
    assert summary["articles_duplicate"] >= 1, "the syndicated copy"
    assert summary["articles_new"] == len(primary_truths(history.site, 1))
    assert summary["articles_new"] == len(history.records["first"]) - summary["articles_duplicate"]
    assert summary["warc_bytes"] > 0


def test_every_article_archived_once_with_clean_text_and_metadata(history: History) -> None:
    grouped = by_canonical(history.records["first"])
    for truth in primary_truths(history.site, 1):
        found = grouped.get(canonical_url(truth.final_url), [])
        assert len(found) == 1, f"{truth.final_url}: {len(found)} records"
        record = found[0]
        if record["duplicate_of"]:  # a syndicated original fetched after its copy
            assert truth.final_url in {t.syndicated_of for t in history.site.truth()}
            continue
        assert record["title"] == truth.title
        assert record["authors"] == list(truth.authors)
        assert record["published"] == truth.published
        assert record["language"] == truth.language
        assert token_f1(record["text"], truth.text) >= 0.95, truth.final_url
        for boilerplate in truth.boilerplate:
            assert boilerplate not in record["text"], f"{boilerplate!r} in {truth.final_url}"
        assert "\n\n" in record["text"], "paragraphs are separated by a blank line"


def test_records_follow_the_schema_and_point_at_their_response_record(history: History) -> None:
    for record in history.records["first"]:
        record_validator().validate(record)
        pointer = record["warc"]
        path = history.archive / "warc" / pointer["filename"]
        with path.open("rb") as stream:
            stream.seek(pointer["offset"])
            member = stream.read(pointer["length"])
        warc = next(iter(ArchiveIterator(BytesIO(member))))
        assert warc.rec_type == "response"
        assert warc.rec_headers.get_header("WARC-Record-ID") == pointer["record_id"]
        assert warc.rec_headers.get_header("WARC-Payload-Digest") == pointer["payload_digest"]
        assert warc.rec_headers.get_header("WARC-Target-URI") == record["final_url"]


def test_seed_article_is_clean_and_complete(history: History) -> None:
    seed = next(r for r in history.records["first"] if "trump-musk" in r["canonical_url"])
    text = seed["text"]
    for junk in ("Skip to content", "Credit: Getty Images", "Getty Images", "More Content"):
        assert junk not in text
    assert text.startswith("The recent conversation between Elon Musk and Donald Trump")
    assert text.rstrip().endswith("Clearly, this is not a good moment in history for the two men.")
    assert "a DDoS attack" in text and "Venezuela" in text


def test_non_utf8_pages_decode_without_mojibake(history: History) -> None:
    texts = {t.final_url: t for t in history.site.truth()}
    charsets = set()
    for record in history.records["first"]:
        truth = texts.get(record["final_url"])
        if truth is None or truth.charset.lower() == "utf-8" or not record["text"]:
            continue
        assert "\ufffd" not in record["text"] and "â€" not in record["text"]
        assert token_f1(record["text"], truth.text) >= 0.95, record["final_url"]
        charsets.add(truth.charset.lower().replace("_", "-"))
    assert {"windows-1252", "shift-jis"} <= charsets


def test_tracking_variant_amp_and_print_copies_are_one_article(history: History) -> None:
    records = history.records["first"]
    seed = [r for r in records if "trump-musk" in r["canonical_url"]]
    assert len(seed) == 1, "the utm/fbclid variant from the politics feed is the same article"
    assert "utm_" not in seed[0]["canonical_url"] and "#" not in seed[0]["canonical_url"]
    for truth in history.site.truth():
        if truth.canonical_of:
            assert not [r for r in records if r["canonical_url"] == canonical_url(truth.final_url)]


def test_syndicated_copy_is_a_duplicate_of_the_original(history: History) -> None:
    records = {r["id"]: r for r in history.records["first"]}
    by_url = {r["final_url"]: r for r in records.values()}
    pairs = [(t.final_url, t.syndicated_of) for t in history.site.truth() if t.syndicated_of]
    assert pairs
    for copy_url, original_url in pairs:
        copy, original = by_url[copy_url], by_url[original_url]
        # Whichever was fetched second is the duplicate of the first.
        duplicate, first = (copy, original) if copy["duplicate_of"] else (original, copy)
        assert duplicate["duplicate_of"] == first["id"]
        assert duplicate["text"] is None and first["text"]
        assert duplicate["content_hash"] == first["content_hash"]


def test_refused_and_off_site_links_are_never_fetched(history: History, tmp_path: Path) -> None:
    site, edge = history.site, history.site.edge_cases()
    disallowed = edge["robots_disallowed"].removeprefix(site.base_url("gazette"))
    assert site.hits("gazette", disallowed) == 0
    # daily's feed lists a link-local URL and one on herald's host: a crawl of daily alone
    # refuses the first before connecting and never asks herald for the second.
    off_domain = edge["off_domain"].removeprefix(site.base_url("herald"))
    before = site.hits("herald", off_domain)
    config = write_config(tmp_path / "sources.toml", site, tmp_path / "archive")
    daily = newsarchive("crawl", "--config", config, "--source", "daily", "-v")
    assert daily.returncode == 0, daily.stderr
    assert f"daily: refused {edge['link_local']}" in daily.stderr
    assert f"daily: skipped off-site {edge['off_domain']}" in daily.stderr
    assert site.hits("herald", off_domain) == before


# --- WARC --------------------------------------------------------------------------------


def test_every_exchange_is_in_warc_with_right_digests(history: History) -> None:
    by_type: Counter[str] = Counter()
    uris: dict[str, set[int]] = {}
    files = sorted((history.archive / "warc").glob("*"))
    assert files and all(p.name.endswith(".warc.gz") for p in files), "no .open file left"
    for path in files:
        with path.open("rb") as stream:
            iterator = ArchiveIterator(stream, check_digests="raise")
            for index, record in enumerate(iterator):
                record.content_stream().read()
                assert record.rec_headers.protocol == "WARC/1.1"
                if index == 0:
                    assert record.rec_type == "warcinfo"
                by_type[record.rec_type] += 1
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    uris.setdefault(uri, set()).add(record.http_headers.get_statuscode())
    assert by_type["request"] == by_type["response"] + by_type["revisit"]
    statuses = {s for found in uris.values() for s in found}
    assert {"200", "301", "302", "404", "500"} <= statuses
    assert any(u.endswith("/robots.txt") for u in uris)
    assert any(u.endswith("/feed.xml") for u in uris)
    assert any(u.endswith("/sitemap_index.xml") for u in uris)
    assert any(u.endswith("/feeds/bomb.xml") for u in uris), "a hostile feed is still archived"


def test_gzip_pages_are_stored_as_received(history: History) -> None:
    """The payload stays content-encoded, as it crossed the wire (what replay tools expect)."""
    payloads = []
    for path in sorted((history.archive / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                encoding = record.http_headers and record.http_headers.get_header(
                    "Content-Encoding"
                )
                if record.rec_type == "response" and (encoding or "").lower() == "gzip":
                    payloads.append(record.raw_stream.read())
    assert payloads, "the site serves some pages gzip-encoded"
    for payload in payloads:
        assert payload[:2] == b"\x1f\x8b", "stored compressed"
        assert b"<html" in gzip.decompress(payload).lower()


def test_print_copy_with_identical_bytes_is_a_revisit(history: History) -> None:
    revisits = [
        record
        for _, record in warc_records(history.archive)
        if record.rec_type == "revisit"
        and record.rec_headers.get_header("WARC-Profile", "").endswith("identical-payload-digest")
    ]
    assert revisits
    assert all(r.rec_headers.get_header("WARC-Refers-To") for r in revisits)


# --- later runs ---------------------------------------------------------------------------


def test_second_run_on_unchanged_site_writes_no_record(history: History) -> None:
    summary = history.runs["again"].summary()
    assert history.records["again"] == history.records["first"]
    assert summary["articles_new"] == summary["articles_updated"] == 0
    assert summary["feeds_not_modified"] >= 3, "conditional GET on every unchanged feed"
    not_modified = [
        record
        for _, record in warc_records(history.archive)
        if record.rec_type == "revisit"
        and record.rec_headers.get_header("WARC-Profile", "").endswith("server-not-modified")
    ]
    assert not_modified, "a 304 is archived as a server-not-modified revisit"


def test_a_failed_article_waits_on_the_retry_list_and_its_feed_stays_conditional(
    history: History,
) -> None:
    # The 500 puts the page on the retry list (next try in an hour): not fetched again at once,
    # and its feed keeps its validators (the second run got only 304s from unchanged feeds).
    assert history.broken_hits["again"] == history.broken_hits["first"] > 0
    again = history.runs["again"].summary()
    assert again["feeds_not_modified"] == again["feeds_polled"] - again["feeds_failed"]


def test_second_generation_adds_a_version_and_the_new_articles(history: History) -> None:
    before = {r["id"] for r in history.records["again"]}
    added = [r for r in history.records["second"] if r["id"] not in before]
    summary = history.runs["second"].summary()
    updated = [r for r in added if r["version"] > 1]
    assert len(updated) == 1 == summary["articles_updated"]
    edited = updated[0]
    previous = next(r for r in history.records["first"] if r["id"] == edited["previous"])
    assert previous["canonical_url"] == edited["canonical_url"]
    assert previous["text"] != edited["text"]
    new = [r for r in added if r["version"] == 1]
    first_urls = {t.final_url for t in primary_truths(history.site, 1)}
    assert {r["final_url"] for r in new} == {
        t.final_url for t in primary_truths(history.site, 2) if t.final_url not in first_urls
    }
    assert summary["articles_new"] == len(new)


def test_verify_passes_on_what_the_crawls_wrote(history: History) -> None:
    result = newsarchive("verify", "--archive-dir", history.archive)
    assert result.returncode == 0, result.stdout
