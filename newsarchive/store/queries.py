"""Read-only SQL for users, and the archive's statistics."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import StorageError

# Introspection pragmas that only read
SAFE_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                          "foreign_key_list", "table_list", "function_list", "collation_list", "database_list",
                          "data_version"})  # (FTS5 reads it on every MATCH)
_ALLOWED = {
    sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE,
}


# The longest string or BLOB a user's query may make or read. Above any value the archive can
# hold (bodies come from pages of at most 16 MiB, at most 3 bytes of UTF-8 per byte decoded), far
# below what zeroblob(), randomblob(), printf('%.*c') or group_concat() would otherwise allocate
# (SQLite's own limit is 1 GB per value).
VALUE_LIMIT = 64 * 2**20
SQL_LIMIT = 2**20  # the statement itself


class SQLError(ValueError):
    """A statement refused or failed: one line for the user."""


def limit_connection(conn: sqlite3.Connection) -> None:
    """The memory and time bounds of every connection that runs users' SQL (``sql``, ``serve``)."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, SQL_LIMIT)
    for name in ("printf", "format"):
        conn.create_function(name, -1, _bounded_printf, deterministic=True)


# SQLite's printf() walks a width or precision of up to 2**31 one character at a time even past
# SQLITE_LIMIT_LENGTH (about 12 s, inside one function call: no progress handler interrupts it).
# Ours answers NULL at once for a width or precision past VALUE_LIMIT, as SQLite's does in the end,
# and lets SQLite's own printf (on a connection of its own) do everything else.
_SPEC = re.compile(r"%(?:%|[-+ 0#,!]*(\*|\d+)?(?:\.(\*|\d+))?(?:ll|l)?[A-Za-z])")
_PRINTF = sqlite3.connect(":memory:", check_same_thread=False)
_PRINTF.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, VALUE_LIMIT)
_PRINTF_LOCK = threading.Lock()


def _bounded_printf(fmt: Any = None, *args: Any) -> Any:
    if not isinstance(fmt, str):
        return None if fmt is None else str(fmt)
    rest = list(args)
    for m in _SPEC.finditer(fmt):
        for part in (m.group(1), m.group(2)):
            if part is None:
                continue
            size = rest.pop(0) if part == "*" and rest else part
            try:
                if abs(int(size)) > VALUE_LIMIT:
                    return None
            except (TypeError, ValueError):
                pass
        if m.group(0) != "%%" and rest:
            rest.pop(0)
    marks = ", ".join("?" for _ in range(len(args) + 1))
    with _PRINTF_LOCK:
        return _PRINTF.execute(f"SELECT printf({marks})", (fmt, *args)).fetchone()[0]


def _authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in SAFE_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _failure(exc: Exception, time_limit: float) -> SQLError:
    message = str(exc)
    if "interrupted" in message:
        return SQLError(f"query interrupted after the time limit of {time_limit:g} s")
    if "not authorized" in message:
        return SQLError("refused: only reading statements are allowed (no writes, ATTACH or PRAGMA)")
    if "too big" in message:
        return SQLError(f"a value or the statement is larger than the limit of {VALUE_LIMIT // 2**20} MiB")
    return SQLError(f"SQL error: {message}")


def _connect_virtual_tables(conn: sqlite3.Connection) -> None:
    """Construct the full-text index tables before the authorizer is set: SQLite asks it about an
    internal write to ``sqlite_master`` when it first connects a virtual table, and the refusal
    would fail every ``MATCH`` ("vtable constructor failed"). A connected table stays connected."""
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")]
        for name in names:
            conn.execute(f'SELECT rowid FROM "{name.replace(chr(34), chr(34) * 2)}" LIMIT 0').fetchall()
    except sqlite3.Error:
        pass  # a table that cannot be connected fails the user's query that uses it, with its reason


