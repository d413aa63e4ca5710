"""Full-text search over the archive, with or without Vietnamese diacritics.

One contentless FTS5 index, ``search_folded``, holds the text folded to bare ASCII letters
("Điện Biên" → "dien bien"). SQLite's ``remove_diacritics`` never folds ``đ`` and at its default
level leaves letters with two marks half folded: the index uses level 2 (checked against
:func:`fold` for every letter it maps), and ``đ`` (with two rare letters level 2 misses) is
replaced before the text reaches it, far cheaper than folding whole bodies in Python. A query is
folded by :func:`fold` and matched against it. When the query was typed with diacritics, the
matches that also contain it as written (accents and all) come first: that is checked on the
candidates' own text, best first, until ``limit`` of them match, rather than kept in a second
index that would double the cost of every write.

The index key orders articles by publication time (``published second << 20 | id``), so
newest-first is a reverse walk of the index that stops after ``limit`` hits. Relevance is bm25 (the
title weighing most) for a query with up to ``RELEVANCE_WINDOW`` matches; beyond that, the window's
newest matches are ranked by the column the words are in, so the cost stays bounded for a term that
matches most of the archive.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .sitefilter import _split as split_site  # a site key's host and port (the records carry the host)
from .sitefilter import articles_of

RELEVANCE_WINDOW = 2000
EXACT_WINDOW = 200  # how deep into the ranking exact-accent matches are looked for and lifted
WEIGHTS = (10.0, 4.0, 1.0, 2.0, 0.0)  # title, sapo, body, captions, filters (not text: no weight)
TEXT_COLUMNS = "{title sapo body captions}"  # what a query's words are looked for in
# The filters column holds each author's and tag's folded name as one word behind a marker
# ("zzaumaique"), so that a filter is a word FTS5 intersects with the query itself (seeking through
# both lists) instead of a walk of every match of a common word checked against a list (0.4-0.8 s at
# 1M articles). One word, not a phrase between marker words: a phrase reads its every word's list,
# and a marker word is in every article.
AUTHOR_MARK, TAG_MARK = "zzau", "zztg"
# Migration 015 adds the site's, each section's (the article's and its breadcrumb's levels: a parent
# section includes its children) and the kind's words, so that a common word with a site and a
# section is an intersection of their lists too, not a walk of the word's matches checked per row.
SITE_MARK, SECTION_MARK, KIND_MARK = "zzst", "zzsc", "zzkd"
_ID_BITS = 20
MAX_DEPTH = 32  # brackets nested in a query
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
    exact: TextMatch | None  # the query as typed, when typed with diacritics
    terms: tuple[str, ...]  # folded terms (a trailing * kept), for snippets
    on_folded: TextMatch | None = None  # the query over folded text (fold()), as the index reads it


class TextMatch:
    """A query evaluated on a text in Python: each term (a word, a phrase, a prefix) as a regular
    expression on word boundaries over the lower-cased text, combined as FTS5 would (NOT binds
    tighter than AND, AND tighter than OR)."""

    def __init__(self, parts: list[str | _Term]) -> None:
        self._parts = parts
        self._pos = 0
        self._tree = self._or()

    def __call__(self, text: str) -> bool:
        return self._eval(self._tree, _Text(text))

    # parts come from parse_query and are balanced, with an operator between any two operands
    def _chain(self, op: str, operand: Callable[[], tuple]) -> tuple:
        items = [operand()]
        while self._peek() == op:
            self._pos += 1
            items.append(operand())
        return (op.lower(), items)

    def _or(self) -> tuple:
        return self._chain("OR", self._and)

    def _and(self) -> tuple:
        return self._chain("AND", self._not)

    def _not(self) -> tuple:
        node = self._atom()
        while self._peek() == "NOT":
            self._pos += 1
            node = ("not", [node, self._atom()])
        return node

    def _atom(self) -> tuple:
        part = self._parts[self._pos]
        self._pos += 1
        if part == "(":
            node = self._or()
            self._pos += 1  # ")"
            return node
        return ("term", part)

    def _peek(self) -> str | _Term | None:
        return self._parts[self._pos] if self._pos < len(self._parts) else None

    def _eval(self, node: tuple, text: _Text) -> bool:
        op, arg = node
        if op == "term":
            return text.has(arg)
        if op == "or":
            return any(self._eval(n, text) for n in arg)
        if op == "and":
            return all(self._eval(n, text) for n in arg)
        return self._eval(arg[0], text) and not self._eval(arg[1], text)


@dataclass(frozen=True)
class _Term:
    first: str  # the first word, lower-cased: a plain substring test rules most texts out cheaply
    pattern: re.Pattern[str]  # the whole term on word boundaries, over lower-cased text


class _Text:
    """An article's text, lower-cased only once some term's first word is seen in it as written
    in lower case, Capitalised or UPPER case (mixed case such as "ĐIệN" is not looked for)."""

    def __init__(self, text: str) -> None:
        self.raw = text
        self._lower: str | None = None

    def has(self, term: _Term) -> bool:
        w = term.first
        if w not in self.raw and w.capitalize() not in self.raw and w.upper() not in self.raw:
            return False
        if self._lower is None:
            self._lower = self.raw.lower()
        return term.pattern.search(self._lower) is not None


def _term(words: list[str], prefix: bool) -> _Term:
    body = r"\W+".join(re.escape(w.lower()) for w in words)
    return _Term(words[0].lower(), re.compile(r"(?<!\w)" + body + ("" if prefix else r"(?!\w)")))


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
            if depth > MAX_DEPTH:  # the evaluator recurses once per bracket (200 were a RecursionError)
                raise QueryError(f"brackets nested more than {MAX_DEPTH} deep in the search query")
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
            exact.append((words, False))
            terms.extend(fold(w) for w in words)
        else:
            prefix = raw.endswith("*")
            words = _TOKEN.findall(raw)
            if not words:
                continue
            star = "*" if prefix else ""
            # a token like "covid-19" is a phrase of its words, as the index splits it
            f = " ".join(fold(w) for w in words)
            folded.append(f'"{f}"{star}')
            exact.append((words, prefix))
            terms.extend(fold(w) + star for w in words)
        expect_term = False
    if depth != 0:
        raise QueryError("unbalanced brackets in the search query")
    if not terms:
        raise QueryError("the search query has no words to look for")
    if expect_term:
        raise QueryError("the search query ends with an operator")
    parts = _with_ands(exact)
    as_typed = TextMatch([_term(*p) if isinstance(p, tuple) else p for p in parts])
    on_folded = TextMatch([_term([fold(w) for w in p[0]], p[1]) if isinstance(p, tuple) else p for p in parts])
    # the words are looked for in the text columns only, never in the filters column
    return Query(f"{TEXT_COLUMNS} : ({' '.join(_with_ands(folded))})", as_typed if has_diacritics(text) else None,
                 tuple(dict.fromkeys(terms)), on_folded)


def _with_ands(parts: list) -> list:
    """FTS5 reads "a b" as a AND b, but not next to a bracket ("a (b OR c)" is a syntax error):
    write the AND out wherever two operands meet."""
    out: list = []
    for part in parts:
        if out and out[-1] not in ("AND", "OR", "NOT", "(") and part not in ("AND", "OR", "NOT", ")"):
            out.append("AND")
        out.append(part)
    return out


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


def indexed_text(record: Mapping[str, Any]) -> tuple[str, ...]:
    """What the index holds of a record: title, sapo, body, captions, and its authors', tags',
    site's, sections' and kind's words (the filters column): a version that changes any of them is
    indexed again."""
    return (*_columns(record), record_filter_text(record))


def record_filter_text(record: Mapping[str, Any]) -> str:
    """The filters column of a record (:func:`filter_text` of its fields)."""
    return filter_text(record.get("authors"), record.get("tags"), site=record.get("site"),
                       sections=[record.get("section"), *(record.get("breadcrumb") or [])], kind=record.get("kind"))


def filter_text(authors: Iterable[Any] | None, tags: Iterable[Any] | None, *, site: Any = None,
                sections: Iterable[Any] = (), kind: Any = None) -> str:
    """The filters column of an article: each author's, tag's, section's word, its site's and its
    kind's (:func:`filter_word`; each once, sorted: the same text from the record as saved and as
    read back, which a contentless index needs to forget it). Migration 014 wrote authors and tags
    only; 015 the rest too."""
    def words(mark: str, names: Iterable[Any] | None) -> list[str]:
        return sorted({filter_word(mark, n) for n in names or () if isinstance(n, str) and n.strip()})

    return " ".join(words(AUTHOR_MARK, authors) + words(TAG_MARK, tags) + words(SITE_MARK, [site])
                    + words(SECTION_MARK, sections) + words(KIND_MARK, [kind]))


def filter_word(mark: str, name: str) -> str:
    """An author's (``AUTHOR_MARK``) or tag's (``TAG_MARK``) one word in the filters column: the
    marker and the name key's words run together ("Mai Quế" → "zzaumaique"; two names that differ
    only in where their words break share it: each result is checked on its rows anyway)."""
    return mark + "".join(_TOKEN.findall(name_key(name))).replace("_", "")


def filter_phrase(mark: str, name: str) -> str:
    """The FTS5 query that finds an author (``AUTHOR_MARK``) or a tag in the filters column."""
    return f'filters : "{filter_word(mark, name)}"'


def has_filter_column(conn: sqlite3.Connection) -> bool:
    """Whether the search index has its filters column (migration 014; an archive read without
    migrating has not)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'search_folded'").fetchone()
    return bool(row and "filters" in row[0])


