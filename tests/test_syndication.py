"""Syndicated copies: which copy keeps the text does not depend on which was fetched first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import LocalSite, local_config, newsarchive, records_of, serve

pytestmark = pytest.mark.start_early  # runs for minutes: see conftest.py

STORIES = {
    # The copy names its source: that wins even over the copy's earlier publication date.
    "/shipping.html": ("2024-08-12T05:20:00Z", "2024-08-12T05:00:00Z", True),
    # Neither names the other: the earlier publication is the original.
    "/harbour.html": ("2024-08-12T05:20:00Z", "2024-08-12T09:00:00Z", False),
}


def _page(path: str, published: str, canonical: str | None) -> tuple[str, bytes]:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraph = (
        f"<p>The port authority said on Monday that traffic at {path} had recovered to its level "
        "of two years ago, and that the new cranes ordered last spring would arrive soon.</p>"
    )
    return "text/html", (
        f"<html><head><title>Story {path}</title>"
        f'<meta property="article:published_time" content="{published}">{link}</head>'
        f"<body><article><h1>Story {path}</h1>{paragraph * 4}</article></body></html>"
    ).encode()


def _feed(base: str) -> tuple[str, bytes]:
    items = "".join(f"<item><link>{base}{path}</link></item>" for path in STORIES)
    return "application/rss+xml", f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()


def _selection(archive: Path) -> dict[str, tuple[bool, str | None]]:
    """`query --include-duplicates`: per URL, whether it holds the text and which URL's record
    it names as the one holding it."""
    shown = newsarchive(
        "query", "--archive-dir", archive, "--include-duplicates", "--format", "jsonl"
    )
    assert shown.returncode == 0, shown.stderr
    url_of = {record["id"]: record["url"] for record in records_of(archive)}
    selected = [json.loads(line) for line in shown.stdout.splitlines()]
    return {r["url"]: (r["text"] is not None, url_of.get(r["duplicate_of"])) for r in selected}


def test_the_original_keeps_the_text_whichever_is_fetched_first(tmp_path: Path) -> None:
    with serve(LocalSite(), "127.0.0.1") as wire, serve(LocalSite(), "127.0.0.2") as daily:
        for path, (wire_date, copy_date, names_original) in STORIES.items():
            wire.pages[path] = _page(path, wire_date, None)
            named = wire.base_url + path if names_original else None
            daily.pages[path] = _page(path, copy_date, named)
        wire.pages["/feed.xml"], daily.pages["/feed.xml"] = (
            _feed(wire.base_url),
            _feed(daily.base_url),
        )
        sources = "".join(
            f'[[source]]\nname = "{name}"\nfeeds = ["{site.base_url}/feed.xml"]\n\n'
            for name, site in (("wire", wire), ("daily", daily))
        )
        selections: dict[str, Any] = {}
        # One crawl per source in each order, and both in one crawl (either order, same batch).
        for order in (("wire", "daily"), ("daily", "wire"), ("wire+daily",)):
            archive = tmp_path / "-".join(order)
            config = local_config(tmp_path / f"{archive.name}.toml", archive, sources)
            for source in order:
                only = ["--source", source] if "+" not in source else []
                crawl = newsarchive("crawl", "--config", config, *only, "--json")
                assert crawl.returncode == 0, crawl.stderr
            selections[archive.name] = _selection(archive)
    expected = {}
    for path in STORIES:
        original = wire.base_url + path
        expected |= {original: (True, None), daily.base_url + path: (False, original)}
    assert selections["wire-daily"] == expected
    assert selections["daily-wire"] == expected
    assert selections["wire+daily"] == expected
    # The copies fetched first kept their first records: new versions name the originals.
    archive = tmp_path / "daily-wire"
    copies = [r for r in records_of(archive) if r["url"].startswith(daily.base_url)]
    assert sorted((r["version"], r["text"] is not None) for r in copies) == [
        (1, True),
        (1, True),
        (2, False),
        (2, False),
    ]
    verify = newsarchive("verify", "--archive-dir", archive)
    assert verify.returncode == 0, verify.stdout
    assert newsarchive("reindex", "--archive-dir", archive).returncode == 0
    assert _selection(archive) == expected
