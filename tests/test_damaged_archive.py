"""Damaged archives (issue #12, points 8 and 9): a damaged gzip member in a closed WARC, a records
line that is valid JSON but no record. verify names the damage, `verify --repair` finishes and says
what it could not save, and the archive crawls again without building on what was lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from archives import SEED_TITLE, Crawled, copy_of
from support import newsarchive, records_of, write_config

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.warcread import Damage, read_warc
from crawler.sample_server import SampleSite


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    root = tmp_path_factory.mktemp("damaged")
    with SampleSite() as site:
        config = write_config(root / "sources.toml", site, root / "archive", timeout=1.0)
        done = newsarchive("crawl", "--config", config)
        assert done.returncode == 0, done.stderr
        yield Crawled(site, root / "archive")


def damage_one_article(archive: Path) -> dict[str, Any]:
    """Flip bytes inside the gzip member of the seed article's response, inside a closed WARC
    file (not its last record); return that article's JSON record."""
    (warc,) = ArchiveLayout(archive).warc_dir.glob("*.warc.gz")
    victim = next(r for r in records_of(archive) if r["title"] == SEED_TITLE)  # rechecked
    assert victim["warc"]["offset"] + victim["warc"]["length"] < warc.stat().st_size
    data = bytearray(warc.read_bytes())
    middle = victim["warc"]["offset"] + victim["warc"]["length"] // 2
    for i in range(middle, middle + 16):
        data[i] ^= 0x5A
    warc.write_bytes(bytes(data))
    return victim


def warc_sizes(archive: Path) -> dict[Path, int]:
    """How far each WARC file reaches now: a later crawl appends past it, or starts a file."""
    return {path: path.stat().st_size for path in ArchiveLayout(archive).warc_dir.glob("*.warc*")}


def revisits_and_responses(archive: Path, before: dict[Path, int]) -> tuple[list[str], set[str]]:
    """The WARC-Refers-To of every revisit, and the payload digest of every readable response,
    that a crawl wrote after `before` (`warc_sizes`): read past the damage with `read_warc`."""
    refers, digests = [], set()
    for path in sorted(ArchiveLayout(archive).warc_dir.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for read in read_warc(stream):
                if isinstance(read, Damage) or read.offset < before.get(path, 0):
                    continue
                headers = read.record.rec_headers
                if read.record.rec_type == "revisit" and headers.get_header("WARC-Refers-To"):
                    refers.append(headers.get_header("WARC-Refers-To"))
                if read.record.rec_type == "response":
                    digests.add(headers.get_header("WARC-Payload-Digest"))
    return refers, digests


def test_a_damaged_gzip_member_is_repaired_around_and_never_revisited(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, config = copy_of(crawled, tmp_path)
    victim = damage_one_article(archive)
    pointer = victim["warc"]
    checked = newsarchive("verify", "--archive-dir", archive)
    assert checked.returncode == 1
    assert f"unreadable from offset {pointer['offset']} to offset" in checked.stdout

    repaired = newsarchive("verify", "--repair", "--archive-dir", archive)

    assert "Traceback" not in repaired.stderr, repaired.stderr
    assert repaired.returncode == 1, "what was lost is still reported"
    assert f"could not save: warc/{pointer['filename']}: bytes {pointer['offset']} to " in (
        repaired.stdout
    )
    assert f"could not save: record {victim['id']} ({victim['url']}) kept" in repaired.stdout
    assert victim in records_of(archive), "the JSON record is kept"

    before = warc_sizes(archive)
    again = newsarchive("crawl", "--config", config)
    assert again.returncode == 0, again.stderr
    refers, digests = revisits_and_responses(archive, before)
    assert pointer["record_id"] not in refers, "a new revisit points at the lost record"
    assert pointer["payload_digest"] in digests, "the payload is stored again in full"

    after = newsarchive("verify", "--archive-dir", archive)
    assert after.returncode == 1
    lost = after.stdout.splitlines()
    # only what was lost: the damaged bytes, the record pointing at them, and any revisit the
    # first crawl had written of them
    assert lost[0].startswith(f"warc/{pointer['filename']}: unreadable from offset"), lost
    assert any(f": warc: {pointer['filename']} offset {pointer['offset']}: " in p for p in lost)
    for problem in lost[1:]:
        assert (
            f"offset {pointer['offset']}: " in problem
            or f"refers to {pointer['record_id']}, which" in problem
        ), problem


def test_a_crawl_never_revisits_a_record_damaged_since_it_was_written(
    crawled: Crawled, tmp_path: Path
) -> None:
    """Without a repair in between, the crawl itself notices at the lookup."""
    archive, config = copy_of(crawled, tmp_path)
    victim = damage_one_article(archive)

    before = warc_sizes(archive)
    again = newsarchive("crawl", "--config", config)

    assert again.returncode == 0, again.stderr
    refers, digests = revisits_and_responses(archive, before)
    assert victim["warc"]["record_id"] not in refers
    assert victim["warc"]["payload_digest"] in digests
    assert "no longer reads back" in again.stderr


def test_lines_that_are_not_records_are_quarantined_and_the_archive_works_again(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, config = copy_of(crawled, tmp_path)
    layout = ArchiveLayout(archive)
    (day,) = layout.records_dir.glob("*/*/*.jsonl")
    lines = day.read_bytes().splitlines(keepends=True)
    bad = [b'{"hello": "world"}\n', b"[1, 2, 3]\n", b"garbage\n"]
    damaged = lines[:2] + bad[:1] + lines[2:5] + bad[1:] + lines[5:]
    day.write_bytes(b"".join(damaged))

    checked = newsarchive("verify", "--archive-dir", archive)
    assert checked.returncode == 1
    assert "Traceback" not in checked.stderr, checked.stderr
    assert f"{day.name}:3: schema: record: " in checked.stdout
    for command in (("crawl", "--config", config), ("reindex", "--archive-dir", archive)):
        refused = newsarchive(*command)
        assert refused.returncode == 1, refused.stderr
        assert "Traceback" not in refused.stderr, refused.stderr
        (message,) = refused.stderr.strip().splitlines()[-1:]
        assert "verify --repair" in message

    repaired = newsarchive("verify", "--repair", "--archive-dir", archive)

    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    moved_to = f"quarantine/{day.relative_to(layout.records_dir).as_posix()}"
    shown = f"records/{day.relative_to(layout.records_dir).as_posix()}"
    for number in (3, 7, 8):
        assert f"repaired: moved {shown}:{number} to {moved_to}: " in repaired.stdout
    assert day.read_bytes() == b"".join(lines), "every good line kept, byte for byte"
    assert (archive / moved_to).read_bytes() == b"".join(bad)
    report = (layout.quarantine_dir / "report.txt").read_text(encoding="utf-8")
    assert report.count(f"moved {shown}:") == 3
    again = newsarchive("crawl", "--config", config, "--json")
    assert again.returncode == 0, again.stderr
    assert again.summary()["articles_new"] == 0
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0


def test_verify_repair_refuses_while_a_crawl_holds_the_archive(
    crawled: Crawled, tmp_path: Path
) -> None:
    archive, _ = copy_of(crawled, tmp_path)
    with ArchiveLock(ArchiveLayout(archive).lock_path):
        refused = newsarchive("verify", "--repair", "--archive-dir", archive)
    assert refused.returncode == 75
    assert refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "locked by another newsarchive process" in refused.stderr
