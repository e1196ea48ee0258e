"""End to end: crawl runs append to the current WARC file until `warc_max_bytes`, rather than
each opening a file of its own, and the file's CDXJ index follows it."""

from __future__ import annotations

import io
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer
from support import LocalSite, local_config, newsarchive, serve, story_feed, story_page

from archive.cdxj import index_path
from archive.layout import ArchiveLayout

RUNS = 3


def fresh_index(warc: Path) -> str:
    out = io.StringIO()
    CDXJIndexer(out, [str(warc)], sort=True).process_all()
    return out.getvalue()


def test_runs_fill_one_warc_file_whose_index_covers_them_all(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    layout = ArchiveLayout(archive)
    with serve(LocalSite()) as site:
        config = local_config(
            tmp_path / "c.toml",
            archive,
            f'[[source]]\nname = "local"\nfeeds = ["{site.base_url}/feed.xml"]\n',
        )
        for run in range(RUNS):  # one more story each run
            site.pages["/feed.xml"] = story_feed(site.base_url, range(run + 1))
            site.pages[f"/story/{run}.html"] = story_page(run)
            done = newsarchive("crawl", "--config", config, "--json")
            assert done.returncode == 0, done.stderr
            assert done.summary()["articles_new"] == 1
    (warc,) = layout.warc_dir.iterdir()
    assert warc.name.endswith(".warc.gz")
    index = index_path(layout, warc).read_text(encoding="utf-8")
    assert index == fresh_index(warc), "the index was rewritten after each append"
    assert all(f"/story/{run}.html" in index for run in range(RUNS))
    assert newsarchive("verify", "--archive-dir", archive).returncode == 0
    packed = newsarchive("wacz", tmp_path / "out.wacz", "--archive-dir", archive)
    assert packed.returncode == 0, packed.stderr
    assert "1 WARC files" in packed.stdout
