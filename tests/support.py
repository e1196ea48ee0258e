"""What end-to-end tests share: the real CLI, configs for the sample site, reading back."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
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


@dataclass
class Routes:
    """A tiny site for one test: path -> (content type, body); `hits` counts GETs per path."""

    pages: dict[str, tuple[str, bytes]]
    base_url: str = ""
    hits: Counter[str] = field(default_factory=Counter)


@contextmanager
def serve(pages: dict[str, tuple[str, bytes]]) -> Iterator[Routes]:
    """Serve `pages` on 127.0.0.1 (a free port) with no validators, so nothing is ever a 304."""
    routes = Routes(pages)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes.hits[self.path] += 1
            content_type, body = routes.pages.get(self.path, ("text/plain", b"not found"))
            self.send_response(200 if self.path in routes.pages else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    routes.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield routes
    finally:
        server.shutdown()
        server.server_close()
