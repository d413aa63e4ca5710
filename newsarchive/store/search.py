"""Full-text search over the archive, with or without Vietnamese diacritics.

Two contentless FTS5 indexes share one key: ``search_folded`` holds the text folded to bare ASCII
letters ("Điện Biên" → "dien bien": SQLite's own ``remove_diacritics`` never folds ``đ`` and leaves
letters with two marks half folded, so the folding is done here), ``search_exact`` the text as
written. A query is folded the same way and matched against the first; when it was typed with
diacritics, the articles that also match it exactly come first.

The index key orders articles by publication time (``published second << 20 | id``), so
newest-first is a reverse walk of the index that stops after ``limit`` hits. Relevance is bm25 (the
title weighing most) for a query with up to ``RELEVANCE_WINDOW`` matches; beyond that, the window's
newest matches are ranked by the column the words are in, so the cost stays bounded for a term that
matches most of the archive.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RELEVANCE_WINDOW = 2000
WEIGHTS = (10.0, 4.0, 1.0, 2.0)  # title, sapo, body, captions
_ID_BITS = 20
_TOKEN = re.compile(r"\w+")
_QUERY_TOKEN = re.compile(r'"[^"]*"?|\(|\)|[^\s()"]+')


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "D"}
    for block in (range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        for code in block:
            base = unicodedata.normalize("NFD", chr(code))[0]
            if base != chr(code) and len(base) == 1 and base.isascii():
                table[code] = base
    for code in range(0x0300, 0x0370):  # stray combining marks (text that was not NFC)
        table[code] = None  # type: ignore[assignment]
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower-case, diacritics removed, ``đ`` → ``d``: "Đà Nẵng" → "da nang". One character for one
    character on NFC text, so offsets in the folded text are offsets in the original."""
    return text.translate(_FOLD).lower()


def has_diacritics(text: str) -> bool:
    return fold(text) != text.lower()


class QueryError(ValueError):
    """A search query that cannot be understood (unbalanced quotes or brackets, a lone operator)."""


@dataclass(frozen=True)
class Query:
    folded: str  # FTS5 query over the folded index
    exact: str | None  # the same over the exact index, when typed with diacritics
    terms: tuple[str, ...]  # folded terms (a trailing * kept), for snippets


