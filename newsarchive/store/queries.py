"""Read-only SQL for users, and the archive's statistics."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Introspection pragmas that only read
SAFE_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                          "foreign_key_list", "table_list", "function_list", "collation_list", "database_list"})
_ALLOWED = {
    sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE,
}


class SQLError(ValueError):
    """A statement refused or failed: one line for the user."""


def _authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in SAFE_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def read_only_query(path: Path, sql: str, params: Mapping[str, Any] | None = None, *,
                    time_limit: float = 5.0, max_rows: int = 100_000) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one SELECT on a read-only connection, under an authorizer that refuses writes, ATTACH
    and PRAGMAs (a read-only connection alone would still allow ATTACH of another file and
    PRAGMA changes), and a time limit (a runaway recursive query is interrupted)."""
    if not path.exists():
        raise SQLError(f"no archive at {path}")
    from . import read_only_uri

    conn = sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None, timeout=5)
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.set_authorizer(_authorizer)
        deadline = time.monotonic() + time_limit
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cur = conn.execute(sql, dict(params or {}))
            rows = cur.fetchmany(max_rows)
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "interrupted" in message:
                raise SQLError(f"query interrupted after the time limit of {time_limit:g} s") from exc
            if "not authorized" in message:
                raise SQLError("refused: only reading statements are allowed (no writes, ATTACH or PRAGMA)") from exc
            raise SQLError(f"SQL error: {message}") from exc
        except (sqlite3.ProgrammingError, sqlite3.Warning, ValueError, OverflowError) as exc:
            raise SQLError(f"SQL error: {exc}") from exc
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, rows
    finally:
        conn.close()


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
    revised = conn.execute("SELECT count(*) FROM articles WHERE revision_count > 1").fetchone()[0]
    return {"sites": per_site, "sections": per_section, "days": per_day, "coverage": coverage, "runs": runs,
            "revised_articles": revised}