SITE_WORDS_MIGRATION = "015_search_filter_sites"


def indexed_filters(conn: sqlite3.Connection) -> frozenset[str]:
    """The filters whose words the index's filters column holds: none before migration 014, author
    and tag from 014, site, section and kind too from 015 (an archive read without migrating)."""
    if not has_filter_column(conn):
        return frozenset()
    try:
        later = conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (SITE_WORDS_MIGRATION,)).fetchone()
    except sqlite3.OperationalError:  # no _migrations table: not an archive the migrations wrote
        later = None
    return frozenset(("author", "tag", "site", "section", "kind") if later else ("author", "tag"))


def _columns(record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    captions = " ".join(i.get("caption") or "" for i in record.get("images") or [])
    return (record.get("title") or "", record.get("sapo") or "", record.get("body_text") or "", captions)


# the letters fold() maps that SQLite's remove_diacritics 2 leaves alone (a test checks them all)
_TOKENIZER_MISSES = {"đ": "d", "Đ": "D", "ǡ": "a", "Ǡ": "A"}


def _pre_fold(text: str) -> str:
    """What the folded index is given: its tokenizer folds the rest. A few ``replace`` scans cost
    a fraction of a per-character ``translate``."""
    for letter, base in _TOKENIZER_MISSES.items():
        if letter in text:
            text = text.replace(letter, base)
    return text


def index(conn: sqlite3.Connection, key: int, record: Mapping[str, Any]) -> None:
    """Index an article (whose row already holds ``key`` as its ``search_key``) in both indexes."""
    folded = [_pre_fold(c) for c in _columns(record)]
    _index_folded(conn, key, folded, record)
    # the tools' index, keyed by article id: captions go with the body (articles has no captions column)
    _index_ecosystem(conn, key, folded, "")


def index_folded(conn: sqlite3.Connection, key: int, record: Mapping[str, Any]) -> None:
    """Index an article in ``search_folded`` only (the migrations that rebuilt it before
    ``articles_fts`` existed)."""
    _index_folded(conn, key, [_pre_fold(c) for c in _columns(record)], record)


def _index_folded(conn: sqlite3.Connection, key: int, folded: list[str], record: Mapping[str, Any],
                  command: str = "") -> None:
    """Insert (or, ``command`` 'delete', forget) the row; with the filters column when the index has it."""
    head = "search_folded, " if command else ""
    lead = [command] if command else []
    # tried with the column first (asking the schema on every write cost a quarter of the index's
    # time); an index from before migration 014 refuses it as the statement is prepared
    try:
        conn.execute(f"INSERT INTO search_folded({head}rowid, title, sapo, body, captions, filters)"
                     f" VALUES ({'?, ' * len(lead)}?, ?, ?, ?, ?, ?)",
                     (*lead, key, *folded, record_filter_text(record)))
    except sqlite3.OperationalError as exc:
        if "filters" not in str(exc):
            raise
        conn.execute(f"INSERT INTO search_folded({head}rowid, title, sapo, body, captions)"
                     f" VALUES ({'?, ' * len(lead)}?, ?, ?, ?, ?)", (*lead, key, *folded))


def unindex(conn: sqlite3.Connection, key: int, record: Mapping[str, Any]) -> None:
    """Forget an article (whose row still holds ``key``) in both indexes: contentless FTS5, and
    external-content FTS5 given values that are not the content's own, forget a row only when told
    its old values."""
    folded = [_pre_fold(c) for c in _columns(record)]
    _index_folded(conn, key, folded, record, "delete")
    _index_ecosystem(conn, key, folded, "delete")


def _index_ecosystem(conn: sqlite3.Connection, key: int, folded: list[str], command: str) -> None:
    # (an INSERT … SELECT into the virtual table costs 4 times a lookup and an INSERT … VALUES)
    row = conn.execute("SELECT id FROM articles WHERE search_key = ?", (key,)).fetchone()
    if row is None:
        return
    if command:
        conn.execute("INSERT INTO articles_fts(articles_fts, rowid, title, sapo, body_text)"
                     " VALUES (?, ?, ?, ?, ?)", (command, row[0], *_ecosystem_cols(folded)))
    else:
        conn.execute("INSERT INTO articles_fts(rowid, title, sapo, body_text) VALUES (?, ?, ?, ?)",
                     (row[0], *_ecosystem_cols(folded)))


# The index that other tools find (sqlite-utils' and Datasette's detect_fts look for an FTS table
# whose content= names the table; they join its rowid to the table's rowid, the article id). The
# same folding as search_folded ("đ" replaced before the tokenizer, which folds every other mark).
# newsarchive's own search stays on search_folded, whose time-ordered key it needs.
ECOSYSTEM_FTS_SQL = (
    'CREATE VIRTUAL TABLE articles_fts USING fts5(title, sapo, body_text, content="articles",'
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)


def _ecosystem_cols(folded: list[str]) -> tuple[str, str, str]:
    title, sapo, body, captions = folded
    return title, sapo, f"{body} {captions}" if captions else body


def ecosystem_reindex(conn: sqlite3.Connection) -> None:
    """Fill the (empty) ``articles_fts`` from every article."""
    rows = conn.execute(
        "SELECT a.id, a.title, a.sapo, a.body_text,"
        " (SELECT group_concat(caption, ' ') FROM images i WHERE i.article = a.id) FROM articles a")
    for article, *cols in rows.fetchall():
        folded = [_pre_fold(c or "") for c in cols]
        conn.execute("INSERT INTO articles_fts(rowid, title, sapo, body_text) VALUES (?, ?, ?, ?)",
                     (article, *_ecosystem_cols(folded)))


def name_key(name: str) -> str:
    """What author and section names are matched and grouped on: NFC, whitespace collapsed, folded
    ("MAI QUẾ", "Mai  Quế", "mai que" → "mai que")."""
    return fold(" ".join(unicodedata.normalize("NFC", name).split()))


_VOWELS = frozenset("aeiouy")


def author_display(name: str) -> str:
    """An author's normal form, for display and grouping: NFC, whitespace collapsed, each word that
    is written all in capitals or all in small letters capitalised ("MAI QUẾ", "mai quế" → "Mai
    Quế"; "ĐỖ" → "Đỗ"). A word in mixed case is kept as written ("McNeil"), and so is an
    abbreviation in capitals without a vowel, which no Vietnamese syllable lacks ("TTXVN", "PV",
    "CTV", "PGS.TS")."""
    words = []
    for word in unicodedata.normalize("NFC", name).split():
        if word.isupper() and not _VOWELS.intersection(fold(word)):
            words.append(word)
        elif word.isupper() or word.islower():
            words.append("-".join(part[:1].upper() + part[1:].lower() for part in word.split("-")))
        else:
            words.append(word)
    return " ".join(words)


def preferred_display(current: str, candidate: str) -> str:
    """Of two normal forms of one author (one key), the one that keeps more diacritics ("Mai Quế"
    over "Mai Que"); the first one seen on a tie."""
    def marks(s: str) -> int:
        return sum(1 for ch in s if not ch.isascii())
    return candidate if marks(candidate) > marks(current) else current


def register_functions(conn: sqlite3.Connection) -> None:
    """SQL functions for users' queries (``newsarchive sql``, Datasette): ``fold(text)``, the
    folding search uses, so that ``WHERE articles_fts MATCH fold('Điện Biên')`` or
    ``fold(title) LIKE '%da nang%'`` work."""
    conn.create_function("fold", 1, lambda t: fold(t) if isinstance(t, str) else t, deterministic=True)


def section_filter(alias: str) -> str:
    """SQL (two parameters, both the folded section name): the article's section is the one asked
    for, or has it among its breadcrumb's levels (a parent section includes its children)."""
    return (f"({alias}.section_id IN (SELECT id FROM sections WHERE key = ?) OR EXISTS (SELECT 1 FROM"
            f" json_each({alias}.breadcrumb) j WHERE j.value IN (SELECT name FROM sections WHERE key = ?)))")


def author_filter(alias: str) -> str:
    """SQL (one parameter, the folded author name): one of the article's authors is that one."""
    return (f"{alias}.id IN (SELECT aa.article FROM article_authors aa JOIN authors au ON au.id = aa.author"
            " WHERE au.key = ?)")


@dataclass(frozen=True)
class Filters:
    site: str | None = None
    section: str | None = None
    author: str | None = None
    since: str | None = None  # ISO 8601 with its offset: published at or after
    until: str | None = None  # published before
    tag: str | None = None  # a tag's name, as printed (NFC, spaces collapsed)
    kind: str | None = None  # article, video, podcast, ... (the record's kind)

    def needs_articles(self, lists: bool = True) -> bool:
        """Whether a filter reads the articles table (dates are ranges of the index key); with
        ``lists`` False, author and tag aside (checked on a list of keys instead)."""
        return bool(self.site or self.section or self.kind or (lists and (self.author or self.tag)))

    def sql(self, key: str = "f.rowid", lists: bool = True) -> tuple[str, list[Any]]:
        """AND … conditions (and their parameters) over ``a`` (articles) and the index key; with
        ``lists`` False, without the author and tag."""
        where, params = [], []
        if self.site:  # the site's one identity (host, or host:port)
            clause, values = articles_of(self.site, "a.")
            where.append(clause)
            params.extend(values)
        if self.section:
            where.append(section_filter("a"))
            params.extend([name_key(self.section)] * 2)
        # Author and tag as a check of each result (its byline's and tags' few rows, by article:
        # "+" keeps SQLite from reading the author's or tag's every row per result instead), not a
        # list to look results up in: SQLite would build the whole list first (a common tag's
        # 125,000 rows: 0.3 s at 1M) or probe the search index once per article of it (minutes).
        if self.author and lists:
            where.append("EXISTS (SELECT 1 FROM article_authors aa WHERE aa.article = a.id"
                         " AND +aa.author IN (SELECT id FROM authors WHERE key = ?))")
            params.append(name_key(self.author))
        if self.tag and lists:
            where.append("EXISTS (SELECT 1 FROM article_tags t2 WHERE t2.article = a.id"
                         " AND +t2.tag IN (SELECT id FROM tags WHERE name = ?))")
            params.append(_tag_name(self.tag))
        if self.kind:
            where.append("a.kind = ?")
            params.append(self.kind)
        if self.since:
            where.append(f"{key} >= ?")
            params.append(key_floor(self.since))
        if self.until:
            where.append(f"{key} < ?")
            params.append(key_floor(self.until))
        return "".join(f" AND {w}" for w in where), params


def _run(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> list[Any]:
    try:
        return conn.execute(sql, list(params)).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc) or "syntax error" in str(exc) or "no such column" in str(exc):
            raise QueryError(f"malformed search query ({exc})") from exc
        raise


COUNT_CAP = 10_000  # results counted up to this many ("more than 10,000"): counting costs a walk of them all
FACET_WINDOW = 1000  # facets count the newest this many results (each one's row is read)


@dataclass(frozen=True)
class Results:
    """One page of a search's results, in the search's one order (see :func:`results`)."""

    ids: list[int]  # article ids of this page
    keys: list[int]  # their index keys
    total: int  # results in all, counted up to a cap (total_exact False past it; -1: not counted)
    total_exact: bool
    next_before: int | None  # the keyset cursor of the next page, where the order there is newest first
    window: list[int] | None = None  # the newest RELEVANCE_WINDOW results' keys, when they were read


LIST_DRIVEN = 50_000  # an author's or tag's articles up to this many are read as a list of index keys


def _tag_name(tag: str) -> str:
    return " ".join(unicodedata.normalize("NFC", tag).split())


def _list_of(conn: sqlite3.Connection, filters: Filters) -> tuple[str, list[Any]] | None:
    """SQL for the ids of the articles of the filter's author and tag (both: those of both), when
    the smaller has at most LIST_DRIVEN articles (counted in the byline and tag indexes alone);
    else None."""
    parts, params, sizes = [], [], []
    if filters.author:
        key = name_key(filters.author)
        parts.append("SELECT aa.article FROM article_authors aa JOIN authors au ON au.id = aa.author WHERE au.key = ?")
        params.append(key)
        sizes.append(_run(conn, "SELECT count(*) FROM (SELECT 1 FROM article_authors WHERE author IN"
                            " (SELECT id FROM authors WHERE key = ?) LIMIT ?)", [key, LIST_DRIVEN + 1])[0][0])
    if filters.tag:
        name = _tag_name(filters.tag)
        parts.append("SELECT t2.article FROM article_tags t2 JOIN tags t ON t.id = t2.tag WHERE t.name = ?")
        params.append(name)
        sizes.append(_run(conn, "SELECT count(*) FROM (SELECT 1 FROM article_tags WHERE tag IN"
                            " (SELECT id FROM tags WHERE name = ?) LIMIT ?)", [name, LIST_DRIVEN + 1])[0][0])
    if not parts or min(sizes) > LIST_DRIVEN:
        return None
    return " INTERSECT ".join(parts), params


@dataclass(frozen=True)
class _Plan:
    """How a search's results are read: ``base`` (FROM … WHERE …) with ``params``, keyed by ``key``."""

    base: str
    params: list[Any]
    key: str
    extra: str = ""  # what the plan adds to the query's MATCH (the filters' words)
    sparse: bool | None = None  # a filter checked on the rows only may leave few of the query's matches

    def walk(self, conn: sqlite3.Connection, n: int, *, offset: int = 0, below: int | None = None) -> list[int]:
        """The keys of the results, newest first: ``n`` after ``offset``, below ``below``."""
        bound = f" AND {self.key} < ?" if below is not None else ""
        lower = [below] if below is not None else []
        sql = f"SELECT {self.key} {self.base}{bound} ORDER BY {self.key} DESC LIMIT ? OFFSET ?"
        return [r[0] for r in _run(conn, sql, [*self.params, *lower, n, offset])]


def _index_words(filters: Filters, held: frozenset[str]) -> tuple[str, frozenset[str]]:
    """The filters column's phrases (ANDed onto a query) for the filters set that the index holds,
    and which filters they stand for wholly (a site key with a port: the host's word, the port is
    checked on the rows)."""
    words, covered = [], set()
    host, port = split_site(filters.site) if filters.site else (None, None)
    for name, mark, value in (("author", AUTHOR_MARK, filters.author), ("tag", TAG_MARK, filters.tag),
                              ("site", SITE_MARK, host), ("section", SECTION_MARK, filters.section),
                              ("kind", KIND_MARK, filters.kind)):
        if value and value.strip() and name in held:  # (a blank name has no word: its rows tell)
            words.append(f" AND {filter_phrase(mark, value)}")
            if not (name == "site" and port is not None):
                covered.add(name)
    return "".join(words), frozenset(covered)


def _plan(conn: sqlite3.Connection, q: Query | None, filters: Filters) -> _Plan:
    """How to read the results of ``q`` (None: every article) under ``filters``."""
    extra, covered = _index_words(filters, indexed_filters(conn)) if q is not None else ("", frozenset())
    if q is not None and extra:
        # The filters as words of the filters column, ANDed into the query: FTS5 seeks through
        # their lists together (a common word with one of 500 authors: the author's few thousand
        # entries, not the word's million; with a site and a section, the entries where both
        # meet), and a date range is a range of the index key it reads. The index's names are
        # folded and a section's word stands for any breadcrumb level, so each result is still
        # checked exactly on its row (its byline's and tags' rows) as without the column.
        where, params = filters.sql("f.rowid")
        rows_only = [f for f in ("site", "section", "kind", "author", "tag")
                     if getattr(filters, f) and f not in covered]
        return _Plan(f"FROM search_folded f CROSS JOIN articles a ON a.search_key = f.rowid"
                     f" WHERE search_folded MATCH ?{where}", [q.folded + extra, *params], "f.rowid", extra,
                     sparse=bool(rows_only))
    listed = _list_of(conn, filters)
    ids: list[int] = []
    if listed is not None:
        ids = [r[0] for r in _run(conn, listed[0], listed[1])]
    if q is None:  # no words: every article (search_key NULL only in an archive from before search)
        where, params = filters.sql("a.search_key")
        if listed is not None:  # the list's rows, then sorted: no walk of the whole archive
            return _Plan(f"FROM articles a WHERE a.id IN ({listed[0]}) AND a.search_key IS NOT NULL{where}",
                         [*listed[1], *params], "a.search_key")
        return _Plan(f"FROM articles a WHERE a.search_key IS NOT NULL{where}", params, "a.search_key")
    lists = listed is None
    where, params = filters.sql("f.rowid", lists=lists)
    if listed is not None:
        # An author's or a tag's articles as a set of index keys, checked while the index alone is
        # walked ("+": a filter, not a probe of the index per key, which restarts the index's
        # reading each time): joining each match to its article costs several times more, and a
        # common word with a rare author walks most of the index for a few results.
        keys = [k for (k,) in _run(conn, "SELECT search_key FROM articles WHERE id IN (SELECT value FROM json_each(?))"
                                   " AND search_key IS NOT NULL", [json.dumps(ids)])]
        if not keys:  # an author or tag with no articles: nothing to walk the index for
            return _Plan("FROM search_folded f WHERE search_folded MATCH ? AND 0", [q.folded], "f.rowid")
        where = " AND +f.rowid IN (SELECT value FROM json_each(?))" + where
        params = [json.dumps(keys), *params]
    # The join to articles is made only when a filter needs it (keys are mapped to ids at the end);
    # CROSS JOIN keeps the index walk outside: driven by a site's rows instead, SQLite would probe
    # the index once per article of the site (seconds on a large site).
    join = " CROSS JOIN articles a ON a.search_key = f.rowid" if filters.needs_articles(lists) else ""
    return _Plan(f"FROM search_folded f{join} WHERE search_folded MATCH ?{where}", [q.folded, *params], "f.rowid")


def results(conn: sqlite3.Connection, text: str, *, sort: str = "relevance", filters: Filters = Filters(),
            offset: int = 0, limit: int = 20, before: int | None = None, count: bool = True) -> Results:
    """A page of results of ``text`` (empty: every article, newest first), in one order that
    covers every result: newest first (``sort="newest"``), or by relevance — bm25 (exact-accent
    matches first) when the query has at most RELEVANCE_WINDOW matches in the whole archive; past
    that, the newest RELEVANCE_WINDOW results ranked by the column the words are in, then every
    other result newest first. ``before`` (an index key, :attr:`Results.next_before`) continues the
    newest-first part after that key at the cost of one page, however deep; ``offset`` costs a walk
    of the results it skips. ``count``: the total too, up to COUNT_CAP (up to RELEVANCE_WINDOW
    when a filter reads the articles, whose rows cost more to walk), and the newest
    RELEVANCE_WINDOW keys (for :func:`facets_of`), read once for the ranking, the count, the
    facets and the first pages. :class:`QueryError` for a query that cannot be understood."""
    q = parse_query(text) if text.strip() else None
    plan = _plan(conn, q, filters)
    newest = q is None or sort == "newest" or before is not None
    window = plan.walk(conn, RELEVANCE_WINDOW) if count or not newest else None
    total: int | None = None
    if before is not None:
        keys = plan.walk(conn, limit, below=before)
        cursor = keys[-1] if len(keys) == limit else None
    elif newest:
        if window is not None and (offset + limit <= len(window) or len(window) < RELEVANCE_WINDOW):
            keys = window[offset:offset + limit]
        else:
            keys = plan.walk(conn, limit, offset=offset)
        cursor = keys[-1] if len(keys) == limit else None
    else:
        assert q is not None and window is not None
        # (an author or tag in the index's MATCH leaves the window dense for the column filters)
        sparse = plan.sparse if plan.sparse is not None else filters.needs_articles(lists=not plan.extra)
        ranked = _ranked(conn, q, plan, window, offset + limit, limit, sparse=sparse)
        keys = ranked[offset:offset + limit]
        cursor = None
        if len(window) < RELEVANCE_WINDOW:  # every result was ranked
            total = len(ranked)
        elif offset + limit >= RELEVANCE_WINDOW:  # the page reaches the newest-first tail below the window
            tail = plan.walk(conn, limit - len(keys), offset=max(0, offset - RELEVANCE_WINDOW), below=window[-1])
            keys += tail
            if len(keys) == limit:
                cursor = keys[-1] if tail else window[-1]
    cap = COUNT_CAP
    if total is None and window is not None:
        if len(window) < RELEVANCE_WINDOW:
            total = len(window)
        elif filters.needs_articles():
            total, cap = RELEVANCE_WINDOW + 1, RELEVANCE_WINDOW  # "more than 2,000"
        else:
            total = _run(conn, f"SELECT count(*) FROM (SELECT 1 {plan.base} LIMIT ?)",
                         [*plan.params, COUNT_CAP + 1])[0][0]
    total = total if total is not None else -1
    return Results(_ids(conn, keys), keys, min(total, cap), 0 <= total <= cap, cursor, window)


def _ranked(conn: sqlite3.Connection, q: Query, plan: _Plan, window: list[int], need: int, limit: int,
            sparse: bool = False) -> list[int]:
    """The relevance order's first ``need`` keys (at least), from the newest RELEVANCE_WINDOW
    results (``window``, newest first); ``sparse``: a filter left a few of the matches in the
    window's key range."""
    if not window:
        return []
    if len(window) == RELEVANCE_WINDOW or _more_matches_than(conn, q, RELEVANCE_WINDOW):
        # The query matches more than that in the archive: bm25 would walk every match of the
        # whole index for its term statistics (seconds on a million articles, and again for each
        # result of a filter), so the window is ranked by where the words are: title, then sapo,
        # then captions, then body, newest first within each (column filters over the window's
        # key range only).
        if sparse:  # a filter: the window's range may hold many other matches, for the column filters to read
            in_range = _run(conn, "SELECT count(*) FROM (SELECT 1 FROM search_folded WHERE search_folded MATCH ?"
                            " AND rowid BETWEEN ? AND ? LIMIT ?)",
                            [q.folded + plan.extra, window[-1], window[0], 20 * len(window)])
            sparse = in_range[0][0] >= 20 * len(window)
        tiers = _tiers_by_text(conn, q, window) if sparse else _tiers_by_index(conn, q, window, plan.extra)
        scored = [(k, tiers.get(k, 0.0)) for k in window]
    else:
        weights = ", ".join(str(w) for w in WEIGHTS)
        scored = _run(conn, f"SELECT {plan.key}, bm25(search_folded, {weights}) {plan.base}", plan.params)
    scored.sort(key=lambda r: (r[1], -r[0]))
    ranked = [r[0] for r in scored]
    if q.exact is not None:
        ranked = _exact_first(conn, q.exact, ranked, need, max(EXACT_WINDOW, limit))
    return ranked


_TIER_COLUMNS = ("captions", "sapo", "title")  # later tiers overwrite earlier: title first, then sapo, captions


def _tiers_by_index(conn: sqlite3.Connection, q: Query, window: list[int], extra: str = "",
                    columns: tuple[str, ...] = ("sapo", "title")) -> dict[int, float]:
    """Each key's tier, by column filters over the window's key range (both ends: with a date
    filter the window can lie far back); ``extra``: the plan's filter words. The captions tier
    comes from the window's own captions (:func:`_caption_tiers`) unless ``columns`` names it."""
    tiers = {} if "captions" in columns else _caption_tiers(conn, q, window)
    for tier, column in enumerate(_TIER_COLUMNS):
        if column not in columns:
            continue
        for (k,) in _run(conn, "SELECT rowid FROM search_folded WHERE search_folded MATCH ? AND rowid BETWEEN ? AND ?",
                         [f"{column} : ({q.folded}){extra}", window[-1], window[0]]):
            tiers[k] = -(tier + 1.0)
    return tiers


def _caption_tiers(conn: sqlite3.Connection, q: Query, window: list[int]) -> dict[int, float]:
    """The captions tier of the window's keys, from their images' captions folded (read by article
    from the key index and the images' rows, no article row): a column filter on captions reads
    every entry of the query's words in the window's key range until it finds one in a caption, so
    where few or no captions hold them it reads them all (70-160 ms for a site's months at 1M)."""
    assert q.on_folded is not None
    tiers: dict[int, float] = {}
    for start in range(0, len(window), 500):
        chunk = window[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for key, captions in conn.execute(
                "SELECT a.search_key, (SELECT group_concat(caption, ' ') FROM images i WHERE i.article = a.id)"
                f" FROM articles a WHERE a.search_key IN ({marks})", chunk):
            if captions and q.on_folded(fold(captions)):
                tiers[key] = -1.0
    return tiers


def _tiers_by_text(conn: sqlite3.Connection, q: Query, window: list[int]) -> dict[int, float]:
    """The same tiers, from the window's own titles, sapos and captions folded: when a filter left a
    few of the matches in the window's key range, the column filters would read all the others
    (every title with a common word in the archive, for an author's articles)."""
    assert q.on_folded is not None
    tiers: dict[int, float] = {}
    for start in range(0, len(window), 500):
        chunk = window[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for key, *texts in conn.execute(
                "SELECT a.search_key, coalesce((SELECT group_concat(caption, ' ') FROM images i"
                " WHERE i.article = a.id), ''), coalesce(a.sapo, ''), a.title FROM articles a"
                f" WHERE a.search_key IN ({marks})", chunk):
            for tier, text in enumerate(texts):
                if text and q.on_folded(fold(text)):
                    tiers[key] = -(tier + 1.0)
    return tiers


def _more_matches_than(conn: sqlite3.Connection, q: Query, n: int) -> bool:
    """Whether the query alone (no filter) matches more than ``n`` articles: a walk of the index only."""
    return _run(conn, "SELECT count(*) FROM (SELECT 1 FROM search_folded WHERE search_folded MATCH ? LIMIT ?)",
                [q.folded, n + 1])[0][0] > n


PROBED = 5_000  # candidate keys asked about at once (a saved search's check goes by batches of new articles)
DENSE = 200  # the key range is walked when it holds at most this many articles per candidate


def matches_among(conn: sqlite3.Connection, text: str, keys: Iterable[int], filters: Filters = Filters()) -> list[int]:
    """Which of these index keys (new articles: a saved search's check) are results of ``text``
    under ``filters``, in the search's own plan (the same words and checks as :func:`results`),
    ascending. New articles are mostly recent, their keys close together: the matches between the
    smallest and the largest key are walked once (a few microseconds each); keys spread over years
    (an old archive's pages crawled late) are each looked up in the index instead (FTS5 seeks each
    word to it: 0.3-0.8 ms a key at 1M articles). :class:`QueryError` for a bad query."""
    plan = _plan(conn, parse_query(text), filters)
    wanted = sorted(set(keys))
    if not wanted:
        return []
    bound = DENSE * len(wanted)
    in_range = conn.execute("SELECT count(*) FROM (SELECT 1 FROM articles WHERE search_key BETWEEN ? AND ? LIMIT ?)",
                            (wanted[0], wanted[-1], bound + 1)).fetchone()[0]
    if in_range <= bound:  # ("+": a filter on each match of the range, not a lookup per key)
        sql = (f"SELECT {plan.key} {plan.base} AND {plan.key} BETWEEN ? AND ?"
               f" AND +{plan.key} IN (SELECT value FROM json_each(?))")
        params = [*plan.params, wanted[0], wanted[-1], json.dumps(wanted)]
    else:
        sql = f"SELECT {plan.key} {plan.base} AND {plan.key} IN (SELECT value FROM json_each(?))"
        params = [*plan.params, json.dumps(wanted)]
    return sorted({k for (k,) in _run(conn, sql, params)})


def search(conn: sqlite3.Connection, text: str, *, limit: int = 20, sort: str = "relevance",
           filters: Filters = Filters()) -> list[int]:
    """Article ids, best first (or newest first): the first page of :func:`results`."""
    parse_query(text)  # no words is an error here (the reading room's empty query lists the newest)
    return results(conn, text, sort=sort, filters=filters, limit=limit, count=False).ids


@dataclass(frozen=True)
class Facets:
    counts: dict[str, list[tuple[str, int]]]  # site, section, kind: (value, results), most first
    scanned: int  # results counted: every one when complete
    complete: bool


def facets(conn: sqlite3.Connection, text: str, filters: Filters = Filters(), window: int = FACET_WINDOW) -> Facets:
    """Results per site, section and kind, over the newest ``window`` results (all when fewer)."""
    q = parse_query(text) if text.strip() else None
    return facets_of(conn, _plan(conn, q, filters).walk(conn, window), window)


def facets_of(conn: sqlite3.Connection, keys: list[int], window: int = FACET_WINDOW) -> Facets:
    """Results per site, section and kind of the articles of these index keys (a search's newest
    ``window`` results: :attr:`Results.window`)."""
    counts: dict[str, dict[str, int]] = {"site": {}, "section": {}, "kind": {}}
    # the filters' index holds all three in key order (SQLite would pick the unique key index and
    # read each article's row); an archive from before it (read-only, not migrated) does without
    indexed = " INDEXED BY articles_search_filters" if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'articles_search_filters'").fetchone() else ""
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for site, section, kind, n in conn.execute(
                f"SELECT a.site, s.name, a.kind, count(*) FROM articles a{indexed} LEFT JOIN sections s"
                f" ON s.id = a.section_id WHERE a.search_key IN ({marks}) GROUP BY 1, 2, 3", chunk):
            for facet, value in (("site", site), ("section", section), ("kind", kind)):
                if value:
                    counts[facet][value] = counts[facet].get(value, 0) + n
    ordered = {f: sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) for f, c in counts.items()}
    return Facets(ordered, len(keys), len(keys) < window)


def _ids(conn: sqlite3.Connection, keys: list[int]) -> list[int]:
    """Article ids for index keys, in the same order."""
    if not keys:
        return []
    marks = ", ".join("?" for _ in keys)
    found = dict(conn.execute(f"SELECT search_key, id FROM articles WHERE search_key IN ({marks})", keys).fetchall())
    return [found[k] for k in keys if k in found]


def _exact_first(conn: sqlite3.Connection, exact: TextMatch, ranked: list[int], need: int, window: int) -> list[int]:
    """The ranked keys with those that match the query as typed first (every key; only the first
    ``need`` are sure to be in that order: the rest may hold exact matches not read). The text is
    read best first, a chunk at a time, until ``need`` exact matches are found or ``window``
    candidates are read (reading every body of a common folded word costs more than the 50 ms a
    search may take; a match ranked below the window keeps its place)."""
    hits: list[int] = []
    others: list[int] = []
    chunk = max(min(need, window), 50)
    for start in range(0, min(len(ranked), window), chunk):
        keys = ranked[start:min(start + chunk, window)]
        marks = ", ".join("?" for _ in keys)
        texts = dict(conn.execute(
            "SELECT a.search_key, a.title || ' ' || coalesce(a.sapo, '') || ' ' || a.body_text || ' ' ||"
            f" coalesce((SELECT group_concat(caption, ' ') FROM images i WHERE i.article = a.id), '')"
            f" FROM articles a WHERE a.search_key IN ({marks})", keys).fetchall())
        for key in keys:
            (hits if exact(texts.get(key, "")) else others).append(key)
            if len(hits) == need:
                found = set(hits)
                return hits + [k for k in ranked if k not in found]
    return hits + others + ranked[len(hits) + len(others):]


def snippet(text: str, terms: Iterable[str], width: int = 180,
            marks: tuple[str, str] = ("<mark>", "</mark>")) -> str:
    """Plain text around the first match, each match wrapped in ``marks``, <mark>…</mark> unless
    told otherwise (("", "") for none; nothing else of HTML: the text holds no markup, and < > &
    are left as they are)."""
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
        out.append(f"{marks[0]}{text[s:e]}{marks[1]}")
        pos = e
    out.append(text[pos:end])
    return ("…" if start else "") + "".join(out).strip() + ("…" if end < len(text) else "")
