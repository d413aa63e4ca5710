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
    text = " ".join(text.split())  # str.split() knows every Unicode space, in C
    if not text.isprintable():  # rare: controls, bidi overrides, zero-width characters
        text = " ".join(_UNSAFE.sub("", text).split())
    return text


def clean_or_none(text: str | None) -> str | None:
    return clean(text) or None


def collapse(text: str) -> str:
    """Every whitespace run to one space (for content hashing and comparisons)."""
    return " ".join(text.split())


def nfc_deep(value: Any) -> Any:
    """NFC for every string inside lists and dicts (a finished record)."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [nfc_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: nfc_deep(v) for k, v in value.items()}
    return value
