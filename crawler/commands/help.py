"""The `--help` descriptions of the commands `crawler.cli` defines itself: what each does, and
examples. (Commands in modules of their own carry theirs as their docstring.)"""

from __future__ import annotations

from archive.sql import view_columns


def _sql_description() -> str:
    columns = "\n".join(f"  {name:<14} {kind}" for name, kind in view_columns())
    return f"""\
Run one SELECT (DuckDB SQL) over the archived records, read-only. Two views:
  articles  every record: every version, duplicates too (duplicate_of set, text null)
  latest    the latest version of each article, no duplicates
Both have these columns (published and fetched_at as UTC timestamps; warc: where the record's
bytes are, as a struct: warc.filename, warc."offset", warc.length, warc.record_id):
{columns}

examples:
  newsarchive sql "SELECT source, count(*) FROM latest GROUP BY source"
  newsarchive sql "SELECT title, published FROM latest WHERE text ILIKE '%coral%'"
  newsarchive sql "SELECT * FROM articles" --format parquet --output all.parquet
"""


DESCRIPTIONS = {
    "crawl": """\
One pass over every source of the config (or those named with --source): poll feeds and
sitemaps, fetch new articles and those due for a recheck, write WARC and JSON records. Prints a
one-line summary. Exit 0 when the pass completed (failed pages are counted), 2 on a bad config,
75 when another crawl holds the archive.

examples:
  newsarchive crawl --config config/sources.toml
  newsarchive crawl --config config/sources.toml --source bbc --json
""",
    "demo": """\
Serve the bundled sample news site on 127.0.0.x and crawl it, offline; then show where the WARC
files and records landed.

example:
  newsarchive demo --archive-dir /tmp/demo-archive
""",
    "verify": """\
Read every WARC file end to end and resolve every JSON record to its WARC record, checking
digests, headers, revisits and the catalog. Exit 1 with a list of problems if any.

examples:
  newsarchive verify --archive-dir data
  newsarchive verify --config config/sources.toml --repair
""",
    "reindex": """\
Rebuild catalog.sqlite (lookups and the search indexes) from the WARC files and the records.
Feeds are then polled in full once. With --cluster, rebuild instead the collection's dedup index
in Redis from every shard given (idempotent; stop the workers first).

examples:
  newsarchive reindex --archive-dir data
  newsarchive reindex --cluster redis://:PASSWORD@127.0.0.1:6379/0 --archive-dir a --archive-dir b
""",
    "wacz": """\
Package WARC files, a CDXJ index, pages.jsonl and datapackage.json as a WACZ 1.1.1 file, for
ReplayWeb.page or pywb.

examples:
  newsarchive wacz out.wacz --archive-dir data
  newsarchive wacz bbc-august.wacz --source bbc --since 2024-08-01
""",
    "schedule": """\
Run as a daemon: every source on its own cron, one crawl process at a time per archive.
SIGHUP re-reads the config; SIGTERM or SIGINT finish the current writes and exit. With
--cluster URL, due runs go on that Redis's queue for `newsarchive worker`s instead (exit 69 if
it cannot be reached at start; once running, runs wait while Redis is away).

examples:
  newsarchive schedule --config /etc/newsarchive/sources.toml -v
  newsarchive schedule --config sources.toml --cluster redis://:PASSWORD@127.0.0.1:6379/0
""",
    "status": """\
Per source: its schedule, the last run (start, duration, outcome, counts, errors) and the next
run. Read-only; works while a crawl or the daemon runs. With --cluster URL: the cluster's
workers (alive or stale, current run, last heartbeat), its queue (runs waiting, taken, per
worker) and each source (queued, crawling, last result), from Redis (exit 69 if unreachable).

examples:
  newsarchive status --config config/sources.toml --json
  newsarchive status --cluster redis://:PASSWORD@127.0.0.1:6379/0
""",
    "query": """\
Find archived articles: by default the latest version of each, no duplicates, newest first
(best match first with --search). --search takes words as typed (see README, Research access).

examples:
  newsarchive query --search 'deep-sea coral' --since 2024-08-01
  newsarchive query --search '"farmers market" -parking' --source gazette --format jsonl
  newsarchive query --search 'fts:NEAR(rail strike, 3)'
""",
    "sql": _sql_description(),
    "export": """\
Write exactly what `query` with the same filters selects (all of it: no default limit) to a
file, as Parquet, JSON Lines or CSV. The file must be outside the archive.

examples:
  newsarchive export --format parquet august.parquet --since 2024-08-01 --until 2024-08-31
  newsarchive export --format csv coral.csv --search coral
""",
    "stats": """\
What the archive holds: records, articles, duplicates, new versions, failures, WARC bytes, and
records per source per day, by the day they were fetched or (--by published) published.

examples:
  newsarchive stats --archive-dir data
  newsarchive stats --by published --json
""",
}
