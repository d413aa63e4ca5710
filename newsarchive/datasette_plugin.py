"""Datasette plugin (entry point ``datasette: newsarchive``): the SQL functions newsarchive's canned
search needs (and ``fold()``), a table search (``?_search=``) that folds diacritics, readable article
bodies and snippets, the size limit of ``newsarchive sql`` on every connection, and the reading
room's pages (``newsarchive.reading``: search at ``/``, sites, articles, media). Loaded by
``newsarchive serve``, and by a plain ``datasette archive.db`` when newsarchive is installed."""

from __future__ import annotations

import html
import ipaddress
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


# -- DNS rebinding ---------------------------------------------------------------------------------

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
MISDIRECTED = b"421 Misdirected Request: this archive answers to localhost, 127.0.0.1 or [::1] only\n"


def _loopback(address: Any) -> bool:
    host = str(address[0]) if address else ""
    if host.lower() == "localhost":  # a test client's scope
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def host_allowed(host: str) -> bool:
    """Whether a Host header names this machine: localhost, 127.0.0.1 or [::1], any port."""
    host = host.strip().lower()
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or (host.startswith("[") and "]:" in host) else host
    return name in LOCAL_NAMES


def host_guard(app: Any) -> Any:
    """The app, answering 421 to a request that came in over a loopback address but names another
    host: a web page can rebind its own name to 127.0.0.1 (DNS rebinding) and so read a local
    archive from the reader's browser, and the citation's permanent link would take that name.
    The address is the connection's own (the ASGI scope's ``server``), so a server bound to
    127.0.0.1, or to 0.0.0.0 and reached over loopback, is guarded, and one reached over the network
    is not (it answers to whatever name the network gives it). No Host header (HTTP/1.0): served."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket") and _loopback(scope.get("server")):
            host = next((v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"host"), None)
            if host is not None and not host_allowed(host):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send({"type": "http.response.start", "status": 421,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(MISDIRECTED)).encode()),
                                        (b"x-content-type-options", b"nosniff")]})
                await send({"type": "http.response.body", "body": MISDIRECTED})
                return
        await app(scope, receive, send)

    return guarded


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Every server with newsarchive installed (``newsarchive serve``, a plain ``datasette``) refuses
    foreign host names on loopback connections (:func:`host_guard`)."""
    return host_guard
