"""The search page (``/``, the home page) and its result set as data (``/search.json``,
``/search.csv``). One implementation with ``newsarchive search``: the query parser, the folded index
and the ranking are :mod:`newsarchive.store.search`'s; this module reads the query string, and
shows the page, the filters and the facets.

Bounds, so that no request can make the server work for long or hold much: a page has at most
``MAX_SIZE`` results; ``page`` reaches ``MAX_PAGE`` at most (a walk of that many rows), and past it
the "next" link carries a keyset cursor (``before``, an index key), which costs one page however deep
it goes; results are counted up to ``COUNT_CAP`` and facets count the newest ``FACET_WINDOW``
results; a data export is one page, or with ``all=1`` at most ``EXPORT_MAX`` rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup, escape

from ..store import search as fts
from . import TooSlow, archive_path, page, query_string, read

PAGE_SIZE = 20
MAX_SIZE = 100  # per page of the data (JSON, CSV)
MAX_PAGE_OFFSET = fts.COUNT_CAP  # rows a page number may skip; further pages go by the cursor
EXPORT_MAX = fts.COUNT_CAP  # rows of one export (all=1), as `newsarchive search --limit`
MAX_QUERY = 500  # characters of a query (the box's own maxlength)
PARAMS = ("q", "site", "section", "author", "tag", "from", "to", "kind", "sort")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MARK = ("\ue000", "\ue001")  # snippet marks (private use), escaped, then made <mark>
_NO_MARKS = {ord(m): None for m in _MARK}  # removed from a text before it is marked


class BadRequest(ValueError):
    """A query string the page cannot run: shown on the page with status 400."""


@dataclass
class Request:
    """The search a query string asks for."""

    params: dict[str, str]  # the canonical parameters (those given, for the URLs of this search)
    filters: fts.Filters
    sort: str
    page: int
    size: int
    before: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def q(self) -> str:
        return self.params.get("q", "")


def parse_request(args: Any, *, size: int = PAGE_SIZE, max_size: int = PAGE_SIZE) -> Request:
    """Read the query string (``request.args``); :class:`BadRequest` for what cannot be run."""
    params = {k: " ".join(str(args.get(k, "")).split()) for k in PARAMS if str(args.get(k, "")).strip()}
    if len(params.get("q", "")) > MAX_QUERY:
        raise BadRequest(f"câu tìm kiếm dài quá {MAX_QUERY} ký tự")
    sort = params.get("sort", "relevance")
    if sort not in ("relevance", "newest"):
        raise BadRequest("sort phải là relevance hoặc newest")
    if sort == "relevance":
        params.pop("sort", None)
    since = _day(params.get("from"), "from")
    until = _day(params.get("to"), "to")
    if since and until and until < since:
        raise BadRequest("ngày 'đến' trước ngày 'từ'")
    pg = _int(args.get("page"), "page", 1)
    size = min(_int(args.get("size"), "size", size), max_size)
    before = args.get("before")
    cursor = _int(before, "before", 0) if before else None
    try:  # the day after the last one: none after 9999-12-31 (no upper bound then)
        end = f"{(until + timedelta(days=1)).isoformat()}T00:00:00+07:00" if until else None
    except OverflowError:
        end = None
    filters = fts.Filters(
        site=params.get("site"), section=params.get("section"), author=params.get("author"),
        since=f"{since.isoformat()}T00:00:00+07:00" if since else None, until=end,
        tag=params.get("tag"), kind=params.get("kind"))
    if (pg - 1) * size >= max_offset(filters) + size:
        raise BadRequest(f"trang {pg} quá sâu: dùng liên kết “Sau” (đi tiếp không giới hạn) hoặc thu hẹp tìm kiếm")
    return Request(params, filters, sort, pg, size, cursor)


def max_offset(filters: fts.Filters) -> int:
    """How many results a page number may skip: a filter that reads each article's row costs more
    per row skipped, and stops sooner (further pages go on by the cursor)."""
    return fts.RELEVANCE_WINDOW if filters.needs_articles() else MAX_PAGE_OFFSET


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        if not _DAY.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{name}' phải là một ngày YYYY-MM-DD (nhận được “{value[:40]}”)") from None


def _int(value: Any, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    text = str(value).strip()
    # SQLite's INTEGER ends at 2**63 - 1 (a larger cursor was an OverflowError, a 500)
    if not text.isdigit() or len(text) > 19 or not 1 <= int(text) <= 2**63 - 1:
        raise BadRequest(f"'{name}' phải là một số dương (nhận được “{text[:40]}”)")
    return int(text)


# -- running it ------------------------------------------------------------------------------------

def run_search(conn: sqlite3.Connection, req: Request, media: Any, *, facets: bool = True,
               count: bool = True) -> dict[str, Any]:
    """The page's data: results (cards), counts, facets, the cursor; in Datasette's thread."""
    offset = 0 if req.before else (req.page - 1) * req.size
    res = fts.results(conn, req.q, sort=req.sort, filters=req.filters, offset=offset, limit=req.size,
                      before=req.before, count=count or facets)
    terms = fts.parse_query(req.q).terms if req.q else ()
    out: dict[str, Any] = {"results": cards(conn, res.ids, terms, media), "total": res.total,
                           "total_exact": res.total_exact, "next_before": res.next_before}
    if facets and res.window is not None:
        out["facets"] = fts.facets_of(conn, res.window[:fts.FACET_WINDOW])
    return out


def cards(conn: sqlite3.Connection, ids: list[int], terms: tuple[str, ...], media: Any) -> list[dict[str, Any]]:
    """What a result shows, in the order of ``ids``: title, sapo (its words marked), date, site,
    section, kind, and the lead image (``/media/<sha256>`` when the archive holds it)."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    lead = ("(SELECT r.url FROM media_refs r WHERE r.article = a.id AND r.role IN ('image', 'thumbnail')"
            " ORDER BY r.role = 'thumbnail', r.position LIMIT 1)")
    sql = ("SELECT a.id, a.url, a.title, a.sapo, a.published_at, a.site, s.name, a.kind, {lead},"
           " CASE WHEN a.sapo IS NULL OR a.sapo = '' THEN substr(a.body_text, 1, 3000) END"
           f" FROM articles a LEFT JOIN sections s ON s.id = a.section_id WHERE a.id IN ({marks})")
    try:
        rows = conn.execute(sql.format(lead=lead), ids).fetchall()
    except sqlite3.OperationalError:  # an archive from before media_refs
        rows = conn.execute(sql.format(lead="NULL"), ids).fetchall()
    held = media.held([r[8] for r in rows if r[8]]) if media is not None else {}
    order = {i: n for n, i in enumerate(ids)}
    out = []
    for (id_, url, title, sapo, published, site, section, kind, image, body) in sorted(rows, key=lambda r: order[r[0]]):
        # the snippet's marks cannot come from the text (an archived text may hold them: unbalanced <mark>)
        text = (sapo or body or "").translate(_NO_MARKS)
        h = held.get(image) if image else None
        out.append({"id": id_, "url": url, "title": title, "sapo": sapo, "published_at": published, "site": site,
                    "section": section, "kind": kind, "archive_url": f"/article/{id_}",
                    "image": f"/media/{h.sha256}" if h else None,
                    "snippet": fts.snippet(text, terms, width=300, marks=("", "")) if text else "",
                    "snippet_html": _marked(fts.snippet(text, terms, width=300, marks=_MARK)) if text else ""})
    return out


