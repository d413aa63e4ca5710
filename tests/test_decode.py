"""Bytes to NFC text before parsing: header, BOM, meta charset, fallbacks, mis-declarations."""

from __future__ import annotations

import codecs
import unicodedata

import pytest

from newsarchive.extract.page import Page, decode

TITLE = "Đà Nẵng: Người dân phấn khởi đón Tết"


def cp1258(text: str) -> bytes:
    """windows-1258 as Vietnamese pages write it: base letters (â, ă, ơ…) with combining tones."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, marks = unicodedata.normalize("NFD", ch)[0], list(unicodedata.normalize("NFD", ch)[1:])
            for m in marks:  # fold the one mark cp1258 has precomposed (â, ă, ê, ô, ơ, ư) into the base
                composed = unicodedata.normalize("NFC", base + m)
                if len(composed) == 1 and composed.encode("cp1258", "ignore"):
                    base = composed
                    marks.remove(m)
                    break
            out += (base + "".join(marks)).encode("cp1258")
    return out


def page(charset_meta: str | None = None) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    return f"<html><head><title>{TITLE}</title>{meta}</head><body><h1>{TITLE}</h1></body></html>"


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        (page().encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"}),  # header
        (page("utf-8").encode("utf-8"), None),  # meta only
        (page().encode("utf-8"), None),  # nowhere
        (page().encode("utf-8"), {"Content-Type": "text/html; charset=iso-8859-1"}),  # mis-declared
        (codecs.BOM_UTF8 + page().encode("utf-8"), {"Content-Type": "text/html; charset=iso-8859-1"}),  # BOM wins
        (unicodedata.normalize("NFD", page()).encode("utf-8"), None),  # NFD text
        (cp1258(page("windows-1258")), None),  # windows-1258 via meta
        (cp1258(page()), {"content-type": "text/html; charset=windows-1258"}),  # via header
        (cp1258(page()), None),  # legacy bytes, declared nowhere: the Vietnamese fallback
        (codecs.BOM_UTF16_LE + page().encode("utf-16-le"), None),
    ],
)
def test_every_encoding_gives_the_same_nfc_text(data: bytes, headers: dict[str, str] | None) -> None:
    p = Page.from_html(data, "https://x.vn/", headers)
    assert p is not None
    assert p.title_tag() == TITLE
    assert unicodedata.is_normalized("NFC", p.title_tag())
    assert "\ufffd" not in p.text


def test_cp1258_combining_tones_compose() -> None:
    text = decode(cp1258("Việt Nam"), {"Content-Type": "text/html; charset=windows-1258"})
    assert text == "Việt Nam"


def test_header_lookup_accepts_bytes_and_lists() -> None:
    data = cp1258(page())
    assert decode(data, {b"Content-Type": [b"text/html; charset=windows-1258"]}).count(TITLE) == 2


def test_xml_declaration_and_empty_documents() -> None:
    assert Page.from_html('<?xml version="1.0" encoding="utf-8"?><html><body><p>x</p></body></html>', "u")
    assert Page.from_html(b"", "u") is None
    assert Page.from_html("   ", "u") is None
