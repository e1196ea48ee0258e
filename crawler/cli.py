"""The `newsarchive` command: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 done (a crawl counts outside failures, it does not fail on them), 1 archive problem
(verify found problems, disk full), 2 bad config or usage, 75 another crawl holds the archive.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from archive.errors import NewsarchiveError
from archive.layout import ArchiveLayout
from archive.verify import verify_archive
from crawler.config import load_config

logger = logging.getLogger("newsarchive")


def _archive_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (TOML); its [archive].dir is used")
    parser.add_argument("--archive-dir", type=Path, help="archive directory (overrides the config)")


def _logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log (-vv: Scrapy's too)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    parser.add_argument("--log-file", type=Path, help="log here instead of stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Archive news feeds and sitemaps as WARC plus clean-text JSON records.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = commands.add_parser("crawl", help="one pass over every (or the named) source")
    crawl.add_argument("--config", type=Path, required=True, help="config file (TOML)")
    crawl.add_argument("--archive-dir", type=Path, help="archive directory (overrides the config)")
    crawl.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source (repeatable)",
    )
    crawl.add_argument("--json", action="store_true", help="print the summary as JSON")
    _logging_options(crawl)

    demo = commands.add_parser(
        "demo", help="crawl a bundled sample news site on 127.0.0.1, offline"
    )
    demo.add_argument(
        "--archive-dir",
        type=Path,
        default=Path("demo-archive"),
        help="where to archive (default: ./demo-archive)",
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    _logging_options(demo)

    verify = commands.add_parser("verify", help="check every WARC file and every JSON record")
    _archive_options(verify)
    return parser


def setup_logging(args: argparse.Namespace) -> None:
    """One line per event (time, level, logger, message), fit for journald or a log file."""
    level = logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING
    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if args.verbose >= 2 else level)
    if args.verbose < 2:  # Scrapy's own chatter only when asked for
        handler.addFilter(
            lambda r: (
                r.levelno >= logging.WARNING
                or r.name.startswith("newsarchive")
                or r.name.split(".")[0] in ("crawler", "pipelines", "archive")
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG)
    logging.captureWarnings(True)


def archive_layout(args: argparse.Namespace) -> ArchiveLayout:
    if args.archive_dir is not None:
        return ArchiveLayout(args.archive_dir.resolve())
    if args.config is not None:
        return ArchiveLayout(load_config(args.config).archive.dir)
    return ArchiveLayout(Path("data").resolve())


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler.run import run_crawl

    config = load_config(args.config, archive_dir=args.archive_dir)
    sources = config.select(args.source) if args.source else config.sources
    summary = run_crawl(config, sources, log_level="DEBUG" if args.verbose >= 2 else "WARNING")
    print(summary.as_json() if args.json else summary.as_line())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import run_demo

    return run_demo(args.archive_dir.resolve(), as_json=args.json)


def cmd_verify(args: argparse.Namespace) -> int:
    layout = archive_layout(args)
    problems = verify_archive(layout)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems in {layout.root}", file=sys.stderr)
        return 1
    print(f"archive {layout.root} verified: no problems")
    return 0


COMMANDS = {"crawl": cmd_crawl, "demo": cmd_demo, "verify": cmd_verify}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "verbose"):
        setup_logging(args)
    try:
        return COMMANDS[args.command](args)
    except NewsarchiveError as exc:
        print(f"newsarchive: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