def _marked(text: str) -> Markup:
    return Markup(str(escape(text)).replace(_MARK[0], "<mark>").replace(_MARK[1], "</mark>"))


async def _execute(datasette: Any, req: Request, *, facets: bool, count: bool = True) -> dict[str, Any]:
    from .article import media_store  # the media file, kept open per thread (None: unreadable, no images)

    path = archive_path(datasette)

    def work(conn: sqlite3.Connection) -> dict[str, Any]:
        return run_search(conn, req, media_store(path), facets=facets, count=count)

    return await read(datasette, work)


# -- the page --------------------------------------------------------------------------------------

async def search_page(request: Any, datasette: Any) -> Any:
    try:
        req = parse_request(request.args)
        data = await _execute(datasette, req, facets=True)
    except (BadRequest, fts.QueryError) as exc:
        q = " ".join(str(request.args.get("q", "")).split())[:MAX_QUERY]
        return page(datasette, "search.html", {"q": q, "error": str(exc), "results": [], "nav": "search",
                                               "params": {}, "facets": None}, status=400)
    except TooSlow:
        q = " ".join(str(request.args.get("q", "")).split())[:MAX_QUERY]
        return page(datasette, "search.html", {"q": q, "slow": True, "results": [], "nav": "search", "params": {},
                                               "facets": None}, status=503)
    return page(datasette, "search.html", _context(req, data))


FACET_LABELS = {"site": "Trang báo", "section": "Chuyên mục", "kind": "Loại bài"}
KIND_LABELS = {"article": "Bài viết", "video": "Video", "podcast": "Podcast", "emagazine": "E-magazine",
               "photo": "Ảnh", "infographic": "Infographic", "live": "Tường thuật"}


