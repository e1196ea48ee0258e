"""Arguments several commands share: where the archive is, logging, and the record filters."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from archive.collection import Collection
from archive.errors import UsageError
from archive.layout import ArchiveLayout
from archive.query import RANK_WINDOW, Filters, time_bound
from crawler.cluster import CLUSTER_ENV
from crawler.config import load_config


def archive_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (TOML); its [archive].dir is used")
    parser.add_argument("--archive-dir", type=Path, help="archive directory (overrides the config)")


def collection_options(parser: argparse.ArgumentParser) -> None:
    """What the readers of a collection take: `archive_options`, `--archive-dir` repeatable."""
    parser.add_argument(
        "--config",
        type=Path,
        help="config file (TOML); its [collection].shards are read, else its [archive].dir",
    )
    parser.add_argument(
        "--archive-dir",
        type=Path,
        action="append",
        help="archive directory (overrides the config); repeated: the shards of a collection,"
        " read as one",
    )


def article_options(parser: argparse.ArgumentParser, metavar: str, help: str) -> None:
    """What `show` and `history` take: which article, which archive, and --json."""
    parser.add_argument("key", metavar=metavar, help=help)
    collection_options(parser)
    parser.add_argument("--json", action="store_true", help="print it as one JSON object")


def logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log (-vv: Scrapy's too)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    parser.add_argument("--log-file", type=Path, help="log here instead of stderr")


_FROM_ENV = object()


def cluster_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--cluster",
        nargs="?",
        const=_FROM_ENV,
        metavar="URL",
        help=f"{help}. URL: redis://:PASSWORD@HOST:PORT/DB (rediss:// for TLS); --cluster alone "
        f"reads it from ${CLUSTER_ENV}, which keeps the password out of the process list",
    )


def cluster_url(args: argparse.Namespace) -> str | None:
    """The `--cluster` URL of `args`, from the environment if given without one; None if not
    given."""
    if args.cluster is not _FROM_ENV:
        return str(args.cluster) if args.cluster else None
    url = os.environ.get(CLUSTER_ENV)
    if not url:
        raise UsageError(f"--cluster without a URL reads ${CLUSTER_ENV}, which is not set")
    return url


def log_args(args: argparse.Namespace) -> list[str]:
    """The logging options of `args` as arguments for a crawl subprocess (the log file's path
    made absolute: the subprocess may run elsewhere)."""
    found = ["-v"] * args.verbose + (["-q"] if args.quiet else [])
    if args.log_file:
        found += ["--log-file", str(args.log_file.resolve())]
    return found


def filter_options(parser: argparse.ArgumentParser, default_limit: int | None) -> None:
    parser.add_argument("--source", action="append", default=[], metavar="S", help="repeatable")
    parser.add_argument(
        "--since", metavar="DATE", help="published on/after DATE (fetch time if none was found)"
    )
    parser.add_argument(
        "--until", metavar="DATE", help="published up to DATE, inclusive (fetch time if none)"
    )
    parser.add_argument(
        "--search",
        metavar="TEXT",
        help="full text over title + text, best match first. Words as typed (all must appear;"
        ' punctuation is no syntax), "a phrase", -word or NOT word, a OR b, prefix*; title: first'
        " searches titles alone; fts: first takes SQLite FTS5 query syntax. Over"
        f" {RANK_WINDOW:,} matches: title matches first, then newest (with a limit: of the"
        f" {RANK_WINDOW:,} most recently archived)",
    )
    parser.add_argument("--language", action="append", default=[], metavar="L", help="e.g. en")
    parser.add_argument(
        "--include-duplicates", action="store_true", help="also records duplicating another URL"
    )
    parser.add_argument("--all-versions", action="store_true", help="not only the latest version")
    parser.add_argument(
        "--limit",
        type=count,
        default=default_limit,
        metavar="N",
        help=f"at most N records (default: {default_limit or 'all'}; 0: all)",
    )


def count(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def day(text: str) -> date:
    """An argparse type: a date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None


def record_filters(args: argparse.Namespace) -> Filters:
    return Filters(
        sources=tuple(args.source),
        since=time_bound(args.since) if args.since else None,
        until=time_bound(args.until, end=True) if args.until else None,
        search=args.search,
        languages=tuple(args.language),
        include_duplicates=args.include_duplicates,
        all_versions=args.all_versions,
        limit=args.limit or None,
    )


def archive_collection(args: argparse.Namespace) -> Collection:
    """The archives a reader reads (see `collection_options`): the `--archive-dir`s, else the
    config's `[collection]` shards or its `[archive].dir`, else ./data."""
    if args.archive_dir:
        return Collection.of(*(path.resolve() for path in args.archive_dir))
    if args.config is not None:
        config = load_config(args.config)
        return Collection.of(*(config.collection or (config.archive.dir,)))
    return Collection.of(Path("data").resolve())


def archive_layout(args: argparse.Namespace) -> ArchiveLayout:
    if args.archive_dir is not None:
        return ArchiveLayout(args.archive_dir.resolve())
    if args.config is not None:
        return ArchiveLayout(load_config(args.config).archive.dir)
    return ArchiveLayout(Path("data").resolve())
