"""What the CLI prints around the results: piped into `head`, tables with wide characters,
usage errors that say what is wrong, and subcommand help."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from archives import bulk_records, record, store_records
from support import REPO, newsarchive

QUERY_ALL = ("--limit", "0", "--format")
COMMANDS = [
    "crawl",
    "demo",
    "verify",
    "reindex",
    "wacz",
    "schedule",
    "status",
    "query",
    "sql",
    "export",
    "stats",
    "show",
    "history",
    "worker",
]
CJK_TITLE = "東京で記録的な猛暑、熱中症での搬送が急増"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = [
        record(1, title=CJK_TITLE, source="tokyo", language="ja"),
        record(2, title="Café owners count the cost of the summer", source="herald"),
        record(3, title="Short", source="herald"),
    ]
    return store_records(tmp_path_factory.mktemp("output"), records).root


@pytest.mark.parametrize("fmt", ["table", "jsonl"])
def test_piped_into_head_stops_quietly(tmp_path: Path, fmt: str) -> None:
    """More output than a pipe holds: the reader leaves after one line, the writer meets a
    closed pipe and must stop without a traceback."""
    layout = bulk_records(tmp_path, [record(n) for n in range(3000)])
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "query", f"--archive-dir={layout.root}", *QUERY_ALL, fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == b""


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.mark.parametrize("columns", ["60", "200"])
def test_tables_fit_the_terminal_and_align_wide_characters(
    archive: Path, columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    lines = newsarchive("query", "--archive-dir", archive).stdout.splitlines()
    assert any(CJK_TITLE[:2] in line for line in lines)
    assert all(display_width(line) <= int(columns) for line in lines)
    # The url column starts at the same terminal column on every line.
    starts = {display_width(line[: line.index("http")]) for line in lines[2:]}
    assert len(starts) == 1 and display_width(lines[0][: lines[0].index("url")]) in starts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["query", "--source", "nosuch"],
            "no source named 'nosuch' in this archive; its sources: ",
        ),
        (["export", "--format", "csv", "OUT", "--source", "nosuch"], "its sources: herald"),
        (["query", "--limit", "-1"], "argument --limit: must be 0 or more, not -1"),
        (["export", "--format", "csv", "OUT", "--limit=-5"], "must be 0 or more, not -5"),
        (["wacz", "OUT", "--since", "garbage"], "bad date 'garbage': use YYYY-MM-DD"),
    ],
)
def test_usage_errors_say_what_is_wrong(
    archive: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    done = newsarchive(*[out if arg == "OUT" else arg for arg in args], "--archive-dir", archive)
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr and not out.exists()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_export_into_a_missing_folder_is_one_line(archive: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "missing" / f"out.{fmt}"
    done = newsarchive("export", "--archive-dir", archive, "--format", fmt, out)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"newsarchive: error: cannot write {out}: no folder {out.parent}"
    )
    assert not out.parent.exists()


@pytest.mark.parametrize(
    "command",
    COMMANDS,
)
def test_every_command_has_a_described_help_with_examples(command: str) -> None:
    done = newsarchive(command, "--help")
    assert done.returncode == 0
    usage, description = done.stdout.split("\n\n")[:2]
    assert usage.startswith(f"usage: newsarchive {command}") and len(description) > 40
    assert (
        "\nexample" in done.stdout and f"newsarchive {command}" in done.stdout.split("example")[1]
    )


def test_sql_help_lists_the_columns_of_its_views() -> None:
    shown = newsarchive("sql", "--help").stdout
    for column in ("canonical_url", "published", "duplicate_of", "warc", "is_duplicate"):
        assert f"\n  {column} " in shown
