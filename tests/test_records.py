"""The JSONL record store: one line per article, by UTC fetch day, safe across crashes."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from archives import record as synthetic

from archive.errors import ArchiveError
from archive.records import RecordStore


def record(record_id: str, fetched_at: str, title: str = "Titre accentué") -> dict[str, object]:
    return synthetic(0, id=record_id, fetched_at=fetched_at, title=title)


def test_append_writes_one_line_to_the_fetch_day_file(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "records")
    path = store.path_of(store.append(record("a", "2024-08-13T09:00:00Z")))
    store.append(record("b", "2024-08-13T23:59:59.5Z"))

    assert path == tmp_path / "records" / "2024" / "08" / "2024-08-13.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == json.dumps(
        record("a", "2024-08-13T09:00:00Z"), ensure_ascii=False, separators=(",", ":")
    )
    assert "Titre accentué" in lines[0]
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]


def test_append_returns_the_bytes_of_its_own_line(tmp_path: Path) -> None:
    first = RecordStore(tmp_path)
    first.append(record("a", "2024-08-13T09:00:00Z"))
    first.close()
    store = RecordStore(tmp_path)  # a later run appends to the same day's file
    later = (record("b", "2024-08-13T10:00:00Z", "é" * 70_000), record("c", "2024-08-13T11:00:00Z"))
    written = [(rec, store.append(rec)) for rec in later]
    store.close()
    for rec, location in written:
        data = store.path_of(location).read_bytes()
        line = data[location.offset : location.offset + location.length]
        assert line.endswith(b"\n") and json.loads(line) == rec
    assert location.offset + location.length == len(data)


def test_each_append_is_on_disk_before_it_returns(tmp_path: Path) -> None:
    writer = RecordStore(tmp_path)
    writer.append(record("a", "2024-08-13T09:00:00Z"))
    assert [r["id"] for r in RecordStore(tmp_path).iter_records()] == ["a"]


def test_records_come_back_in_date_then_line_order(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    for record_id, fetched_at in [
        ("late", "2025-01-02T00:00:00Z"),
        ("early-1", "2024-12-31T10:00:00Z"),
        ("early-2", "2024-12-31T09:00:00Z"),
        ("middle", "2025-01-01T00:00:00Z"),
    ]:
        store.append(record(record_id, fetched_at))
    store.close()

    assert [r["id"] for r in store.iter_records()] == ["early-1", "early-2", "middle", "late"]
    assert [p.name for p in store.files()] == [
        "2024-12-31.jsonl",
        "2025-01-01.jsonl",
        "2025-01-02.jsonl",
    ]


def test_a_torn_final_line_is_skipped_and_cut_by_the_next_append(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    path = store.path_of(store.append(record("a", "2024-08-13T09:00:00Z")))
    store.close()
    with path.open("a", encoding="utf-8") as file:
        file.write('{"id":"torn","fetc')

    assert [r["id"] for r in RecordStore(tmp_path).iter_records()] == ["a"]

    RecordStore(tmp_path).append(record("b", "2024-08-13T10:00:00Z"))
    assert [r["id"] for r in RecordStore(tmp_path).iter_records()] == ["a", "b"]
    assert "torn" not in path.read_text(encoding="utf-8")


def test_a_damaged_line_inside_a_file_is_an_error_naming_it(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    path = store.path_of(store.append(record("a", "2024-08-13T09:00:00Z")))
    with path.open("a", encoding="utf-8") as file:
        file.write("garbage\n")
    store.append(record("b", "2024-08-13T10:00:00Z"))

    with pytest.raises(ArchiveError, match=r"2024-08-13\.jsonl:2: not valid JSON"):
        list(store.iter_records())


def test_unwritable_store_raises_archive_error(tmp_path: Path) -> None:
    (tmp_path / "records").write_text("")
    with pytest.raises(ArchiveError, match="cannot write records file"):
        RecordStore(tmp_path / "records").append(record("a", "2024-08-13T09:00:00Z"))


def test_an_empty_store_has_nothing(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "missing")
    assert store.files() == []
    assert list(store.iter_records()) == []


def test_disk_full_leaves_only_whole_lines(tmp_path: Path) -> None:
    """A file size limit makes writes fail as a full disk would; set in a child process."""
    script = textwrap.dedent(
        f"""
        import resource, signal
        from pathlib import Path
        from archive.errors import ArchiveError
        from archive.records import RecordStore
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (5000, 5000))
        store = RecordStore(Path({str(tmp_path)!r}))
        base = {record("0", "2024-08-13T09:00:00Z")!r}
        written = 0
        try:
            while True:
                store.append(base | {{"id": str(written), "text": "x" * 700}})
                written += 1
        except ArchiveError as exc:
            print(written)
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    written, message = done.stdout.splitlines()

    assert message.startswith("cannot write records file ")
    assert [r["id"] for r in RecordStore(tmp_path).iter_records()] == list(
        map(str, range(int(written)))
    )
    (path,) = RecordStore(tmp_path).files()
    assert path.read_bytes().endswith(b"\n"), "no partial line left behind"


def test_cut_torn_tails_repairs_every_file_and_says_which(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    whole = store.path_of(store.append(record("a", "2024-08-12T09:00:00Z")))
    torn = store.path_of(store.append(record("b", "2024-08-13T09:00:00Z")))
    store.close()
    with torn.open("a", encoding="utf-8") as file:
        file.write('{"id": "c", "fetch')

    assert store.cut_torn_tails() == [torn]
    assert store.cut_torn_tails() == []
    assert whole.read_text(encoding="utf-8").count("\n") == 1
    assert torn.read_text(encoding="utf-8").endswith("}\n")
