"""Every archived version of one article, oldest first, with what changed between consecutive
versions: title, text and metadata, word by word. Removed words are shown as [-old-], added ones
as {+new+} (git's --word-diff=plain marks); long unchanged stretches are cut to "…".

URL may be any URL the article was found under, or the id of one of its records. Archived text is
shown with control characters escaped. --json gives the diffs as [op, text] segments, op being
"=" kept, "-" removed, "+" added, "…" cut.

examples:
  newsarchive history https://example.com/2024/08/14/reservoir-levels.html
  newsarchive history 5439ba8c811d19081bc831c7892965e1 --json
"""

from __future__ import annotations

import argparse
import json

from archive.history import format_history, history_of
from archive.table import for_terminal, terminal_safe
from crawler.commands.arguments import archive_collection, article_options

NAME = "history"
HELP = "every version of an article, with a word diff between consecutive ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    article_options(parser, "URL", "a URL of the article (or one record's id)")


def run(args: argparse.Namespace) -> int:
    canonical, versions = history_of(archive_collection(args), args.key)
    if args.json:
        document = {"canonical_url": canonical, "versions": [v.as_dict() for v in versions]}
        print(json.dumps(document, ensure_ascii=False), file=for_terminal())
    else:
        print(*format_history(versions, terminal_safe), sep="\n")
    return 0
