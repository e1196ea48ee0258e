"""What end-to-end tests share: the real CLI, configs for the sample site, reading back."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive.layout import ArchiveLayout
from archive.records import RecordStore
from crawler.sample_server import SampleSite

REPO = Path(__file__).resolve().parents[1]

CRAWL_SETTINGS = """\
[archive]
dir = "{archive_dir}"

[crawl]
user_agent = "newsarchive-test/0.1"
delay = 0
timeout = {timeout}
max_page_bytes = 1_000_000
allow_private_addresses = {allow_private}

"""


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any]:
        """The `--json` summary: the last line of stdout."""
        result: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return result


def newsarchive(*args: str | Path, timeout: float = 300) -> CliResult:
    """Run the real command in a subprocess, as cron or a user would."""
    done = subprocess.run(
        [sys.executable, "-m", "crawler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def write_config(
    path: Path,
    site: SampleSite,
    archive_dir: Path,
    *,
    allow_private: bool = True,
    timeout: float = 1.5,
) -> Path:
    path.write_text(
        CRAWL_SETTINGS.format(
            archive_dir=archive_dir.as_posix(),
            timeout=timeout,
            allow_private=str(allow_private).lower(),
        )
        + site.sources_toml(),
        encoding="utf-8",
    )
    return path


def records_of(archive_dir: Path) -> list[dict[str, Any]]:
    return list(RecordStore(ArchiveLayout(archive_dir).records_dir).iter_records())


def warc_records(archive_dir: Path) -> Iterator[tuple[Path, Any]]:
    """Every WARC record of the archive, read back with warcio (payloads fully read)."""
    for path in sorted(ArchiveLayout(archive_dir).warc_dir.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                record.content_stream().read()
                yield path, record


@dataclass(frozen=True)
class Hit:
    """One request a `LocalSite` answered: the If-None-Match sent, the status and ETag returned,
    and the Referer sent."""

    path: str
    if_none_match: str | None
    status: int
    etag: str | None
    referer: str | None = None


@dataclass
class LocalSite:
    """A tiny site for one test, changeable while it runs: path -> (content type, body).

    With `validators`, every page carries a strong ETag (a hash of its bytes) and Last-Modified,
    and If-None-Match naming the current ETag gets a 304, as real CMSs do; without, nothing is
    ever a 304. `hits` lists every request answered.
    """

    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    validators: bool = True
    base_url: str = ""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(hit.path == path for hit in self.hits)


LAST_MODIFIED = "Tue, 13 Aug 2024 09:00:00 GMT"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


class _LocalSiteHandler(BaseHTTPRequestHandler):
    server: _LocalSiteServer

    def do_GET(self) -> None:
        site = self.server.site
        with site.lock:
            page = site.pages.get(self.path)
        asked = self.headers.get("If-None-Match")
        etag = etag_of(page[1]) if page is not None and site.validators else None
        if page is None:
            status, content_type, body = 404, "text/plain", b"not found"
        elif etag is not None and asked == etag:
            status, content_type, body = 304, "", b""
        else:
            status, (content_type, body) = 200, page
        with site.lock:
            site.hits.append(Hit(self.path, asked, status, etag, self.headers.get("Referer")))
        self.send_response(status)
        if etag is not None:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `LocalSite.hits` instead."""


class _LocalSiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: LocalSite) -> None:
        super().__init__(("127.0.0.1", 0), _LocalSiteHandler)
        self.site = site


@contextmanager
def serve(site: LocalSite) -> Iterator[LocalSite]:
    """Serve `site` on 127.0.0.1 (a free port, set as its `base_url`) until the block ends."""
    server = _LocalSiteServer(site)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
