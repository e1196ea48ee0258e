"""Control characters in text taken from pages and feeds.

A page can put ESC and BEL sequences in its title or text (as raw bytes or as ``&#27;``), and a
terminal that prints them clears the screen or sets its window title. Nothing a reader of an
article needs is a control character, so they are removed before text is stored, once, and every
reader of the archive can rely on that.
"""

from __future__ import annotations

import re

from lxml import etree

# C0 controls but tab and newline, DEL, and the C1 controls (U+0080 to U+009F).
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
_REFERENCE = re.compile(r"&#(?:[xX]0*([0-9a-fA-F]{1,6})|0*([0-9]{1,7}))")
# The same characters in a page's UTF-8 form: the C0 controls and DEL as bytes of their own, the
# C1 controls as C2 80 to C2 9F. Looked for in bytes, they are found several times faster.
_C0_BYTES = bytes(code for code in _CONTROLS if code < 0x80)
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")


def strip_controls(text: str) -> str:
    """`text` without C0 or C1 control characters; tab and newline are kept, and a carriage
    return (alone or before a newline) becomes a newline.

    Unicode format characters (bidi marks, zero-width joiners) are kept: scripts such as Arabic,
    Hebrew and the Indic ones need them, and they move no cursor.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


def strip_tree_controls(tree: etree._Element, markup: str) -> None:
    """Strip control characters from every text, tail and attribute value of a parsed page.

    A character reference such as ``&#27;`` puts one in the tree, and lxml refuses to copy such
    a string into a new tree: trafilatura then finds nothing and the page loses its text to the
    fallback. `markup` is what the tree was parsed from: the walk, a few per cent of an
    extraction, is skipped when it holds no control character, raw or as a reference.
    """
    if not _may_hold_controls(markup):
        return
    for element in tree.iter():
        for part in ("text", "tail"):
            value = getattr(element, part)
            if value and (cleaned := strip_controls(value)) != value:
                setattr(element, part, cleaned)
        for name, value in element.attrib.items():
            if (cleaned := strip_controls(value)) != value:
                element.set(name, cleaned)


def _may_hold_controls(markup: str) -> bool:
    raw = markup.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _C0_BYTES)) < len(raw) or (
        b"\xc2" in raw and _C1_UTF8.search(raw) is not None
    ):
        return True
    return any(
        (int(hexadecimal, 16) if hexadecimal else int(decimal)) in _CONTROLS
        for hexadecimal, decimal in _REFERENCE.findall(markup)
    )