@contextmanager
def query_rows(path: Path, sql: str, params: Mapping[str, Any] | None = None, *, time_limit: float = 5.0,
               max_rows: int | None = None) -> Iterator[tuple[list[str], Iterator[tuple[Any, ...]]]]:
    """Run one SELECT on a read-only connection, under an authorizer that refuses writes, ATTACH
    and PRAGMAs (a read-only connection alone would still allow ATTACH of another file and
    PRAGMA changes), a time limit (a runaway recursive query is interrupted) and a size limit per
    value (:data:`VALUE_LIMIT`). Yields the column names and the rows as they come (never all
    held at once); past ``max_rows`` rows, :class:`SQLError`. Every failure is :class:`SQLError`."""
    if not path.exists():
        raise SQLError(f"no archive at {path}")
    from . import busy_timeout, connect_reader

    try:
        conn = connect_reader(path, busy_timeout())
    except (sqlite3.Error, StorageError) as exc:
        raise SQLError(f"cannot open archive {path}: {exc}") from exc
    try:
        # text that is not valid UTF-8 is shown with U+FFFD rather than failing the whole query
        conn.text_factory = lambda b: b.decode("utf-8", "replace")
        limit_connection(conn)
        from .search import register_functions

        register_functions(conn)  # fold(): MATCH fold('Điện Biên'), fold(title) LIKE '%da nang%'
        conn.execute("PRAGMA query_only = 1")
        _connect_virtual_tables(conn)
        conn.set_authorizer(_authorizer)
        deadline = time.monotonic() + time_limit
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cur = conn.execute(sql, dict(params or {}))
        except (sqlite3.Error, ValueError, OverflowError) as exc:
            raise _failure(exc, time_limit) from exc
        columns = [d[0] for d in cur.description] if cur.description else []

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal deadline
            count = 0
            while True:
                try:
                    batch = cur.fetchmany(200)
                except (sqlite3.Error, ValueError, OverflowError) as exc:
                    raise _failure(exc, time_limit) from exc
                if not batch:
                    return
                count += len(batch)
                if max_rows is not None and count > max_rows:
                    yield from batch[: len(batch) - (count - max_rows)]
                    raise SQLError(f"more than {max_rows} rows: the output stops there (narrow the query,"
                                   " or raise --max-rows)")
                paused = time.monotonic()
                yield from batch
                deadline += time.monotonic() - paused  # the time the reader took is not the query's

        yield columns, rows()
    finally:
        conn.close()


def read_only_query(path: Path, sql: str, params: Mapping[str, Any] | None = None, *,
                    time_limit: float = 5.0, max_rows: int = 100_000) -> tuple[list[str], list[tuple[Any, ...]]]:
    """:func:`query_rows`, all rows in a list (at most ``max_rows``, or :class:`SQLError`)."""
    with query_rows(path, sql, params, time_limit=time_limit, max_rows=max_rows) as (columns, rows):
        return columns, list(rows)


def stats(conn: sqlite3.Connection, days: int = 14) -> dict[str, Any]:
    """Articles per site, section and day; the last runs; field coverage per site."""
    per_site = [dict(zip(("site", "articles", "newest", "oldest"), r, strict=True)) for r in conn.execute(
        "SELECT site, count(*), max(published_at), min(published_at) FROM articles GROUP BY site ORDER BY 2 DESC")]
    per_section = [dict(zip(("site", "section", "articles"), r, strict=True)) for r in conn.execute(
        "SELECT a.site, coalesce(s.name, '-'), count(*) FROM articles a LEFT JOIN sections s ON s.id = a.section_id"
        " GROUP BY 1, 2 ORDER BY 1, 3 DESC")]
    per_day = [dict(zip(("day", "articles"), r, strict=True)) for r in conn.execute(
        "SELECT substr(published_at, 1, 10) AS day, count(*) FROM articles WHERE published_at IS NOT NULL"
        " GROUP BY day ORDER BY day DESC LIMIT ?", (days,))]
    coverage = [dict(zip(("site", "articles", "authors", "published_at", "images", "captions", "tags", "sapo"),
                         r, strict=True)) for r in conn.execute(
        """SELECT site, count(*),
           round(avg(EXISTS (SELECT 1 FROM article_authors x WHERE x.article = a.id)), 3),
           round(avg(published_at IS NOT NULL), 3),
           round(avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id)), 3),
           round(avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id AND i.caption IS NOT NULL)), 3),
           round(avg(EXISTS (SELECT 1 FROM article_tags t WHERE t.article = a.id)), 3),
           round(avg(sapo IS NOT NULL), 3)
           FROM articles a GROUP BY site ORDER BY 2 DESC""")]
    runs = [dict(zip(("id", "site", "started_at", "finished_at", "outcome", "pages", "new", "revised", "failed"),
                     r, strict=True)) for r in conn.execute(
        "SELECT id, site, started_at, finished_at, outcome, pages_fetched, articles_new, articles_revised,"
        " articles_failed FROM runs ORDER BY id DESC LIMIT 10")]
    # the drift alarm: sites whose last finished run was degraded, with the fields that dropped
    last_degraded = ("SELECT r.site, r.id, r.started_at, r.drift FROM runs r WHERE r.outcome = 'degraded' AND r.id ="
                     " (SELECT max(id) FROM runs WHERE site = r.site AND finished_at IS NOT NULL)")
    alarms = [{"site": site, "run": run, "started_at": started, "drift": json.loads(drift or "[]")}
              for site, run, started, drift in conn.execute(last_degraded)]
    revised = conn.execute("SELECT count(*) FROM articles WHERE revision_count > 1").fetchone()[0]
    # every spelling of an author ("MAI QUẾ", "Mai Quế") counts as one, under its normal form
    authors = [dict(zip(("author", "articles"), r, strict=True)) for r in conn.execute(
        "SELECT min(au.display), count(DISTINCT aa.article) FROM authors au JOIN article_authors aa"
        " ON aa.author = au.id GROUP BY au.key ORDER BY 2 DESC, 1 LIMIT 20")]
    return {"sites": per_site, "sections": per_section, "days": per_day, "coverage": coverage, "runs": runs,
            "revised_articles": revised, "authors": authors, "alarms": alarms}
