"""What end-to-end tests share: the real CLI, configs for the sample site, reading back."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from archive.layout import ArchiveLayout
from archive.records import RecordStore
from crawler.sample_server import SampleSite

REPO = Path(__file__).resolve().parents[1]

# One log event: `time LEVEL logger: message`, as the CLI writes it.
EVENT = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: \S"
)

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


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "crawler", *map(str, args)]


def newsarchive(*args: str | Path, timeout: float = 300, cwd: Path = REPO) -> CliResult:
    """Run the real command in a subprocess, as cron or a user would (in `cwd`)."""
    done = subprocess.run(
        _command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def local_config(
    path: Path,
    archive_dir: Path,
    source_toml: str,
    *,
    timeout: float = 5,
    allow_private: bool = True,
    **crawl: object,
) -> Path:
    """Write a config of `CRAWL_SETTINGS`, then `crawl`'s extra `[crawl]` keys (values as TOML
    via JSON: numbers, booleans, strings such as a `"4s"` duration), then `source_toml`."""
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in crawl.items())
    settings = CRAWL_SETTINGS.format(
        archive_dir=archive_dir.as_posix(),
        timeout=timeout,
        allow_private=json.dumps(allow_private),
    )
    path.write_text(settings + extra + "\n" + source_toml, encoding="utf-8")
    return path


def write_config(
    path: Path,
    site: SampleSite,
    archive_dir: Path,
    *,
    allow_private: bool = True,
    timeout: float = 1.5,
) -> Path:
    """A config for every outlet of the sample site."""
    return local_config(
        path, archive_dir, site.sources_toml(), timeout=timeout, allow_private=allow_private
    )


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


# Answers one request on its own; returns the status it sent.
Route = Callable[[BaseHTTPRequestHandler], int]


@dataclass
class LocalSite:
    """A tiny site for one test, changeable while it runs: path -> (content type, body).

    With `validators`, every page carries a strong ETag (a hash of its bytes) and Last-Modified,
    and If-None-Match naming the current ETag gets a 304, as real CMSs do; without, nothing is
    ever a 304. `headers` adds response headers to a path's answers. `routes` answer a path
    themselves, whatever the answer (an error, a redirect, silence), and return the status they
    sent. `hits` lists every request answered.
    """

    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    validators: bool = True
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    base_url: str = ""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(hit.path == path for hit in self.hits)


_LAST_MODIFIED = "Tue, 13 Aug 2024 09:00:00 GMT"


def _etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


class _LocalSiteHandler(BaseHTTPRequestHandler):
    server: _LocalSiteServer

    def do_GET(self) -> None:
        site = self.server.site
        with site.lock:
            page = site.pages.get(self.path)
            route = site.routes.get(self.path)
        if route is not None:
            status = route(self)
            with site.lock:
                site.hits.append(Hit(self.path, None, status, None, self.headers.get("Referer")))
            return
        asked = self.headers.get("If-None-Match")
        etag = _etag_of(page[1]) if page is not None and site.validators else None
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
            self.send_header("Last-Modified", _LAST_MODIFIED)
        for name, value in site.headers.get(self.path, {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `LocalSite.hits` instead."""


class _LocalSiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: LocalSite, host: str) -> None:
        super().__init__((host, 0), _LocalSiteHandler)
        self.site = site


@contextmanager
def serve(site: LocalSite, host: str = "127.0.0.1") -> Iterator[LocalSite]:
    """Serve `site` on `host` (a loopback address; a free port, set as its `base_url`) until
    the block ends."""
    server = _LocalSiteServer(site, host)
    site.base_url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a moment ago), for a refused connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


STORY = (
    "<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
    + "<p>The council met on Tuesday evening to discuss story number {n} at length, and the "
    "members agreed after a long debate that the matter deserved another hearing next week.</p>"
    * 3
    + "</article></body></html>"
)


def story_page(n: int) -> tuple[str, bytes]:
    """A `LocalSite` page: a short news article, its text unique to `n`."""
    return "text/html", STORY.format(n=n).encode()


def story_feed(base: str, numbers: range) -> tuple[str, bytes]:
    """A `LocalSite` page: an RSS feed listing `base`/story/`n`.html for each of `numbers`."""
    items = "".join(
        f"<item><title>Story {n}</title><link>{base}/story/{n}.html</link></item>" for n in numbers
    )
    return "application/rss+xml", f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()


def sitemap_index(base: str, *paths: str) -> tuple[str, bytes]:
    """A `LocalSite` page: a sitemap index listing `base` + each of `paths`."""
    children = "".join(f"<sitemap><loc>{base}{path}</loc></sitemap>" for path in paths)
    return "application/xml", (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{children}</sitemapindex>"
    ).encode()


@dataclass(frozen=True)
class BackgroundCrawl:
    """A `newsarchive crawl` running in a subprocess. Its stderr goes to a file, never to a pipe
    that a chatty crawl could fill and then block on; stdout is discarded."""

    process: subprocess.Popen[bytes]
    stderr: IO[bytes]

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self, timeout: float) -> CliResult:
        """Wait for the crawl to end: its exit code and everything it wrote to stderr."""
        returncode = self.process.wait(timeout=timeout)
        self.stderr.seek(0)
        return CliResult(returncode, "", self.stderr.read().decode("utf-8", "replace"))


@contextmanager
def background_crawl(config: Path, *args: str) -> Iterator[BackgroundCrawl]:
    """Start `newsarchive crawl --config config *args`; killed (and reaped) if still running
    when the block ends, however it ends. Call `finish` inside the block: the stderr file
    goes with it."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            _command("crawl", "--config", config, *args),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            yield BackgroundCrawl(process, stderr)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
