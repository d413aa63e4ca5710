"""Helpers shared by the extractors: source chains, JSON-LD values, bylines, datelines."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..text import clean

_DATELINE = re.compile(r"^\s*(\([^()]{1,40}\)|[A-ZĐ][A-ZĐ&.]{1,12})\s*[-–—]\s*")
_ROLE = re.compile(
    r"^(?:(?:bài|tin|ảnh|video|clip|đồ họa|đồ hoạ|thiết kế|trình bày|thực hiện|nhóm thực hiện|"
    r"biên tập|dựng|quay phim|tin và ảnh|bài và ảnh|bài, ảnh|tin, ảnh|ảnh và clip|bài và clip)\s*:\s*)+",
    re.I,
)
_SPLIT = re.compile(r"\s*[,;]\s*|\s+[-–—]\s+|\s*\|\s*")


def first_text(*values: str | None) -> str | None:
    """The first source that gives a non-empty cleaned text."""
    for v in values:
        if v:
            c = clean(v)
            if c:
                return c
    return None


def first_of(*sources: Callable[[], str | None]) -> str | None:
    """``first_text`` of sources read only as far as needed: each is a function, called in turn
    (a later source may cost a parse of the page's scripts that the first makes needless)."""
    for source in sources:
        v = source()
        if v:
            c = clean(v)
            if c:
                return c
    return None


def ld_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def ld_authors(ld: dict[str, Any]) -> list[str]:
    author = ld.get("author")
    items = author if isinstance(author, list) else [author]
    names = []
    for a in items:
        name = a.get("name") if isinstance(a, dict) else a if isinstance(a, str) else None
        name = clean(name) if isinstance(name, str) else ""
        if name:
            names.append(name)
    return names


def split_authors(byline: str) -> list[str]:
    """``Tin: Tường Minh - Ảnh: Đỗ Hiền`` → [Tường Minh, Đỗ Hiền]; ``Name / TTXVN`` → [Name]."""
    out: list[str] = []
    for part in _SPLIT.split(clean(byline)):
        part = _ROLE.sub("", part.strip())
        part = part.split("/")[0].strip().strip("()[]").strip(" .:-")
        if part and part not in out:
            out.append(part)
    return out


def split_dateline(sapo: str | None) -> tuple[str | None, str | None]:
    """``(HPĐT)- text`` → (``(HPĐT)``, ``text``)."""
    if not sapo:
        return None, None
    m = _DATELINE.match(sapo)
    if not m or len(sapo) == m.end():
        return None, sapo
    return m.group(1), sapo[m.end() :].strip() or None
