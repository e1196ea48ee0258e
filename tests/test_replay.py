"""Replay with the standard tools: CDXJ indexes, a WACZ that `wacz validate` accepts, and pywb
serving the seed article back from that WACZ on 127.0.0.1.

pywb 2.10 and py-wacz pull in dependencies that clash with the crawler's (older cryptography,
gevent), so they live in a venv of their own, made once and reused:
`$NEWSARCHIVE_REPLAY_VENV`, by default `~/.cache/newsarchive/replay-pywb-2.10.0-wacz-0.6.0`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import newsarchive, records_of, write_config
from warcio.archiveiterator import ArchiveIterator

from archive.layout import ArchiveLayout
from crawler.sample_server import SampleSite

REPLAY_PACKAGES = ("pywb==2.10.0", "wacz==0.6.0")
DEFAULT_VENV = Path.home() / ".cache" / "newsarchive" / "replay-pywb-2.10.0-wacz-0.6.0"


@pytest.fixture(scope="session")
def replay_bin() -> Path:
    """The bin/ of a venv holding pywb and py-wacz, created on first use."""
    venv = Path(os.environ.get("NEWSARCHIVE_REPLAY_VENV", DEFAULT_VENV))
    tools = venv / "bin"
    if not ((tools / "wayback").exists() and (tools / "wacz").exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [tools / "pip", "install", "--quiet", *REPLAY_PACKAGES],
            check=True,
            timeout=900,
        )
    return tools


@dataclass(frozen=True)
class Packaged:
    archive: Path
    wacz: Path
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packaged]:
    root = tmp_path_factory.mktemp("replay")
    archive = root / "archive"
    with SampleSite(slow_seconds=0.3) as site:
        config = write_config(root / "sources.toml", site, archive, timeout=1.0)
        assert newsarchive("crawl", "--config", config).returncode == 0
    out = root / "news.wacz"
    result = newsarchive("wacz", out, "--archive-dir", archive)
    assert result.returncode == 0, result.stderr
    yield Packaged(archive, out, records_of(archive))


def seed(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in records if "trump-musk" in r["canonical_url"])


def test_every_closed_warc_has_a_sorted_surt_index_pointing_at_its_records(
    packaged: Packaged,
) -> None:
    layout = ArchiveLayout(packaged.archive)
    warcs = sorted(layout.warc_dir.glob("*.warc.gz"))
    indexes = sorted(layout.indexes_dir.glob("*.cdxj"))
    assert [p.name.removesuffix(".cdxj") for p in indexes] == [
        w.name.removesuffix(".warc.gz") for w in warcs
    ]
    for warc, index in zip(warcs, indexes, strict=True):
        lines = index.read_text(encoding="utf-8").splitlines()
        assert lines == sorted(lines)
        for line in lines:
            key, timestamp, fields = line.split(" ", 2)
            entry = json.loads(fields)
            assert key.startswith(("1,0,0,127:", "2,0,0,127:", "3,0,0,127:", "4,0,0,127:"))
            assert len(timestamp) == 14 and entry["filename"] == warc.name
            with warc.open("rb") as stream:
                stream.seek(int(entry["offset"]))
                record = next(iter(ArchiveIterator(stream)))
                assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]


def test_the_wacz_holds_everything_and_validates(packaged: Packaged, replay_bin: Path) -> None:
    with zipfile.ZipFile(packaged.wacz) as package:
        names = set(package.namelist())
        pages = package.read("pages/pages.jsonl").decode().splitlines()
        datapackage = json.loads(package.read("datapackage.json"))
        assert all(info.compress_type == zipfile.ZIP_STORED for info in package.infolist())
    warcs = {f"archive/{p.name}" for p in (packaged.archive / "warc").glob("*.warc.gz")}
    assert warcs | {"indexes/index.cdx", "pages/pages.jsonl"} <= names
    assert json.loads(pages[0])["format"] == "json-pages-1.0"
    assert {json.loads(line)["id"] for line in pages[1:]} == {r["id"] for r in packaged.records}
    assert datapackage["wacz_version"] == "1.1.1"

    validated = subprocess.run(
        [replay_bin / "wacz", "validate", "-f", packaged.wacz], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout
    assert "Validation succeeded" in validated.stdout


def test_a_wacz_of_one_source_since_a_day_holds_only_its_pages(
    packaged: Packaged, replay_bin: Path, tmp_path: Path
) -> None:
    out = tmp_path / "herald.wacz"
    made = newsarchive(
        "wacz",
        out,
        "--archive-dir",
        packaged.archive,
        "--source",
        "herald",
        "--since",
        "2024-01-01",
    )
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(out) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()[1:]]
    herald = {r["id"] for r in packaged.records if r["source"] == "herald"}
    assert herald and {page["id"] for page in pages} == herald
    validated = subprocess.run([replay_bin / "wacz", "validate", "-f", out], capture_output=True)
    assert validated.returncode == 0

    nothing = newsarchive("wacz", out, "--archive-dir", packaged.archive, "--since", "2999-01-01")
    assert nothing.returncode == 2
    assert "no records" in nothing.stderr
    assert not out.with_name(out.name + ".tmp").exists(), "no partial package left behind"


def test_pywb_replays_the_seed_article_from_the_wacz(
    packaged: Packaged, replay_bin: Path, tmp_path: Path
) -> None:
    for args in (["init", "news"], ["add", "--unpack-wacz", "news", str(packaged.wacz)]):
        subprocess.run([replay_bin / "wb-manager", *args], cwd=tmp_path, check=True)
    article = seed(packaged.records)
    timestamp = "".join(c for c in article["fetched_at"] if c.isdigit())
    port = free_port()
    with serving([replay_bin / "wayback", "-b", "127.0.0.1", "-p", str(port)], tmp_path, port):
        url = f"http://127.0.0.1:{port}/news/{timestamp}mp_/{article['final_url']}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            page = response.read().decode("utf-8")
    assert article["title"] in page
    for paragraph in article["text"].split("\n\n")[:3]:
        assert paragraph[:80] in page


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(command: list[Any], cwd: Path, port: int) -> Iterator[None]:
    """Run a server for the duration of the block, once it accepts connections on `port`."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "the replay server exited"
                assert time.monotonic() < deadline, f"nothing listens on 127.0.0.1:{port}"
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
