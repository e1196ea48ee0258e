"""The command as an operator meets it: exit codes, one-line errors, nothing written on refusal."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

from support import newsarchive, records_of, write_config

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from crawler.sample_server import SampleSite
from crawler.summary import EXIT_UNAVAILABLE


def test_bad_config_exits_2_with_one_line_naming_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[archive]\ndir = "archive"\n\n[crawl]\ndelay = "fast"\n\n'
        '[[source]]\nname = "x"\nfeeds = ["https://example.com/feed.xml"]\n',
        encoding="utf-8",
    )
    result = newsarchive("crawl", "--config", config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad.toml:5" in lines[0] and "crawl.delay" in lines[0]
    assert not (tmp_path / "archive").exists(), "nothing written"


def test_unknown_key_and_missing_file_are_usage_errors(tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text(
        '[[source]]\nname = "x"\nfeds = ["https://example.com/feed.xml"]\n', encoding="utf-8"
    )
    result = newsarchive("crawl", "--config", config)
    assert result.returncode == 2 and "feds" in result.stderr
    missing = newsarchive("crawl", "--config", tmp_path / "nope.toml")
    assert missing.returncode == 2 and "nope.toml" in missing.stderr
    assert newsarchive("crawl").returncode == 2, "--config is required"


def test_second_crawl_on_a_locked_archive_exits_75(site: SampleSite, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "sources.toml", site, archive)
    archive.mkdir()
    with ArchiveLock(ArchiveLayout(archive).lock_path):
        result = newsarchive("crawl", "--config", config)
        as_json = newsarchive("crawl", "--config", config, "--json")
    assert result.returncode == 75
    assert "locked" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert as_json.returncode == 75, "monitoring reads one JSON line even then"
    assert as_json.summary()["outcome"] == "locked" and as_json.summary()["exit_code"] == 75
    assert len(as_json.stdout.splitlines()) == 1
    assert not (archive / "warc").exists() and not (archive / "records").exists()


def test_private_addresses_are_refused_by_default(site: SampleSite, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "sources.toml", site, archive, allow_private=False)
    before = site.hits("herald", "/atom.xml")
    result = newsarchive("crawl", "--config", config, "--source", "herald", "--json")
    assert result.returncode == EXIT_UNAVAILABLE, "its one feed refused: nothing was reachable"
    summary = result.summary()
    assert summary["feeds_failed"] == summary["feeds_polled"] == 1
    assert summary["articles_new"] == 0
    assert site.hits("herald", "/atom.xml") == before, "never connected"
    assert "loopback address 127.0.0.2" in result.stderr


def test_verify_fails_after_one_flipped_byte(site: SampleSite, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    config = write_config(tmp_path / "sources.toml", site, archive)
    crawled = newsarchive("crawl", "--config", config, "--source", "wire")
    assert crawled.returncode == 0, crawled.stderr
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0
    record = next(r for r in records_of(archive) if r["text"])
    pointer = record["warc"]
    broken = tmp_path / "broken"
    shutil.copytree(archive, broken)
    warc = broken / "warc" / pointer["filename"]
    data = bytearray(warc.read_bytes())
    data[pointer["offset"] + pointer["length"] - 20] ^= 0x01
    warc.write_bytes(bytes(data))
    result = newsarchive("verify", "--archive-dir", broken)
    assert result.returncode == 1
    assert pointer["filename"] in result.stdout


def test_demo_crawls_the_sample_site_offline(tmp_path: Path) -> None:
    archive = tmp_path / "demo"
    result = newsarchive("demo", "--archive-dir", archive)
    assert result.returncode == 0, result.stderr
    assert "WARC files" in result.stdout and "JSON records" in result.stdout
    query = result.stdout.split("A sample query:")[1]
    assert "A look back at that Donald Trump and Elon Musk interview" in query
    first = records_of(archive)
    assert first
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0

    # Again into the same folder: the same URLs, so nothing is archived twice.
    again = newsarchive("demo", "--archive-dir", archive, "--json")
    assert again.returncode == 0, again.stderr
    assert again.summary()["articles_new"] == 0
    assert again.summary()["articles_duplicate"] == 0
    assert again.summary()["articles_unchanged"] > 0
    assert records_of(archive) == first

    # The port the archive's URLs name is taken: one line, nothing written.
    port = urlsplit(first[0]["url"]).port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        busy = newsarchive("demo", "--archive-dir", archive)
    assert busy.returncode == 2
    assert f"port {port}" in busy.stderr and len(busy.stderr.splitlines()) == 1
    assert records_of(archive) == first
