"""The `newsarchive` command: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 done (a crawl counts outside failures, it does not fail on them), 1 archive problem
(verify found problems, disk full), 2 bad config or usage, 69 a crawl where every feed and sitemap
failed (EX_UNAVAILABLE), 75 another crawl holds the archive (EX_TEMPFAIL), 141 the reader of
the output went away (`newsarchive query | head`), as SIGPIPE ends other tools.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from archive.errors import (
    ArchiveLockedError,
    ClusterUnavailableError,
    NewsarchiveError,
    UsageError,
)
from archive.reindex import reindex_archive
from archive.stats import DAY_COLUMNS
from archive.table import for_terminal, render_table, write_csv, write_jsonl
from archive.verify import verify_collection
from crawler.commands import EXTRA_COMMANDS
from crawler.commands.arguments import (
    archive_collection,
    archive_layout,
    cluster_option,
    cluster_url,
    collection_options,
    day,
    filter_options,
    log_args,
    logging_options,
    record_filters,
)
from crawler.commands.help import DESCRIPTIONS
from crawler.config import load_config

logger = logging.getLogger("newsarchive")
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Archive news feeds and sitemaps as WARC plus clean-text JSON records.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = commands.add_parser(
        "crawl",
        help="one pass over every (or the named) source",
        description="One pass over every (or the named) source. Exit codes: 0 done (failed feeds "
        "and pages are counted, not fatal), 1 archive problem, 2 bad config or usage, 69 every "
        "feed and sitemap failed (an outage), 75 another crawl holds the archive.",
    )
    crawl.add_argument("--config", type=Path, required=True, help="config file (TOML)")
    crawl.add_argument("--archive-dir", type=Path, help="archive directory (overrides the config)")
    crawl.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME",
        help="only this source (repeatable)",
    )
    crawl.add_argument(
        "--json",
        action="store_true",
        help='print the summary as one JSON line, also on failure ({"outcome": "locked", ...})',
    )
    cluster_option(
        crawl,
        "as a cluster worker does: share dedup lookups through this Redis (exit 69 if it cannot "
        "be reached or is lost mid-run); the archive dir is this worker's shard",
    )
    crawl.add_argument(
        "--worker-name",
        metavar="NAME",
        help="with --cluster: this worker's name, the prefix of its WARC files",
    )
    logging_options(crawl)

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
    logging_options(demo)

    verify = commands.add_parser("verify", help="check every WARC file and every JSON record")
    collection_options(verify)
    verify.add_argument(
        "--repair",
        action="store_true",
        help="first fix what is safe to fix (close .open WARCs, cut torn lines, rebuild catalog)",
    )

    reindex = commands.add_parser(
        "reindex",
        help="rebuild catalog.sqlite from WARC and records (--cluster: the collection's index)",
    )
    reindex.add_argument(
        "--config", type=Path, help="config file (TOML); its [archive].dir is used"
    )
    reindex.add_argument(
        "--archive-dir",
        type=Path,
        action="append",
        default=[],
        help="archive directory (overrides the config); with --cluster, a shard (repeatable)",
    )
    reindex.add_argument(
        "--cluster",
        metavar="URL",
        help="instead rebuild the collection's dedup index in this Redis from the shards "
        "(every --archive-dir); run it while no worker crawls",
    )

    wacz = commands.add_parser("wacz", help="package the archive as a WACZ 1.1.1 file")
    wacz.add_argument("out", type=Path, metavar="OUT.wacz", help="the file to write")
    collection_options(wacz)
    wacz.add_argument(
        "--source", action="append", default=[], metavar="S", help="only this source (repeatable)"
    )
    wacz.add_argument(
        "--since", type=day, metavar="D", help="only records fetched on/after D (YYYY-MM-DD)"
    )

    schedule = commands.add_parser(
        "schedule", help="daemon: crawl every source on its cron until SIGTERM/SIGINT"
    )
    schedule.add_argument("--config", type=Path, required=True, help="config file (TOML)")
    schedule.add_argument(
        "--archive-dir", type=Path, help="archive directory (overrides the config)"
    )
    cluster_option(
        schedule,
        "put due runs on this Redis's queue for `newsarchive worker`s instead of crawling here "
        "(exit 69 if it cannot be reached)",
    )
    logging_options(schedule)

    status = commands.add_parser("status", help="per source: last run, errors, next run")
    status.add_argument(
        "--config", type=Path, help="config file (TOML); needed unless --cluster is given"
    )
    status.add_argument("--archive-dir", type=Path, help="archive directory (overrides the config)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    cluster_option(
        status,
        "the cluster's workers, queue and sources from this Redis instead (with --config: only "
        "its sources)",
    )
    query = commands.add_parser("query", help="find archived articles (full text, filters)")
    collection_options(query)
    filter_options(query, default_limit=100)
    query.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        default="table",
        help="table: columns that fit the terminal; jsonl: the full records; csv: index columns",
    )

    sql = commands.add_parser("sql", help="SQL (DuckDB) over the views `articles` and `latest`")
    sql.add_argument("query", metavar="SQL", help='one SELECT, e.g. "SELECT count(*) FROM latest"')
    collection_options(sql)
    sql.add_argument("--format", choices=("table", "csv", "jsonl", "parquet"), default="table")
    sql.add_argument("--output", type=Path, metavar="FILE", help="write here (parquet needs it)")

    export = commands.add_parser("export", help="export records as Parquet, JSON Lines or CSV")
    export.add_argument("out", type=Path, metavar="OUT", help="the file to write")
    export.add_argument("--format", choices=("parquet", "jsonl", "csv"), required=True)
    collection_options(export)
    filter_options(export, default_limit=None)

    stats = commands.add_parser("stats", help="records per source per day, duplicates, failures")
    collection_options(stats)
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")
    stats.add_argument(
        "--by",
        choices=tuple(DAY_COLUMNS),
        default="fetched",
        help="count records per day they were fetched (default) or published",
    )
    for name, command in commands.choices.items():
        command.description = DESCRIPTIONS[name]
        command.formatter_class = argparse.RawDescriptionHelpFormatter
    for module in EXTRA_COMMANDS:
        module.add_arguments(
            commands.add_parser(
                module.NAME,
                help=module.HELP,
                description=module.__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    return parser


def _version() -> str:
    """The installed distribution's version (a source checkout not installed: "unknown")."""
    try:
        return metadata.version("newsarchive")
    except metadata.PackageNotFoundError:
        return "unknown"


