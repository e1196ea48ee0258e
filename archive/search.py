"""What people type into `--search`, turned into a query of the catalog's full-text indexes.

The plain rule (what `--search` takes by default) gives no character a meaning of its own
except these, so `deep-sea coral`, `farmers' market`, `20-year low` and `C++` search their words:
- words separated by spaces must all appear, in title or text, in any order; punctuation inside a
  word only separates its parts, which must then follow each other (`deep-sea` finds "deep sea");
- `"a phrase"` must appear as written (a quote left open is an error);
- `-word` or `NOT word` excludes records holding it; `a OR b` needs one of the two;
- `word*` finds words starting with it;
- `title:` before everything searches the titles alone (and ranks by them).
A search starting with `fts:` is handed to SQLite FTS5 as it is, in FTS5's own query syntax
(column filters, NEAR, ^, parentheses): https://www.sqlite.org/fts5.html#full_text_query_syntax

Chinese, Japanese and Korean are written without spaces between words, so the word index keeps a
whole run of those characters as one token and could not find 猛暑 inside 東京で記録的な猛暑.
Records holding such characters are also indexed by trigram (`search_cjk`), and a plain search
with a CJK character is answered from there, as substrings (one- and two-character terms by a
scan of those records, the trigram index needs three). It covers only the records that hold CJK
text, is not ranked by bm25 (newest first), and does not exist in a catalog built before it:
`newsarchive reindex` adds it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from archive.errors import ArchiveError, UsageError

RAW_PREFIX = "fts:"
# The scripts written without spaces between words (Han, kana, Hangul), and their half-width forms.
CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
_TOKEN = re.compile(r'\s*(-?)(?:"([^"]*)("?)|([^\s"]+))')
_TITLE_PREFIX = re.compile(r"\s*title:", re.IGNORECASE)
_WORD_CHARACTER = re.compile(r"\w")
TRIGRAM = 3


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word or phrase, maybe a prefix, maybe excluded."""

    text: str
    prefix: bool = False
    excluded: bool = False
    either_with_previous: bool = False  # joined to the previous term by OR

    def fts5(self) -> str:
        """The term as an FTS5 string, so no character of it is syntax."""
        return '"' + self.text.replace('"', '""') + '"' + (" *" if self.prefix else "")


@dataclass(frozen=True)
class Search:
    """How the catalog answers one search: `index` (an FTS5 table joined as `f`) either matches
    `match`, or, when `match` is None, the rows meet `condition` (SQL over `f`, with `params`)."""

    index: str
    match: str | None
    condition: str | None = None
    params: tuple[object, ...] = ()

    @property
    def ranked(self) -> bool:
        return self.match is not None


def compile_search(text: str, tables: Collection[str]) -> Search:
    """The `Search` for `text` on a catalog with these FTS5 `tables`; a UsageError says what is
    wrong with the text, an ArchiveError what the catalog lacks."""
    if text.startswith(RAW_PREFIX):
        raw = text[len(RAW_PREFIX) :]
        if not raw.strip():
            raise UsageError(f"bad search {text!r}: nothing after {RAW_PREFIX!r}")
        return Search(_titles_index(tables) if title_only(raw) else "search_text", raw)
    titles = _TITLE_PREFIX.match(text)
    terms = parse_plain(text[titles.end() :] if titles else text, original=text)
    if any(CJK.search(term.text) for term in terms):
        return _cjk_search(terms, tables, titles_only=titles is not None)
    expression = _fts5_expression(terms)
    if titles:
        return Search(_titles_index(tables), f"title : ({expression})")
    return Search("search_text", expression)


