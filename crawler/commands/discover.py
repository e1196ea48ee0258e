"""Find a site's RSS/Atom feeds and news sitemaps and print a ready `[[source]]` table.

Give it the outlet's home page (or any of its pages, or a feed). It reads the page's
<link rel="alternate"> feed links, robots.txt's Sitemap: lines and the common feed and sitemap
paths (/feed, /rss.xml, /atom.xml, /sitemap.xml ...), fetches each candidate and keeps those the
crawl can read. Requests follow the [crawl] settings of --config (user agent, timeout,
max_page_bytes, delay, robots.txt, allow_private_addresses), or their defaults.

Examples:
  newsarchive discover https://www.theguardian.com/
  newsarchive discover https://example.com/ --config sources.toml >> sources.toml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from archive.errors import UsageError
from archive.table import cell_text
from crawler.config import CrawlSettings, load_config
from crawler.discover import discover

NAME = "discover"
HELP = "find a site's feeds and sitemaps; print a ready [[source]] table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the outlet's home page, any page, or a feed")
    parser.add_argument(
        "--config", type=Path, help="config file (TOML); its [crawl] settings are used"
    )


def run(args: argparse.Namespace) -> int:
    crawl = load_config(args.config).crawl if args.config else CrawlSettings()
    try:
        found = discover(args.url, crawl)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(found.source_toml(), end="")
    if not found.feeds and not found.sitemaps:
        print(f"newsarchive: no feed or sitemap found at {cell_text(found.url)}", file=sys.stderr)
        return 1
    return 0