# Loggers whose warnings announce a failure that the request's errback then logs as the event's
# one line: Scrapy's download handler on a response over the size cap or cut short.
LOGGED_AGAIN = ("scrapy.core.downloader.handlers.http11",)


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
                r.name not in LOGGED_AGAIN
                and (
                    r.levelno >= logging.WARNING
                    or r.name.startswith("newsarchive")
                    or r.name.split(".")[0] in ("crawler", "pipelines", "archive")
                )
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # No DEBUG records are built unless shown; WARNING always reaches the run's error list.
    root.setLevel(logging.DEBUG if args.verbose >= 2 else min(level, logging.WARNING))
    logging.captureWarnings(True)


# What `crawl --json` reports as the outcome of a run that could not start or finish.
_OUTCOMES = {ArchiveLockedError: "locked", ClusterUnavailableError: "cluster_unavailable"}


def cmd_crawl(args: argparse.Namespace) -> int:
    from crawler.cluster.member import cluster_member
    from crawler.run import run_crawl

    try:
        config = load_config(args.config, archive_dir=args.archive_dir)
        sources = config.select(args.source)
        url = cluster_url(args)
        member = cluster_member(url, args.worker_name) if url else None
        summary = run_crawl(
            config,
            sources,
            log_level="DEBUG" if args.verbose >= 2 else "WARNING",
            member=member,
        )
    except NewsarchiveError as exc:
        if args.json:  # monitoring reads one JSON line whatever happened
            outcome = _OUTCOMES.get(type(exc), "error")
            print(json.dumps({"outcome": outcome, "error": str(exc), "exit_code": exc.exit_code}))
        raise
    print(summary.as_json() if args.json else summary.as_line())
    return summary.exit_code


def cmd_demo(args: argparse.Namespace) -> int:
    from crawler.demo import run_demo

    return run_demo(args.archive_dir.resolve(), as_json=args.json)


def cmd_verify(args: argparse.Namespace) -> int:
    collection = archive_collection(args)
    if args.repair:
        for layout in collection.shards:
            recovery, rebuilt = reindex_archive(layout, repair=True)
            for action in recovery.actions():
                print(f"repaired: {action}")
            print(
                f"repaired: rebuilt the catalog{'' if collection.single else f' of {layout.root}'}:"
                f" {rebuilt.records} records, {rebuilt.captures} payloads"
            )
            for lost in rebuilt.lost:
                print(f"could not save: {lost}")
    problems = verify_collection(collection)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problems in {collection}", file=sys.stderr)
        return 1
    print(f"{'archive ' if collection.single else ''}{collection} verified: no problems")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    if args.cluster:
        from crawler.cluster.connection import redacted
        from crawler.cluster.rebuild import rebuild_index

        if not args.archive_dir:
            raise UsageError("reindex --cluster needs the shards: --archive-dir, once per shard")
        print(rebuild_index(args.cluster, args.archive_dir).as_line(redacted(args.cluster)))
        return 0
    if len(args.archive_dir) > 1:
        raise UsageError("reindex takes one --archive-dir (several only with --cluster)")
    where = args.archive_dir[0] if args.archive_dir else None
    layout = archive_layout(argparse.Namespace(config=args.config, archive_dir=where))
    recovery, rebuilt = reindex_archive(layout)
    for action in recovery.actions():
        print(action)
    print(f"rebuilt {layout.catalog_path}: {rebuilt.records} records, {rebuilt.captures} payloads")
    for lost in rebuilt.lost:
        print(f"could not save: {lost}")
    return 0