def parse_plain(text: str, *, original: str | None = None) -> list[Term]:
    """The terms of a plain search (see the module docstring), or a UsageError saying why not."""
    shown = original if original is not None else text
    terms: list[Term] = []
    either = excluded = False
    position = 0
    while match := _TOKEN.match(text, position):
        position = match.end()
        minus, phrase, closed, word = match.groups()
        if phrase is not None and not closed:
            raise UsageError(f'bad search {shown!r}: a quote (") is not closed')
        if word in ("OR", "NOT") and terms and not excluded and not either:
            either, excluded = word == "OR", word == "NOT"
            continue
        value = phrase if phrase is not None else word.removesuffix("*")
        prefix = phrase is None and word.endswith("*")
        if not _WORD_CHARACTER.search(value):
            continue  # punctuation alone (a dash between words, "+") finds nothing
        terms.append(Term(value, prefix, excluded or bool(minus), either and not minus))
        either = excluded = False
    if not terms:
        raise UsageError(f"bad search {shown!r}: no word to search for")
    if all(term.excluded for term in terms):
        raise UsageError(f"bad search {shown!r}: say what to find, not only what to exclude (-)")
    return terms


def _groups(terms: list[Term]) -> tuple[list[list[Term]], list[Term]]:
    """The wanted terms in OR groups (all groups must match), and the excluded terms."""
    groups: list[list[Term]] = []
    for term in terms:
        if term.excluded:
            continue
        if term.either_with_previous and groups:
            groups[-1].append(term)
        else:
            groups.append([term])
    return groups, [term for term in terms if term.excluded]


def _fts5_expression(terms: list[Term]) -> str:
    groups, excluded = _groups(terms)
    wanted = " AND ".join(
        "(" + " OR ".join(term.fts5() for term in group) + ")" for group in groups
    )
    return "".join([f"({wanted})", *(f" NOT {term.fts5()}" for term in excluded)])


def _cjk_search(terms: list[Term], tables: Collection[str], *, titles_only: bool) -> Search:
    """Each term as a substring of the CJK-indexed records: by trigram when it has three
    characters or more, by a scan of those records (instr) when shorter."""
    if "search_cjk" not in tables:
        raise ArchiveError(
            "this catalog has no index for Chinese, Japanese or Korean text yet: run "
            "`newsarchive reindex` to build it"
        )
    columns = "title" if titles_only else "{title text}"
    params: list[object] = []

    def condition(term: Term) -> str:
        if len(term.text) >= TRIGRAM:
            params.append(f"{columns} : {term.fts5()}")
            return "f.rowid IN (SELECT rowid FROM search_cjk WHERE search_cjk MATCH ?)"
        scanned = ("f.title",) if titles_only else ("f.title", "f.text")
        params.extend([term.text.lower()] * len(scanned))
        return "(" + " OR ".join(f"instr(lower({c}), ?) > 0" for c in scanned) + ")"

    groups, excluded = _groups(terms)
    parts = ["(" + " OR ".join(condition(term) for term in group) + ")" for group in groups]
    parts += [f"NOT {condition(term)}" for term in excluded]
    return Search("search_cjk", None, " AND ".join(parts), tuple(params))


def _titles_index(tables: Collection[str]) -> str:
    """The titles-only index, or title + text in a catalog no writer has opened since it came."""
    return "search_title" if "search_title" in tables else "search_text"


_TITLE_FILTER = re.compile(r"\s*(?:title|\{\s*title\s*\})\s*:\s*", re.IGNORECASE)
_PHRASE = re.compile(r'(?:"(?:[^"]|"")*"|[^\s"(){}:*^+-]+)\*?')


def title_only(search: str) -> bool:
    """Whether every phrase of the FTS5 query `search` is restricted to the title, and nothing
    else: a column filter `title:` on one phrase, or on one parenthesised group with no filters
    of its own."""
    match = _TITLE_FILTER.match(search)
    if match is None:
        return False
    rest = search[match.end() :].rstrip()
    if _PHRASE.fullmatch(rest):
        return True
    if not rest.startswith("(") or ":" in rest or "{" in rest:
        return False
    depth, quoted = 0, False
    for position, char in enumerate(rest):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return position == len(rest) - 1
    return False
