"""The WARC writer, read back with warcio as a replay tool or an archivist would read it."""

import io
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.errors import ArchiveError
from archive.warcwriter import (
    HttpExchange,
    WarcLocation,
    WarcWriter,
    payload_digest,
    recover_unclosed,
)

FETCHED_AT = datetime(2026, 11, 25, 21, 23, 45, 123456, tzinfo=UTC)


def exchange(
    url: str = "http://127.0.0.1:8000/news/article-1.html",
    body: bytes = b"<html><body><p>Story</p></body></html>",
    status: int = 200,
    response_headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html"),),
) -> HttpExchange:
    """A plausible article exchange; tests vary what they are about."""
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=(("Host", "127.0.0.1:8000"), ("User-Agent", "newsarchive-test")),
        protocol="HTTP/1.1",
        status=status,
        reason="",
        response_headers=response_headers,
        body=body,
        fetched_at=FETCHED_AT,
        ip_address="127.0.0.1",
    )


def read_records(path: Path) -> list[tuple[str, dict[str, str], bytes, str]]:
    """(type, WARC headers, payload, HTTP status line) of every record, digests checked."""
    records = []
    with path.open("rb") as file:
        for record in ArchiveIterator(file, check_digests="raise"):
            status = ""
            if record.http_headers:
                status = f"{record.http_headers.protocol} {record.http_headers.statusline}"
            payload = record.raw_stream.read()
            records.append((record.rec_type, dict(record.rec_headers.headers), payload, status))
    return records


