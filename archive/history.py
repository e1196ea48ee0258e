"""How an article changed between its archived versions: a word-level diff of each field.

Words are compared, not characters or lines: an edited article keeps its paragraphs as long
lines, so a line diff would show whole paragraphs swapped for one changed figure. Whitespace
between words is kept as it was (paragraph breaks stay visible), and long unchanged stretches
are cut to a few words on each side of a change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from archive.collection import Collection, as_collection
from archive.layout import ArchiveLayout
from archive.show import field_text, find_article

# The record fields compared between versions, in the order they are shown.
FIELDS = (
    "title",
    "description",
    "authors",
    "tags",
    "published",
    "language",
    "url",
    "final_url",
    "text",
)
CONTEXT_WORDS = 8
_TOKENS = re.compile(r"\s+|\S+")

Segment = tuple[str, str]  # ("=", kept) ("-", removed) ("+", added) ("…", "")


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two versions, as diff segments."""

    field: str
    segments: list[Segment]


def word_diff(old: str, new: str, context: int = CONTEXT_WORDS) -> list[Segment]:
    """The segments turning `old` into `new`, word by word; unchanged runs longer than
    2 x `context` words keep `context` words on each side of a change, with "…" between."""
    before, after = _TOKENS.findall(old), _TOKENS.findall(new)
    segments: list[Segment] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    opcodes = matcher.get_opcodes()
    for number, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            kept = before[i1:i2]
            segments += _cut(kept, context, first=number == 0, last=number == len(opcodes) - 1)
            continue
        if i2 > i1:
            segments.append(("-", "".join(before[i1:i2])))
        if j2 > j1:
            segments.append(("+", "".join(after[j1:j2])))
    return segments


def _cut(tokens: Sequence[str], context: int, *, first: bool, last: bool) -> list[Segment]:
    """An unchanged run: whole if short, else `context` words after the change before it and
    before the change after it (none at the very start or end)."""
    keep = 2 * context  # tokens alternate words and spaces
    head = 0 if first else keep
    tail = 0 if last else keep
    if len(tokens) <= head + tail + 2:
        return [("=", "".join(tokens))]
    cut: list[Segment] = []
    if head:
        cut.append(("=", "".join(tokens[:head])))
    cut.append(("…", ""))
    if tail:
        cut.append(("=", "".join(tokens[-tail:])))
    return cut


def version_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """The fields of `FIELDS` whose value differs from `old` to `new`, each as a word diff."""
    changes = []
    for name in FIELDS:
        before, after = field_text(old.get(name)), field_text(new.get(name))
        if before != after:
            changes.append(FieldChange(name, word_diff(before, after)))
    return changes


def render_segments(segments: Sequence[Segment], safe: Callable[[str], str] = str) -> str:
    """Segments as text, in git's --word-diff=plain marks: [-removed-] {+added+}; `safe` is
    applied to every piece of archived text (e.g. `terminal_safe`)."""
    marks = {"=": "{}", "-": "[-{}-]", "+": "{{+{}+}}", "…": " … "}
    return "".join(marks[op].format(safe(text)) for op, text in segments).strip(" ")


@dataclass(frozen=True)
class Version:
    """One version of an article and how it differs from the one before (none for the first)."""

    record: dict[str, Any]
    changes: list[FieldChange]

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "id": record["id"],
            "version": record["version"],
            "fetched_at": record["fetched_at"],
            "published": record.get("published"),
            "changes": {change.field: change.segments for change in self.changes},
        }


def article_history(records: Sequence[dict[str, Any]]) -> list[Version]:
    """The versions of one article (records in version order), each with its changes."""
    return [
        Version(record, version_changes(records[n - 1], record) if n else [])
        for n, record in enumerate(records)
    ]


def history_of(archive: ArchiveLayout | Collection, key: str) -> tuple[str, list[Version]]:
    """The canonical URL and `article_history` of the article archived under the URL `key` (or
    holding the record id `key`), its versions in any shard of a collection; a NotFoundError
    if there is none."""
    collection = as_collection(archive)
    with collection.catalogs() as dbs:
        article = find_article(dbs, key)
    return article.canonical_url, article_history(article.records(collection))


def format_history(versions: Sequence[Version], safe: Callable[[str], str]) -> Iterator[str]:
    """Lines for a terminal: each version's header, then what changed from the one before."""
    for version in versions:
        record = version.record
        yield (
            f"version {record['version']}  {record['id']}  fetched {record['fetched_at']}"
            f"  published {record.get('published') or '-'}"
        )
        if record is versions[0].record:
            yield f"  title: {safe(field_text(record.get('title')))}"
            yield f"  text: {len(field_text(record.get('text')).split())} words"
        elif not version.changes:
            yield "  no change in " + ", ".join(FIELDS)
        for change in version.changes:
            diff = render_segments(change.segments, safe)
            yield f"  {change.field}:" + ("\n" + _indent(diff) if "\n" in diff else f" {diff}")
        yield ""


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.split("\n"))
