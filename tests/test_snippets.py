"""The passage a search result shows: the searched words marked, and only those."""

from __future__ import annotations

from archive.snippets import search_words, snippet

TEXT = (
    "The council met on Monday. " * 20
    + "Late in the evening the harbour budget was approved after a long debate. "
    + "Nothing else happened. " * 20
)


def test_the_passage_holds_the_searched_words_marked() -> None:
    pieces = snippet(TEXT, "harbour budget", width=120)
    marked = [piece for piece, is_match in pieces if is_match]
    assert marked == ["harbour", "budget"]
    shown = "".join(piece for piece, _ in pieces)
    assert shown.startswith("…") and shown.endswith("…") and len(shown) < 140


def test_operators_prefixes_and_columns_are_not_words() -> None:
    assert search_words('fts:title:harbour OR "budget approved" NOT ferry*') == [
        "harbour",
        "budget",
        "approved",
        "ferry",
    ]
    assert search_words(None) == []


def test_without_a_search_the_text_begins() -> None:
    pieces = snippet(TEXT, None, width=40)
    assert not any(is_match for _, is_match in pieces)
    assert pieces[0][0].startswith("The council met")
