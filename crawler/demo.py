"""`newsarchive demo`: the whole job, offline, on the bundled sample news site.

The sample site (the test suite's fixture site) is served on loopback addresses; a config for it
is written to a temporary folder and crawled with the full pipeline into the archive directory.
The site's traps (a 404, a 500, a slow page, a huge page, hostile feeds, a private address) show
up in the summary as counted failures, as they would in a real crawl.

Run again into the same folder, the site is served on the port the archived URLs name, so the
second run finds the first run's articles unchanged instead of archiving them again as copies at
new URLs.
"""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

from archive.errors import UsageError
from archive.layout import ArchiveLayout
from archive.query import Filters, find, open_catalog
from archive.records import RecordStore
from crawler.config import load_config
from crawler.run import run_crawl
from crawler.sample_server import SampleSite

SAMPLE_SEARCH = "Venezuela"
SAMPLE_SQL = "SELECT source, count(*) AS articles FROM latest GROUP BY source"

DEMO_SETTINGS = """\
[archive]
dir = "{archive_dir}"

[crawl]
user_agent = "newsarchive-demo/0.1"
delay = 0
timeout = 2
max_page_bytes = 1_000_000
allow_private_addresses = true  # the sample site lives on 127.0.0.x

"""


def run_demo(archive_dir: Path, *, as_json: bool = False) -> int:
    port = _archived_port(ArchiveLayout(archive_dir))
    site = SampleSite(slow_seconds=3.0, port=port)
    try:
        site.start()
    except OSError as exc:
        raise UsageError(
            f"port {port}, where {archive_dir} archived the sample site, is busy ({exc.strerror});"
            " free it or use another --archive-dir"
        ) from exc
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config_path = Path(tmp) / "demo.toml"
            config_path.write_text(
                DEMO_SETTINGS.format(archive_dir=archive_dir.as_posix()) + site.sources_toml(),
                encoding="utf-8",
            )
            config = load_config(config_path)
            summary = run_crawl(config, config.sources)
    finally:
        site.stop()
    print(summary.as_json() if as_json else summary.as_line())
    if as_json:
        return 0
    layout = ArchiveLayout(archive_dir)
    print(f"\nWARC files:   {layout.warc_dir}")
    for path in sorted(layout.warc_dir.glob("*.warc.gz")):
        print(f"  {path.name}  {path.stat().st_size:,} bytes")
    print(f"JSON records: {layout.records_dir}")
    records = list(RecordStore(layout.records_dir).iter_records())
    for record in records[:5]:
        print(f"  [{record['source']}] {record['title']}  <{record['url']}>")
    if len(records) > 5:
        print(f"  ... {len(records) - 5} more")
    print(
        f"\nA sample query:  newsarchive query --archive-dir {archive_dir} --search {SAMPLE_SEARCH}"
    )
    db = open_catalog(layout)
    try:
        for hit in find(db, Filters(search=SAMPLE_SEARCH, limit=3)):
            record = next(r for r in records if r["id"] == hit.id)
            print(f"  {record['title']}  ({record['published']}, {record['source']})")
            print(textwrap.indent(textwrap.shorten(record["text"] or "", 300), "    "))
    finally:
        db.close()
    print(f"\nMore:  newsarchive sql --archive-dir {archive_dir} {SAMPLE_SQL!r}")
    print(f"       newsarchive verify --archive-dir {archive_dir}")
    return 0


def _archived_port(layout: ArchiveLayout) -> int:
    """The port of the sample site's URLs in an earlier demo archive; 0 (any) for a new one."""
    if not layout.records_dir.is_dir():
        return 0
    for record in RecordStore(layout.records_dir).iter_records():
        return urlsplit(record["url"]).port or 0
    return 0
