"""Text normalisation shared by the extractors: NFC, entities, whitespace, hostile characters."""

from __future__ import annotations

import html
import re
import unicodedata

_WS = re.compile(r"\s+")
# C0/C1 controls (terminal escapes start with ESC), bidi overrides/isolates and
# zero-width characters never belong in an archived text field.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def nfc(text: str) -> str:
    if unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def clean(text: str | None) -> str:
    """One line of text: entities decoded, unsafe characters dropped, whitespace collapsed, NFC."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    text = _UNSAFE.sub("", text)
    return nfc(_WS.sub(" ", text).strip())


def clean_or_none(text: str | None) -> str | None:
    return clean(text) or None


def collapse(text: str) -> str:
    """Every whitespace run to one space (for content hashing and comparisons)."""
    return _WS.sub(" ", text).strip()
