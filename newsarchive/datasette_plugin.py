"""Datasette plugin (entry point ``datasette: newsarchive``): the SQL functions newsarchive's canned
search needs (and ``fold()``), a table search (``?_search=``) that folds diacritics, readable article
bodies and snippets, the size limit of ``newsarchive sql`` on every connection, and the reading
room's pages (``newsarchive.reading``: search at ``/``, sites, articles, media). Loaded by
``newsarchive serve``, and by a plain ``datasette archive.db`` when newsarchive is installed."""

from __future__ import annotations

import html
from typing import Any

from datasette import hookimpl
from datasette.utils import escape_fts

from .store import search as fts
from .store.queries import limit_connection


def _query(text: str) -> str:
    # A malformed query matches nothing (an exception raised inside an SQLite function would
    # only surface as a generic error with a traceback on the server's stderr).
    try:
        return fts.parse_query(text or "").folded
    except fts.QueryError:
        return '"newsarchive invalid query"'


def _snippet(text: str, query: str) -> str:
    try:
        terms = fts.parse_query(query).terms
    except fts.QueryError:
        terms = ()
    return fts.snippet(text, terms)


def _escape_fts(query: str | None) -> str:
    """Datasette's own ``escape_fts`` (each word quoted) over the folded query: its table search
    (``?_search=``) then finds "Điện Biên" in the folded index as ``newsarchive search`` does (the
    index's tokenizer folds every mark but the "đ" it never sees)."""
    return escape_fts(fts.fold(query or ""))


@hookimpl(trylast=True)  # after Datasette's own, so that its escape_fts is replaced by the folding one
def prepare_connection(conn: Any) -> None:
    # the bounds of `newsarchive sql`: zeroblob(10**9) or printf('%.*c', 10**9, 'x') in a URL fails
    # at once ("string or blob too big") instead of building a gigabyte response
    limit_connection(conn)
    fts.register_functions(conn)  # fold(), as in `newsarchive sql`
    # only in an archive: another database's index keeps "đ", and a folded query would miss it
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name IN ('articles_fts', 'search_folded')").fetchone():
        conn.create_function("escape_fts", 1, _escape_fts)
    conn.create_function("newsarchive_fold", 1, lambda t: fts.fold(t) if isinstance(t, str) else t,
                         deterministic=True)
    conn.create_function("newsarchive_query", 1, _query, deterministic=True)
    conn.create_function("newsarchive_snippet", 2, _snippet, deterministic=True)


@hookimpl
def register_routes(datasette: Any) -> list[tuple[str, Any]]:
    """The reading room's pages (newsarchive.reading): search at /, sites, articles, media."""
    from . import reading

    return reading.routes()


@hookimpl
def render_cell(value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    from markupsafe import Markup

    if column == "snippet" and isinstance(value, str):
        escaped = html.escape(value).replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>")
        return Markup(escaped)
    if column == "body_text" and isinstance(value, str):
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in value.split("\n\n") if p)
        return Markup(f'<div style="max-width:45em;white-space:normal">{paragraphs}</div>')
    return None
