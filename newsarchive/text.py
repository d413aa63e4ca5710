"""Text normalisation shared by the extractors: NFC, entities, whitespace, hostile characters."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

_ENTITY = re.compile(r"&(?:#\d{2,7}|#x[0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});")
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
# C0/C1 controls (terminal escapes start with ESC), bidi overrides/isolates and
# zero-width characters never belong in an archived text field.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
# The last net over a finished record (nfc_deep): the same characters, tab and CR too, and lone
# surrogates (not encodable as UTF-8). "\n" stays only in body_text, whose "\n\n" between blocks
# is the one line break a record holds; every other field is a single line.
_UNSAFE_FIELD = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_UNSAFE_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_MULTILINE = frozenset({"body_text"})
# In a URL: every control, bidi and zero-width character is dropped (browsers drop tab and newline;
# the rest is hostile), and any remaining whitespace is percent-encoded as a browser sends it
# ("anh 1.jpg" is a real file name; dropping the space would name another file).
_URL_SPACE = re.compile(r"\s")


def nfc(text: str) -> str:
    if unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def clean(text: str | None) -> str:
    """One line of text: entities decoded, unsafe characters dropped, whitespace collapsed.

    Not NFC by itself: the extractor normalises the page before parsing and the finished record
    once more (``nfc_record``), which costs far less than a check on every fragment."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
        if _ENTITY.search(text):  # double-escaped by the CMS ("&amp;#224;")
            text = html.unescape(text)
    if "<" in text:  # markup inside metadata strings (titles with icon <i> tags)
        text = _TAG.sub(" ", text)
    # The usual text needs no collapsing: printable (every whitespace character but " " is not)
    # and no double space once stripped. Returned as is: the split and join below would copy it
    # word by word (a third of a page's extraction time went there).
    stripped = text.strip()
    if stripped.isprintable() and "  " not in stripped:
        return stripped
    text = " ".join(text.split())  # str.split() knows every Unicode space, in C
    if not text.isprintable():  # rare: controls, bidi overrides, zero-width characters
        text = " ".join(_UNSAFE.sub("", text).split())
    return text


def clean_or_none(text: str | None) -> str | None:
    return clean(text) or None


def collapse(text: str) -> str:
    """Every whitespace run to one space (for content hashing and comparisons)."""
    return " ".join(text.split())


def safe(text: str, multiline: bool = False) -> str:
    """``text`` without the characters no stored field may hold: C0/C1 controls (``multiline``
    keeps "\\n"), bidi overrides, zero-width characters, lone surrogates."""
    if text.isprintable() or (multiline and text.replace("\n", "").isprintable()):  # C, twice the regex's speed
        return text
    unsafe = _UNSAFE_FIELD if multiline else _UNSAFE_LINE
    return unsafe.sub("", text) if unsafe.search(text) else text


def safe_url(url: str) -> str:
    """A URL without controls, bidi or zero-width characters; inner whitespace percent-encoded."""
    url = url.strip()
    if url.isprintable() and " " not in url:
        return url
    url = _UNSAFE_LINE.sub("", url).strip()
    return _URL_SPACE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), url)


def nfc_deep(value: Any, multiline: bool = False) -> Any:
    """NFC for every string inside lists and dicts (a finished record), each one ``safe``: whatever
    path a field took, no control character (a terminal escape) reaches the archive. Only the
    ``body_text`` field keeps its line breaks."""
    if isinstance(value, str):
        return nfc(safe(value, multiline))
    if isinstance(value, list):
        return [nfc_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc_deep(v, k in _MULTILINE) for k, v in value.items()}
    return value
