"""Reading back the response a record points at: by the writer's file names only, and while a
crawl appends to the file."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from test_warcwriter import exchange

from archive.capture import read_capture
from archive.errors import ArchiveError
from archive.layout import ArchiveLayout
from archive.warcwriter import WarcWriter

PAGE = b"<html><body><p>The archived page, as received.</p></body></html>"


def _written(root: Path) -> tuple[ArchiveLayout, dict[str, object]]:
    layout = ArchiveLayout(root)
    layout.warc_dir.mkdir(parents=True)
    with WarcWriter(layout.warc_dir) as writer:
        location = writer.write_exchange(exchange(body=PAGE))
    return layout, asdict(location)


def test_the_response_reads_back_also_while_a_crawl_appends_to_its_file(tmp_path: Path) -> None:
    layout, pointer = _written(tmp_path / "archive")
    assert read_capture(layout, pointer).body == PAGE
    writer = WarcWriter(layout.warc_dir)  # a crawl starting: the closed file becomes .open
    writer.write_exchange(exchange(url="http://127.0.0.1:8000/other.html"))
    assert not (layout.warc_dir / str(pointer["filename"])).exists()
    capture = read_capture(layout, pointer)
    assert capture.body == PAGE and capture.status_line.startswith("200")
    writer.close()


@pytest.mark.parametrize(
    "filename", ["../catalog.sqlite", "/etc/passwd", "x/../../records", "..", "a.warc.gz/../b"]
)
def test_a_pointer_outside_the_warc_files_is_refused(tmp_path: Path, filename: str) -> None:
    layout, pointer = _written(tmp_path / "archive")
    with pytest.raises(ArchiveError, match="not a WARC file"):
        read_capture(layout, {**pointer, "filename": filename})
