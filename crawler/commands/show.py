"""Show one archived record: its metadata and text, every version of its article, the records
that duplicate it (or the one it duplicates), and where its WARC record lies (file, offset,
record id), to open it with warcio or replay it.

ID is a record id; a URL may be any URL the article was found under (the latest version is
shown). Archived text is shown with control characters escaped.

examples:
  newsarchive show 5439ba8c811d19081bc831c7892965e1
  newsarchive show https://example.com/2024/08/14/reservoir-levels.html --json
"""

from __future__ import annotations

import argparse
import json

from archive.show import format_view, show_article
from archive.table import for_terminal, terminal_safe
from crawler.commands.arguments import archive_collection, article_options

NAME = "show"
HELP = "one record: metadata, text, versions, duplicates, WARC location"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    article_options(parser, "ID|URL", "a record id, or a URL of the article")


def run(args: argparse.Namespace) -> int:
    view = show_article(archive_collection(args), args.key)
    if args.json:
        print(json.dumps(view.as_dict(), ensure_ascii=False), file=for_terminal())
    else:
        print(*format_view(view, terminal_safe), sep="\n")
    return 0