def cmd_wacz(args: argparse.Namespace) -> int:
    from archive.wacz import write_wacz

    done = write_wacz(
        archive_collection(args), args.out.resolve(), sources=args.source, since=args.since
    )
    print(f"wrote {done.path}: {done.pages} pages, {done.warcs} WARC files, {done.bytes} bytes")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from crawler.schedule import Daemon

    url = cluster_url(args)
    if url is None:
        return Daemon(args.config, archive_dir=args.archive_dir, log_args=log_args(args)).run()
    from crawler.cluster.connection import connect
    from crawler.cluster.scheduler import cluster_queue

    queue = cluster_queue(url, connect(url))
    return Daemon(args.config, archive_dir=args.archive_dir, queue=queue).run()


def cmd_status(args: argparse.Namespace) -> int:
    from crawler.status import format_status, source_status, status_json

    url = cluster_url(args)
    if url:
        return cluster_status(url, args)
    if args.config is None:
        raise UsageError("status needs --config FILE (or --cluster URL)")
    statuses = source_status(load_config(args.config, archive_dir=args.archive_dir))
    print(status_json(statuses) if args.json else format_status(statuses))
    return 0


def cluster_status(url: str, args: argparse.Namespace) -> int:
    from crawler.cluster.connection import connect
    from crawler.cluster.status import cluster_status, format_cluster_status

    names = [s.name for s in load_config(args.config).sources] if args.config else []
    status = cluster_status(connect(url), names)
    print(status.as_json() if args.json else format_cluster_status(status))
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from archive.query import HIT_COLUMNS, TABLE_COLUMNS

    collection = archive_collection(args)
    hits = collection.find(record_filters(args))
    try:
        if args.format == "jsonl" and not sys.stdout.isatty():  # the stored bytes, exactly
            sys.stdout.buffer.writelines(collection.lines(hits))
        elif args.format == "jsonl":
            for line in collection.lines(hits):
                for_terminal().write(line.decode("utf-8", "replace"))
        elif args.format == "csv":
            write_csv(HIT_COLUMNS, (hit.row() for hit in hits), for_terminal())
        else:
            rows = (hit.table_row() for hit in hits)
            print(*render_table(TABLE_COLUMNS, rows, shutil.get_terminal_size().columns), sep="\n")
    finally:
        hits.close()
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from archive.sql import copy_to, open_views, run_sql, single_select

    collection = archive_collection(args)
    if args.output is None:
        if args.format == "parquet":
            raise UsageError("sql --format parquet needs --output FILE")
        with open_views(collection) as con:
            result = run_sql(con, args.query)
            if args.format == "table":
                width = shutil.get_terminal_size().columns
                print(*render_table(result.columns, result.rows, width), sep="\n")
            else:
                write = write_csv if args.format == "csv" else write_jsonl
                write(result.columns, result.rows, for_terminal())
        return 0
    output = args.output.resolve()
    with open_views(collection, output=output) as con:
        copy_to(
            con, single_select(args.query), "csv" if args.format == "table" else args.format, output
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from archive.export import export_records

    count = export_records(
        archive_collection(args), record_filters(args), args.format, args.out.resolve()
    )
    print(f"exported {count} records to {args.out}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from archive.stats import archive_stats

    stats = archive_stats(archive_collection(args), by=args.by)
    if args.json:
        print(json.dumps(stats.as_dict()))
        return 0
    print(
        f"{stats.records} records of {stats.articles} articles: {stats.duplicates} duplicates, "
        f"{stats.new_versions} new versions; {stats.runs} runs, failures: "
        + ", ".join(f"{k} {v}" for k, v in stats.failures.items())
        + f"; {stats.warc_files} WARC files, {stats.warc_bytes} bytes; retry list: "
        + f"{sum(r['waiting'] for r in stats.retries.values())} waiting, "
        + f"{sum(r['given_up'] for r in stats.retries.values())} given up"
    )
    rows = [(d.day, d.source, d.records, d.duplicates, d.new_versions) for d in stats.per_day]
    header = (args.by, "source", "records", "duplicates", "new_versions")
    print(*render_table(header, rows, shutil.get_terminal_size().columns), sep="\n")
    return 0


COMMANDS = {
    "crawl": cmd_crawl,
    "demo": cmd_demo,
    "verify": cmd_verify,
    "reindex": cmd_reindex,
    "wacz": cmd_wacz,
    "schedule": cmd_schedule,
    "status": cmd_status,
    "query": cmd_query,
    "sql": cmd_sql,
    "export": cmd_export,
    "stats": cmd_stats,
} | {module.NAME: module.run for module in EXTRA_COMMANDS}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "verbose"):
        setup_logging(args)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # inside the try: a reader gone (`| head`) shows here at the latest
        return code
    except BrokenPipeError:
        # The reader of stdout went away: stop quietly, with the status of a tool that SIGPIPE
        # ended (128 + 13), as `grep | head` does; stdout goes nowhere so exiting flushes nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except NewsarchiveError as exc:
        print(f"newsarchive: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM (Terminated) before a crawl's engine
        return 128 + getattr(exc, "signum", signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
