"""A disk that fills up mid-crawl: one clear error, exit 1, nothing corrupted, and the next run
with space finishes the job.

The archive lives on a tmpfs of a few hundred kilobytes (mounting needs root, as CI runs), which
fills while the WARC, the records and the catalog are all being written.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import newsarchive, records_of, write_config

from archive.catalog import Catalog
from archive.errors import ArchiveError
from archive.warcwriter import WarcLocation
from crawler.sample_server import SampleSite


@pytest.fixture(scope="module")
def bulk_site() -> Iterator[SampleSite]:
    with SampleSite(slow_seconds=0.3, bulk_articles=30) as running:
        yield running


@pytest.fixture(scope="module")
def expected_ids(bulk_site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The record ids an uninterrupted crawl with room to spare writes."""
    root = tmp_path_factory.mktemp("reference")
    config = write_config(root / "sources.toml", bulk_site, root / "archive", timeout=1.0)
    assert newsarchive("crawl", "--config", config).returncode == 0
    return {record["id"] for record in records_of(root / "archive")}


# Sizes at which the disk fills during different writes (WARC, records, catalog).
@pytest.fixture(params=["128k", "192k", "320k"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs (root needed): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def test_a_full_disk_stops_cleanly_and_the_next_run_completes(
    bulk_site: SampleSite, expected_ids: set[str], small_disk: Path, tmp_path: Path
) -> None:
    archive = small_disk / "archive"
    config = write_config(tmp_path / "sources.toml", bulk_site, archive, timeout=1.0)
    full = newsarchive("crawl", "--config", config)
    assert full.returncode == 1, full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("newsarchive: error:")]
    assert len(errors) == 1, full.stderr
    assert "No space left on device" in errors[0] or "database or disk is full" in errors[0]
    print(errors[0])
    assert "Traceback" not in full.stderr
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0
    assert len(records_of(archive)) < len(expected_ids)

    subprocess.run(["mount", "-o", "remount,size=16m", str(small_disk)], check=True)
    again = newsarchive("crawl", "--config", config)
    assert again.returncode == 0, again.stderr
    verify = newsarchive("verify", "--archive-dir", archive)
    assert verify.returncode == 0, verify.stdout
    got = [record["id"] for record in records_of(archive)]
    assert sorted(got) == sorted(expected_ids), "every article once, none lost, none twice"


def test_a_catalog_statement_that_hits_a_full_disk_is_an_archive_error(small_disk: Path) -> None:
    """Not only commits: a statement that spills the open transaction to a full disk raises the
    error that stops a crawl cleanly, not a bare sqlite3 error that a caller would mistake for a
    failed download."""
    catalog = Catalog(small_disk / "catalog.sqlite")
    with pytest.raises(ArchiveError, match="catalog"):
        for n in range(200_000):  # far more than the page cache holds, and than the disk
            where = (f"w{n}.warc.gz", n, 1, f"<urn:{n}>", f"sha1:{n:040}", f"http://x/{n}", "-")
            catalog.remember_capture(WarcLocation(*where))