def parse_query(text: str) -> Query:
    """Quoted phrases, AND / OR / NOT (upper case, as FTS5 wants them), prefix*, brackets."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text:
        raise QueryError("empty search query")
    if text.count('"') % 2:
        raise QueryError("unbalanced quotes in the search query")
    folded, exact, terms = [], [], []
    depth, expect_term = 0, True
    for raw in _QUERY_TOKEN.findall(text):
        if raw in ("AND", "OR", "NOT"):
            if expect_term:
                raise QueryError(f"'{raw}' needs a term before it")
            folded.append(raw)
            exact.append(raw)
            expect_term = True
            continue
        if raw == "(":
            depth += 1
            folded.append(raw)
            exact.append(raw)
            continue
        if raw == ")":
            depth -= 1
            if depth < 0 or expect_term:
                raise QueryError("unbalanced brackets in the search query")
            folded.append(raw)
            exact.append(raw)
            continue
        if raw.startswith('"'):
            words = _TOKEN.findall(raw.strip('"'))
            if not words:
                continue
            folded.append('"' + " ".join(fold(w) for w in words) + '"')
            exact.append('"' + " ".join(w.lower() for w in words) + '"')
            terms.extend(fold(w) for w in words)
        else:
            prefix = raw.endswith("*")
            words = _TOKEN.findall(raw)
            if not words:
                continue
            star = "*" if prefix else ""
            # a token like "covid-19" is a phrase of its words, as the index splits it
            f = " ".join(fold(w) for w in words)
            e = " ".join(w.lower() for w in words)
            folded.append(f'"{f}"{star}')
            exact.append(f'"{e}"{star}')
            terms.extend(fold(w) + star for w in words)
        expect_term = False
    if depth != 0:
        raise QueryError("unbalanced brackets in the search query")
    if not terms:
        raise QueryError("the search query has no words to look for")
    if expect_term:
        raise QueryError("the search query ends with an operator")
    return Query(" ".join(folded), " ".join(exact) if has_diacritics(text) else None, tuple(dict.fromkeys(terms)))


def search_key(article: int, published_at: str | None, fallback: str) -> int:
    """The index key: publication second in the high bits, so that key order is time order."""
    when = published_at or fallback
    try:
        seconds = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp())
    except ValueError:
        seconds = 0
    return (max(seconds, 0) << _ID_BITS) | (article & ((1 << _ID_BITS) - 1))


def key_floor(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) << _ID_BITS


def _columns(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    captions = " ".join(i.get("caption") or "" for i in record.get("images") or [])
    return (record.get("title") or "", record.get("sapo") or "", record.get("body_text") or "", captions)


def index(conn: sqlite3.Connection, key: int, record: Mapping[str, Any]) -> None:
    cols = _columns(record)
    conn.execute("INSERT INTO search_folded(rowid, title, sapo, body, captions) VALUES (?, ?, ?, ?, ?)",
                 (key, *(fold(c) for c in cols)))
    conn.execute("INSERT INTO search_exact(rowid, title, sapo, body, captions) VALUES (?, ?, ?, ?, ?)", (key, *cols))


def unindex(conn: sqlite3.Connection, key: int, record: Mapping[str, Any]) -> None:
    """Contentless FTS5 forgets a row only when told its old values."""
    cols = _columns(record)
    conn.execute("INSERT INTO search_folded(search_folded, rowid, title, sapo, body, captions)"
                 " VALUES ('delete', ?, ?, ?, ?, ?)", (key, *(fold(c) for c in cols)))
    conn.execute("INSERT INTO search_exact(search_exact, rowid, title, sapo, body, captions)"
                 " VALUES ('delete', ?, ?, ?, ?, ?)", (key, *cols))


@dataclass(frozen=True)
class Filters:
    site: str | None = None
    section: str | None = None
    author: str | None = None
    since: str | None = None
    until: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        where, params = [], []
        if self.site:
            where.append("a.site = ?")
            params.append(self.site)
        if self.section:
            where.append("a.section_id = (SELECT id FROM sections WHERE name = ?)")
            params.append(self.section)
        if self.author:
            where.append("a.id IN (SELECT aa.article FROM article_authors aa JOIN authors au ON au.id = aa.author"
                         " WHERE au.name = ?)")
            params.append(self.author)
        if self.since:
            where.append("f.rowid >= ?")
            params.append(key_floor(self.since))
        if self.until:
            where.append("f.rowid < ?")
            params.append(key_floor(self.until))
        return "".join(f" AND {w}" for w in where), params


def _run(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> list[Any]:
    try:
        return conn.execute(sql, list(params)).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc) or "syntax error" in str(exc) or "no such column" in str(exc):
            raise QueryError(f"malformed search query ({exc})") from exc
        raise


def search(conn: sqlite3.Connection, text: str, *, limit: int = 20, sort: str = "relevance",
           filters: Filters = Filters()) -> list[int]:
    """Article ids, best first (or newest first)."""
    q = parse_query(text)
    where, params = filters.sql()
    base = "FROM search_folded f JOIN articles a ON a.search_key = f.rowid WHERE search_folded MATCH ?" + where
    if sort == "newest":
        rows = _run(conn, f"SELECT a.id {base} ORDER BY f.rowid DESC LIMIT ?", [q.folded, *params, limit])
        return [r[0] for r in rows]
    if where:
        kth = _run(conn, f"SELECT f.rowid {base} ORDER BY f.rowid DESC LIMIT 1 OFFSET ?",
                   [q.folded, *params, RELEVANCE_WINDOW - 1])
    else:  # no join needed to find the window
        kth = _run(conn, "SELECT rowid FROM search_folded WHERE search_folded MATCH ? ORDER BY rowid DESC"
                   " LIMIT 1 OFFSET ?", [q.folded, RELEVANCE_WINDOW - 1])
    if kth:
        # More matches than the window: bm25 would walk every matching row of the whole archive for
        # its term statistics (seconds on a million articles), so the window's newest matches are
        # ranked by where the words are: title, then sapo, then captions, then body.
        low = kth[0][0]
        rows = _run(conn, f"SELECT a.id, f.rowid {base} AND f.rowid >= ?", [q.folded, *params, low])
        tiers: dict[int, float] = {}
        for tier, column in enumerate(("captions", "sapo", "title")):  # later tiers overwrite earlier
            for (key,) in _run(conn, "SELECT rowid FROM search_folded WHERE search_folded MATCH ? AND rowid >= ?",
                               [f"{column} : ({q.folded})", low]):
                tiers[key] = -(tier + 1.0)
        scored = [(r[0], r[1], tiers.get(r[1], 0.0)) for r in rows]
    else:
        low = None
        weights = ", ".join(str(w) for w in WEIGHTS)
        scored = _run(conn, f"SELECT a.id, f.rowid, bm25(search_folded, {weights}) {base}", [q.folded, *params])
    exact: set[int] = set()
    if q.exact is not None and scored:
        low = low if low is not None else min(r[1] for r in scored)
        exact = {r[0] for r in _run(conn, "SELECT rowid FROM search_exact WHERE search_exact MATCH ? AND rowid >= ?",
                                    [q.exact, low])}
    scored.sort(key=lambda r: (r[1] not in exact, r[2], -r[1]))
    return [r[0] for r in scored[:limit]]


def snippet(text: str, terms: Iterable[str], width: int = 180) -> str:
    """Plain text around the first match, each match wrapped in <mark>…</mark> (nothing else of
    HTML: the text holds no markup, and < > & are left as they are)."""
    wanted = [t for t in terms if t]
    text = " ".join(text.split())  # one line
    folded = fold(text)
    spans = []
    for m in _TOKEN.finditer(folded):
        word = m.group(0)
        if any(word == t or (t.endswith("*") and word.startswith(t[:-1])) for t in wanted):
            spans.append((m.start(), m.end()))
    if not spans:
        return text[:width].strip() + ("…" if len(text) > width else "")
    start = max(0, spans[0][0] - width // 3)
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space != -1 and start - space < 20 else start
    end = min(len(text), start + width)
    out, pos = [], start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(text[pos:s])
        out.append(f"<mark>{text[s:e]}</mark>")
        pos = e
    out.append(text[pos:end])
    return ("…" if start else "") + "".join(out).strip() + ("…" if end < len(text) else "")
