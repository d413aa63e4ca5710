"""The reading room: pages for reading, searching and citing the archive, served by the Datasette
plugin (``newsarchive.datasette_plugin``) next to Datasette's own pages (which stay under
``/<dbname>``). See docs/reading-room.md for the URLs, which other pages and citations rely on.

Each page module of this package has ``ROUTES``: a list of ``(regex, async view(request,
datasette))``; :func:`routes` collects them all. Pages are rendered from this package's templates
(every one extends ``reading_base.html``), with HTML autoescaping, and read the archive through
Datasette's database object, so Datasette's time limit and newsarchive's value limits
(``queries.limit_connection``) hold on every query.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

HERE = Path(__file__).parent
VN = timezone(timedelta(hours=7))
STATIC_PREFIX = "/-/newsarchive/static/"


def routes() -> list[tuple[str, Any]]:
    """Every page module's ``ROUTES``, in module name order (a module is a page when it has them)."""
    out: list[tuple[str, Any]] = []
    for info in sorted(pkgutil.iter_modules([str(HERE)]), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        out.extend(getattr(module, "ROUTES", []))
    return out


# -- the archive -----------------------------------------------------------------------------------

def database(datasette: Any) -> Any:
    """The archive's Datasette database: the only (or first non-internal) one."""
    for name, db in datasette.databases.items():
        if name != "_internal" and not getattr(db, "is_memory", False):
            return db
    raise LookupError("no archive database is being served")


class TooSlow(RuntimeError):
    """A page's queries ran past Datasette's time limit (``sql_time_limit_ms``) and were stopped."""


async def read(datasette: Any, fn: Any) -> Any:
    """``fn(conn)`` on the archive's read connection, in Datasette's thread, under Datasette's
    time limit (its ``execute_fn`` has none of its own): past it, :class:`TooSlow`."""
    import sqlite3

    from datasette.utils import sqlite_timelimit

    limit = datasette.setting("sql_time_limit_ms")
    started: list[float] = []

    def work(conn: Any) -> Any:
        started.append(time.perf_counter())
        with sqlite_timelimit(conn, limit):
            return fn(conn)

    try:
        return await database(datasette).execute_fn(work)
    except Exception as exc:
        # stopped mid-statement ("interrupted"), or while SQLite was opening the full-text index
        # ("vtable constructor failed"), maybe re-raised by the library as its own error: either
        # way, an SQLite error past the deadline
        cause = exc if isinstance(exc, sqlite3.OperationalError) else exc.__cause__
        late = bool(started) and (time.perf_counter() - started[0]) * 1000 >= limit
        if isinstance(cause, sqlite3.OperationalError) and ("interrupted" in str(cause) or late):
            raise TooSlow(f"the page's queries took longer than {limit} ms and were stopped") from exc
        raise


def db_name(datasette: Any) -> str:
    return database(datasette).name


def archive_path(datasette: Any) -> Path:
    return Path(database(datasette).path)


# -- rendering -------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["vn_time"] = vn_time
    env.filters["vn_date"] = vn_date
    env.filters["thousands"] = lambda n: f"{n:,}".replace(",", ".") if isinstance(n, int) else n
    env.filters["site_href"] = site_href
    env.globals["static"] = lambda name: STATIC_PREFIX + name
    return env


def render_text(template: str, context: dict[str, Any]) -> str:
    return _env().get_template(template).render(**context)


def page(datasette: Any, template: str, context: dict[str, Any] | None = None, *, status: int = 200,
         headers: dict[str, str] | None = None) -> Any:
    """A reading-room page as a Datasette response (``context`` is given ``db_name``, ``q``)."""
    from datasette.utils.asgi import Response

    ctx = {"db_name": db_name(datasette), "q": "", **(context or {})}
    return Response.html(render_text(template, ctx), status=status, headers={**SAFE_HEADERS, **(headers or {})})


# Pages request nothing outside the archive; the browser is told so (a page carries only
# what the templates put in it, escaped, but an archived text is hostile until shown otherwise).
SAFE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
                               " object-src 'none'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none';"
                               " form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def site_href(site: str | None) -> str:
    """A site's page, its key quoted as one path segment (a key may hold ?, # or /)."""
    return "/sites/" + quote(site or "", safe=":")


def query_string(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` of the non-empty values of ``params`` updated with ``changes``."""
    merged = {**params, **changes}
    pairs = [(k, v) for k, v in merged.items() if v not in (None, "", False)]
    return "?" + urlencode(pairs) if pairs else ""


# -- times -----------------------------------------------------------------------------------------

def _parse(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        when = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def vn_time(iso: str | None) -> str:
    """An ISO time as read in Vietnam: "01/05/2024 08:30 (GMT+7)"; what cannot be read, as it is."""
    when = _parse(iso)
    if when is None:
        return iso or ""
    try:
        return when.astimezone(VN).strftime("%d/%m/%Y %H:%M") + " (GMT+7)"
    except (OverflowError, ValueError):  # at an end of the calendar (0001-01-01, 9999-12-31): as stored
        return str(iso)


def vn_date(iso: str | None) -> str:
    when = _parse(iso)
    if when is None:
        return iso or ""
    try:
        return when.astimezone(VN).strftime("%d/%m/%Y")
    except (OverflowError, ValueError):
        return str(iso)
