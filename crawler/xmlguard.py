"""Refuse XML documents that declare entities, before any parser sees them.

Feeds and sitemaps have no legitimate use for an internal DTD that declares entities, while such
declarations are how "billion laughs" (exponential expansion) and external-entity attacks
(``file://``, ``http://``) work. Checking the prolog costs a few microseconds and makes the parsers'
own entity handling irrelevant to our safety.
"""

from __future__ import annotations

import codecs

ENTITY_REASON = "declares XML entities (refused)"

_FIRST_CHUNK = 64 * 1024
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# XML 1.0 appendix F: how "<?" or "<" looks in the first bytes of a document without a BOM.
_SIGNATURES = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),
)


def hostile_xml_reason(body: bytes) -> str | None:
    """Return why `body` must not be parsed, or None if its prolog declares no entities.

    Looks only at the prolog (XML declaration, comments, processing instructions, DOCTYPE) and
    stops at the root element, so the cost does not grow with the document. An external DTD
    reference without an internal subset (RSS 0.91's Netscape DOCTYPE) is accepted: our parsers
    never fetch it.
    """
    encoding = _sniff_encoding(body)
    size = _FIRST_CHUNK
    while True:
        text = body[:size].decode(encoding, errors="replace")
        verdict = _scan_prolog(text, complete=size >= len(body))
        if verdict is not None:
            return ENTITY_REASON if verdict else None
        size *= 4


def _sniff_encoding(body: bytes) -> str:
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    for signature, encoding in _SIGNATURES:
        if body.startswith(signature):
            return encoding
    # Every other encoding a feed may declare is ASCII-compatible for the markup we look for.
    return "latin-1"


def _scan_prolog(text: str, *, complete: bool) -> bool | None:
    """True: an entity is declared; False: the root element starts without one.

    None: `text` ended inside the prolog and `complete` is false, so more text is needed. Stray
    text before the root is skipped rather than trusted, so it cannot hide a DOCTYPE.
    """
    pos = 0
    while True:
        pos = text.find("<", pos)
        if pos < 0 or pos + 1 >= len(text):
            return False if complete else None
        if text.startswith("<!DOCTYPE", pos):
            return _doctype_declares_entity(text, pos, complete=complete)
        if text.startswith("<?", pos) or text.startswith("<!--", pos):
            end = _markup_end(text, pos)
            if end < 0:
                return False if complete else None
            pos = end
        elif text[pos + 1].isalpha() or text[pos + 1] in "_:":
            return False
        else:
            pos += 1


def _markup_end(text: str, pos: int) -> int:
    """Index just past the comment or processing instruction at `pos`, or -1 if unterminated."""
    terminator = "?>" if text.startswith("<?", pos) else "-->"
    end = text.find(terminator, pos + 2)
    return end + len(terminator) if end >= 0 else -1


def _doctype_declares_entity(text: str, start: int, *, complete: bool) -> bool | None:
    """Scan a DOCTYPE declaration, quote-aware, for ``<!ENTITY`` inside its internal subset."""
    quote = ""
    depth = 0
    pos = start + len("<!DOCTYPE")
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == ">" and depth <= 0:
            return False
        elif depth > 0 and text.startswith("<!ENTITY", pos):
            return True
        elif depth > 0 and (text.startswith("<?", pos) or text.startswith("<!--", pos)):
            end = _markup_end(text, pos)
            if end < 0:
                break
            pos = end
            continue
        pos += 1
    if not complete:
        return None
    # A truncated internal subset cannot be well-formed; refuse rather than guess.
    return depth > 0