def _context(req: Request, data: dict[str, Any]) -> dict[str, Any]:
    params = req.params
    base = {k: v for k, v in params.items()}
    total, size = data["total"], req.size
    n_results = len(data["results"])
    first = (req.page - 1) * size + 1 if not req.before else None
    pager: dict[str, str | None] = {"prev": None, "next": None, "first": None}
    if req.before:
        pager["first"] = "/" + query_string(base)
    elif req.page > 1:
        pager["prev"] = "/" + query_string(base, page=req.page - 1 if req.page > 2 else None)
    more = n_results == size and (not data["total_exact"] or req.page * size < total or req.before)
    if more:
        if data["next_before"] is not None and (req.before or req.page * size >= max_offset(req.filters)):
            pager["next"] = "/" + query_string(base, before=data["next_before"])
        elif not req.before:
            pager["next"] = "/" + query_string(base, page=req.page + 1)
    facet_links = {}
    facets = data.get("facets")
    if facets is not None:
        for name, values in facets.counts.items():
            facet_links[name] = [{"value": v, "label": KIND_LABELS.get(v, v) if name == "kind" else v, "count": c,
                                  "url": "/" + query_string(base, **{name: v}), "active": params.get(name) == v}
                                 for v, c in values[:12]]
    pages = -(-total // size) if data["total_exact"] else None
    return {"q": req.q, "params": params, "results": data["results"], "total": total,
            "total_exact": data["total_exact"], "first": first, "last": (first or 0) + n_results - 1,
            "page_no": req.page if not req.before else None, "pages": pages, "pager": pager,
            "facets": facet_links, "facets_complete": facets.complete if facets else True,
            "facet_window": fts.FACET_WINDOW, "sort": req.sort, "nav": "search",
            "sort_links": {s: "/" + query_string(base, sort=None if s == "relevance" else s)
                           for s in ("relevance", "newest")},
            "json_url": "/search.json" + query_string(base, page=req.page if req.page > 1 else None,
                                                       before=req.before),
            "csv_url": "/search.csv" + query_string(base, all=1),
            "clear_url": "/" + query_string({"q": req.q}) if req.q else "/",
            "kind_labels": KIND_LABELS, "export_max": EXPORT_MAX}


# -- the data --------------------------------------------------------------------------------------

# archived text as data: never sniffed as a page, and inert if a browser renders it anyway
DATA_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                "Referrer-Policy": "no-referrer"}

async def search_data(request: Any, datasette: Any) -> Any:
    from datasette.utils.asgi import Response

    fmt = request.url_vars["format"]
    try:
        everything = request.args.get("all") in ("1", "true")
        req = parse_request(request.args, size=MAX_SIZE if everything else PAGE_SIZE, max_size=MAX_SIZE)
        rows, data = await _export(datasette, req) if everything else await _one_page(datasette, req)
    except (BadRequest, fts.QueryError, TooSlow) as exc:
        body = json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False)
        return Response(body, status=503 if isinstance(exc, TooSlow) else 400,
                        content_type="application/json; charset=utf-8", headers=dict(DATA_HEADERS))
    columns = ("id", "published_at", "site", "section", "kind", "title", "sapo", "snippet", "url", "archive_url",
               "image")
    records = [{c: r.get(c) for c in columns} for r in rows]
    if fmt == "csv":
        from ..cli import csv_cell  # the CSV cells of every export: no formula a spreadsheet would run

        out = io.StringIO()
        out.write("\ufeff")  # Excel reads the Vietnamese as UTF-8 only with it
        writer = csv.writer(out)
        writer.writerow(columns)
        for r in records:
            writer.writerow([csv_cell(r[c]) if r[c] is not None else "" for c in columns])
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="newsarchive-search.csv"',
                                 **DATA_HEADERS})
    body = {"query": req.params, "total": data["total"], "total_exact": data["total_exact"],
            "page": None if req.before or everything else req.page, "size": req.size,
            "results": records, "next": data.get("next")}
    return Response(json.dumps(body, ensure_ascii=False), content_type="application/json; charset=utf-8",
                    headers=dict(DATA_HEADERS))


async def _one_page(datasette: Any, req: Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data = await _execute(datasette, req, facets=False)
    more = len(data["results"]) == req.size
    nxt = None
    if more and data["next_before"] is not None:
        nxt = "/search.json" + query_string(req.params, size=req.size, before=data["next_before"])
    elif more and not req.before and req.page * req.size < max_offset(req.filters):
        nxt = "/search.json" + query_string(req.params, size=req.size, page=req.page + 1)
    return data["results"], {**data, "next": nxt}


async def _export(datasette: Any, req: Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every result up to EXPORT_MAX, a page at a time (each page one query under the time limit)."""
    rows: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    page_no, before = 1, None
    while len(rows) < EXPORT_MAX:
        step = Request(req.params, req.filters, req.sort, page_no, req.size, before)
        data = await _execute(datasette, step, facets=False, count=first is None)
        first = first or data
        rows.extend(data["results"])
        if len(data["results"]) < req.size:
            break
        if data["next_before"] is not None:
            before = data["next_before"]
        else:
            page_no += 1
    assert first is not None
    return rows[:EXPORT_MAX], first


ROUTES = [(r"^/$", search_page), (r"^/search\.(?P<format>json|csv)$", search_data)]
