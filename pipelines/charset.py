"""Decode page bytes to text the way browsers do, so no page comes out as mojibake."""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def _guess(data: bytes) -> str:
    """Pick an encoding for undeclared bytes: UTF-8 if they are valid UTF-8, else detected.

    Detection (charset-normalizer, a trafilatura dependency) is trusted for multi-byte encodings
    (Shift_JIS, GBK, EUC-KR...); a single-byte guess becomes windows-1252, the browsers' default
    for undeclared pages, since telling Latin code pages apart from little text is unreliable.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is not None and best.multi_byte_usage > 0:
            return best.encoding
        return "cp1252"
    return "utf-8"


def decode_html(html: str | bytes, content_type: str | None = None) -> str:
    """Decode page bytes by HTTP charset, BOM, <meta charset>/<meta http-equiv>, else detection.

    A byte-order mark wins, then the HTTP header, then the page's own declaration, as in the HTML
    standard; undeclared bytes are UTF-8 when valid, else detected.
    Text input is returned unchanged. Never raises: undecodable bytes become U+FFFD.
    """
    if isinstance(html, str):
        return html
    _, text = html_to_unicode(content_type, html, auto_detect_fun=_guess)
    return text
