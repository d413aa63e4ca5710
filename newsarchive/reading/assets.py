"""The reading room's static files (``/-/newsarchive/static/<file>``): only the files in
``static/``, by name (no paths), with their type fixed here; nothing is fetched from elsewhere."""

from __future__ import annotations

from typing import Any

from . import HERE

TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
         ".png": "image/png", ".woff2": "font/woff2", ".ico": "image/x-icon"}


def _files() -> dict[str, Any]:
    return {p.name: p for p in (HERE / "static").iterdir() if p.is_file() and p.suffix in TYPES}


async def static(request: Any, datasette: Any) -> Any:
    from datasette.utils.asgi import Response

    name = request.url_vars["file"]
    path = _files().get(name)
    if path is None:
        return Response.text("not found", status=404)
    return Response(path.read_bytes(), content_type=TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


ROUTES = [(r"^/-/newsarchive/static/(?P<file>[A-Za-z0-9_.-]+)$", static)]
