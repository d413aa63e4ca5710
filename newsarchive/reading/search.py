"""The search page (``/``, the home page) and the result set as data (``/search.json``, ``/search.csv``)."""

from __future__ import annotations

from typing import Any

from ..store import search as fts
from . import database, page


async def search_page(request: Any, datasette: Any) -> Any:
    q = request.args.get("q", "").strip()

    def run(conn: Any) -> list[dict[str, Any]]:
        if q:
            ids = fts.search(conn, q, limit=20)
            marks = ",".join("?" * len(ids))
            rows = conn.execute(f"SELECT id, title, sapo, published_at, site FROM articles WHERE id IN ({marks})",
                                ids).fetchall() if ids else []
            order = {i: n for n, i in enumerate(ids)}
            rows.sort(key=lambda r: order[r[0]])
        else:
            rows = conn.execute("SELECT id, title, sapo, published_at, site FROM articles"
                                " ORDER BY search_key DESC LIMIT 20").fetchall()
        return [dict(zip(("id", "title", "sapo", "published_at", "site"), r, strict=True)) for r in rows]

    try:
        results = await database(datasette).execute_fn(run)
    except fts.QueryError as exc:
        return page(datasette, "search.html", {"q": q, "error": str(exc), "results": [], "nav": "search"}, status=400)
    return page(datasette, "search.html", {"q": q, "results": results, "nav": "search"})


ROUTES = [(r"^/$", search_page)]