def warc_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def test_exchange_is_request_then_response_and_passes_warcio_check(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        location = writer.write_exchange(exchange())
    (path,) = warc_files(tmp_path)

    records = read_records(path)
    assert [r[0] for r in records] == ["warcinfo", "request", "response"]
    _, request, request_payload, request_line = records[1]
    _, response, body, status_line = records[2]
    assert request_line == "GET /news/article-1.html HTTP/1.1"
    assert request_payload == b""
    assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"] == location.record_id
    assert status_line == "HTTP/1.1 200 OK"
    assert body == exchange().body
    assert response["WARC-Payload-Digest"] == payload_digest(body) == location.payload_digest
    assert response["WARC-Target-URI"] == location.target_uri == exchange().url
    assert response["WARC-Date"] == location.date == "2026-11-25T21:23:45.123456Z"
    assert response["WARC-IP-Address"] == "127.0.0.1"

    warcio = Path(sys.executable).parent / "warcio"
    check = subprocess.run(
        [warcio, "check", "-v", path], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    assert check.stdout.count("digest pass") == 3


def test_warcinfo_comes_first_and_names_the_software(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, info={"isPartOf": "example-collection"}) as writer:
        writer.write_exchange(exchange())
    (path,) = warc_files(tmp_path)
    record_type, headers, fields, _ = read_records(path)[0]

    assert record_type == "warcinfo"
    assert headers["WARC-Filename"] == path.name
    assert b"software: newsarchive/" in fields
    assert b"format: WARC File Format 1.1" in fields
    assert b"conformsTo: " in fields
    assert b"isPartOf: example-collection" in fields


def test_file_is_open_while_written_renamed_on_close_and_never_empty(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, prefix="test")
    assert warc_files(tmp_path) == []
    location = writer.write_exchange(exchange())
    (open_file,) = warc_files(tmp_path)
    assert open_file.name == location.filename + ".open"
    assert location.filename.startswith("test-")
    assert location.filename.endswith("-00001.warc.gz")
    writer.close()
    assert [p.name for p in warc_files(tmp_path)] == [location.filename]

    WarcWriter(tmp_path).close()
    assert len(warc_files(tmp_path)) == 1


def test_location_reads_exactly_that_record(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        locations = [
            writer.write_exchange(exchange(url=f"http://127.0.0.1:8000/{n}", body=b"x" * n))
            for n in range(1, 4)
        ]
    (path,) = warc_files(tmp_path)
    data = path.read_bytes()
    for n, location in enumerate(locations, start=1):
        member = data[location.offset : location.offset + location.length]
        records = ArchiveIterator(io.BytesIO(member))
        record = next(records)
        assert record.rec_headers.get_header("WARC-Record-ID") == location.record_id
        assert record.raw_stream.read() == b"x" * n
        assert next(records, None) is None
    assert writer.bytes_written == len(data)


def test_rotation_keeps_each_exchange_whole_in_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "newsarchive-20200101T000000Z-00007.warc.gz").write_bytes(b"")
    with WarcWriter(tmp_path, max_bytes=1000) as writer:
        locations = [writer.write_exchange(exchange(body=os.urandom(1500))) for _ in range(3)]
    files = warc_files(tmp_path)[1:]

    assert len(files) == 3
    assert [loc.filename for loc in locations] == [p.name for p in files]
    assert [p.name[-14:-8] for p in files] == ["-00008", "-00009", "-00010"]
    for path in files:
        assert [r[0] for r in read_records(path)] == ["warcinfo", "request", "response"]


def test_rotation_waits_until_the_size_is_reached(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, max_bytes=10_000_000) as writer:
        for _ in range(5):
            writer.write_exchange(exchange())
    (path,) = warc_files(tmp_path)
    assert len(read_records(path)) == 11


def test_identical_payload_revisit_refers_to_the_original(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        original = writer.write_exchange(exchange())
        later = exchange(url="http://127.0.0.1:8000/news/copy.html")
        revisit = writer.write_revisit(
            later, profile="identical-payload-digest", refers_to=original
        )
    (path,) = warc_files(tmp_path)
    record_type, headers, payload, status = read_records(path)[-1]

    assert record_type == "revisit"
    assert payload == b""
    assert status == "HTTP/1.1 200 OK"
    assert headers["WARC-Profile"] == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    )
    assert headers["WARC-Refers-To"] == original.record_id
    assert headers["WARC-Refers-To-Target-URI"] == original.target_uri
    assert headers["WARC-Refers-To-Date"] == original.date
    assert headers["WARC-Payload-Digest"] == original.payload_digest == revisit.payload_digest
    assert headers["WARC-Target-URI"] == later.url
    assert read_records(path)[-2][1]["WARC-Concurrent-To"] == revisit.record_id


def test_identical_payload_revisit_refuses_a_different_payload(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        original = writer.write_exchange(exchange())
        with pytest.raises(ValueError, match="payload differs"):
            writer.write_revisit(
                exchange(body=b"changed"), profile="identical-payload-digest", refers_to=original
            )


def test_not_modified_revisit_stores_the_304(tmp_path: Path) -> None:
    original = WarcLocation(
        filename="newsarchive-20261124T000000Z-00001.warc.gz",
        offset=0,
        length=1,
        record_id="<urn:uuid:00000000-0000-4000-8000-000000000000>",
        payload_digest=payload_digest(b"feed"),
        target_uri="http://127.0.0.1:8000/feed.xml",
        date="2026-11-24T00:00:00Z",
    )
    with WarcWriter(tmp_path) as writer:
        writer.write_revisit(
            exchange(url=original.target_uri, status=304, body=b""),
            profile="server-not-modified",
            refers_to=original,
        )
        unknown = writer.write_revisit(
            exchange(status=304, body=b""), profile="server-not-modified", refers_to=None
        )
    (path,) = warc_files(tmp_path)
    records = read_records(path)
    _, with_original, _, status = records[2]
    _, without_original, _, _ = records[4]

    assert status == "HTTP/1.1 304 Not Modified"
    assert with_original["WARC-Profile"].endswith("/warc/1.1/revisit/server-not-modified")
    assert with_original["WARC-Refers-To-Date"] == original.date
    assert with_original["WARC-Payload-Digest"] == original.payload_digest
    assert "WARC-Refers-To" not in without_original
    assert "WARC-Payload-Digest" not in without_original
    assert unknown.payload_digest == ""


def test_chunked_transfer_encoding_is_not_left_on_a_dechunked_body(tmp_path: Path) -> None:
    headers = (("Content-Type", "text/html"), ("Transfer-Encoding", "chunked"))
    with WarcWriter(tmp_path) as writer:
        writer.write_exchange(exchange(response_headers=headers))
    (path,) = warc_files(tmp_path)
    with path.open("rb") as file:
        response = next(r for r in ArchiveIterator(file) if r.rec_type == "response")
        assert response.http_headers.get_header("Transfer-Encoding") is None
        assert response.http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
        assert response.content_stream().read() == exchange().body


def test_header_values_cannot_inject_lines(tmp_path: Path) -> None:
    hostile = (("Content-Type", "text/html\r\nX-Injected: yes"),)
    with WarcWriter(tmp_path) as writer:
        writer.write_exchange(exchange(response_headers=hostile))
    (path,) = warc_files(tmp_path)
    with path.open("rb") as file:
        response = next(r for r in ArchiveIterator(file) if r.rec_type == "response")
        assert response.http_headers.get_header("X-Injected") is None
        assert response.raw_stream.read() == exchange().body


def test_unwritable_directory_raises_archive_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    writer = WarcWriter(blocker / "warc")
    with pytest.raises(ArchiveError, match="not-a-dir/warc"):
        writer.write_exchange(exchange())


def write_until_full(directory: Path, limit: int) -> tuple[int, str]:
    """Exchanges written before ArchiveError, and its message, when files may not exceed `limit`.

    A file size limit makes writes fail as a full disk would (root ignores permissions); it is
    set in a child process so that it cannot touch the test run.
    """
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from archive.errors import ArchiveError
        from archive.warcwriter import WarcWriter
        from test_warcwriter import exchange
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        writer = WarcWriter(Path({str(directory)!r}))
        written = 0
        try:
            while True:
                writer.write_exchange(exchange(body=bytes(range(256)) * 4))
                written += 1
        except ArchiveError as exc:
            print(written)
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    written, message = result.stdout.splitlines()
    return int(written), message


def test_disk_full_keeps_the_records_already_written(tmp_path: Path) -> None:
    written, message = write_until_full(tmp_path, 6000)
    (path,) = warc_files(tmp_path)

    assert message.startswith(f"cannot write WARC file {path}: ")
    assert written >= 1
    types = [r[0] for r in read_records(path)]
    assert types == ["warcinfo"] + ["request", "response"] * written


def test_disk_full_before_the_warcinfo_leaves_no_file(tmp_path: Path) -> None:
    written, message = write_until_full(tmp_path, 100)
    assert written == 0
    assert message.startswith("cannot write WARC file ")
    assert warc_files(tmp_path) == []


def test_recovery_closes_a_crashed_writers_file_without_its_torn_tail(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from archive.warcwriter import WarcWriter
        from test_warcwriter import exchange
        writer = WarcWriter(Path({str(tmp_path)!r}))
        writer.write_exchange(exchange())
        writer.write_exchange(exchange())
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    (leftover,) = warc_files(tmp_path)
    whole = leftover.read_bytes()
    leftover.write_bytes(whole + whole[-200:-100])
    (tmp_path / "newsarchive-20200101T000000Z-00099.warc.gz.open").write_bytes(b"\x1f\x8b\x08")

    (recovered,) = recover_unclosed(tmp_path)

    assert warc_files(tmp_path) == [recovered]
    assert recovered.name == leftover.name.removesuffix(".open")
    assert recovered.read_bytes() == whole
    assert [r[0] for r in read_records(recovered)] == ["warcinfo"] + ["request", "response"] * 2


def test_a_new_writer_goes_on_with_the_last_file_until_it_is_full(tmp_path: Path) -> None:
    sessions = []
    for _ in range(3):
        with WarcWriter(tmp_path, max_bytes=3000) as writer:
            sessions.append(writer.write_exchange(exchange(body=os.urandom(800))))
    first, second, third = sessions
    assert first.filename == second.filename, "appended to, not a file per session"
    assert third.filename != first.filename, "full: the next session starts a new file"
    assert [path.name for path in warc_files(tmp_path)] == [first.filename, third.filename]
    records = read_records(tmp_path / first.filename)
    types = [rec_type for rec_type, *_ in records]
    assert types == ["warcinfo", "request", "response"] * 2, "a warcinfo opens each session"
    for location in (first, second):  # earlier sessions' records stay where they were
        with (tmp_path / location.filename).open("rb") as file:
            file.seek(location.offset)
            record = next(iter(ArchiveIterator(file)))
            assert record.rec_headers.get_header("WARC-Record-ID") == location.record_id


def test_a_crash_while_appending_keeps_what_earlier_sessions_wrote(tmp_path: Path) -> None:
    with WarcWriter(tmp_path) as writer:
        kept = writer.write_exchange(exchange())
    (closed,) = warc_files(tmp_path)
    before = closed.read_bytes()
    writer = WarcWriter(tmp_path)
    writer.write_exchange(exchange())  # the process dies here: the file is left open
    (left_open,) = warc_files(tmp_path)
    assert left_open.name == closed.name + ".open"
    left_open.write_bytes(left_open.read_bytes() + b"\x1f\x8b\x08torn")

    (recovered,) = recover_unclosed(tmp_path)

    assert recovered == closed and recovered.read_bytes().startswith(before)
    types = [rec_type for rec_type, *_ in read_records(recovered)]
    assert types == ["warcinfo", "request", "response"] * 2
    assert kept.offset + kept.length <= len(before)
