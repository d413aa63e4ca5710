"""The article page (``/article/<id>``): a reader view of the current version, with its images from
the archive, a citation and the record as JSON (``/article/<id>.json``, what ``newsarchive show
--json`` prints: the same library calls, ``Archive.record`` and ``media.with_media``).

Every query here is by article id (primary key, or the ``(article, …)`` keys of the child tables):
the page costs the same at a thousand articles or a million.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from datasette.utils.asgi import Response

from ..store import Archive, StorageError
from . import TooSlow, archive_path, page, read

# an id as SQLite holds one (past 18 digits it could not be an article, and would overflow)
ID = r"(?P<id>[^/]+?)"
_DIGITS = re.compile(r"[0-9]{1,18}")
_WEB = re.compile(r"https?://[^\x00-\x20]", re.IGNORECASE)


def article_id(request: Any) -> int | None:
    text = request.url_vars.get("id", "")
    return int(text) if _DIGITS.fullmatch(text) else None


def reader(conn: sqlite3.Connection, path: Path) -> Archive:
    """The library's reads (``Archive.record``, ``revisions``, ``raw_page``: each reads ``conn``
    only) over Datasette's own connection, so that its time limit and the plugin's value limits
    hold; nothing here opens, migrates or writes the archive."""
    archive = Archive.__new__(Archive)
    archive.conn = conn
    archive.path = path
    return archive


def open_media(path: Path) -> Any:
    """The media file beside the archive, read-only (an empty one when there is none), or None when
    it cannot be read: the page then says its images are not available, and still shows."""
    from ..media import MediaStore, media_path

    try:
        return MediaStore(media_path(path), readonly=True)
    except StorageError:
        return None


_threads = threading.local()


def media_store(path: Path) -> Any:
    """:func:`open_media`, kept open for this thread (a new connection reads the schema again at its
    first query: over a millisecond a page). A read-only WAL connection sees each later commit; a
    media file that appears (the first crawl with media) is opened anew. Never closed by callers."""
    from ..media import media_path

    stores: dict[tuple[str, bool], Any] = _threads.__dict__.setdefault("stores", {})
    file = media_path(path)
    key = (str(file), file.exists())
    if key not in stores:
        store = open_media(path)
        if store is None:
            return None
        if len(stores) > 8:  # archives served by one process: a handful
            stores.clear()
        stores[key] = store
    return stores[key]


def record_with_media(conn: sqlite3.Connection, path: Path, article: int) -> dict[str, Any] | None:
    """The current record with what the archive holds of each image: exactly ``show --json``."""
    from ..media import with_media

    record = reader(conn, path).record(article)
    return with_media(record, media_store(path)) if record is not None else None


def players(conn: sqlite3.Connection, article: int, store: Any) -> list[dict[str, Any]]:
    """A podcast's audio and a video (with its poster) the archive holds, from the article's media
    references (``media_refs``, by article): what the page can play without the site."""
    from ..media import article_refs

    refs = [r for r in article_refs(conn, article) if r.role in ("audio", "video", "poster")]
    if not refs or store is None:
        return []
    held = store.held(r.url for r in refs)
    poster = next((held[r.url].sha256 for r in refs if r.role == "poster" and r.url in held), None)
    out = []
    for ref in refs:
        if ref.role != "poster" and ref.url in held:
            h = held[ref.url]
            out.append({"kind": ref.role, "src": f"/media/{h.sha256}", "mime": h.mime,
                        "poster": f"/media/{poster}" if poster and ref.role == "video" else None})
    return out


def not_found(datasette: Any, what: str) -> Any:
    return page(datasette, "article.html", {"missing": what}, status=404)


def too_slow(datasette: Any, exc: TooSlow) -> Any:
    """A page whose reading ran past Datasette's time limit (every query here is by key: only a
    hostile archive gets there): a message and 503, never a page built past the limit."""
    return page(datasette, "article.html", {"slow": str(exc)}, status=503)


def bounded(view: Any) -> Any:
    """``view`` with :class:`TooSlow` answered by :func:`too_slow`."""
    import functools

    @functools.wraps(view)
    async def wrapper(request: Any, datasette: Any) -> Any:
        try:
            return await view(request, datasette)
        except TooSlow as exc:
            return too_slow(datasette, exc)

    return wrapper


# the record as data, on a page of its own: nothing in it may run or load, whatever a browser makes of it
JSON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": "default-src 'none'; sandbox"}


# -- the reader view ---------------------------------------------------------------------------------

_END = re.compile(r"[.!?…:;,\"”’)\]»/]$")
SUBHEAD_CHARS = 110
SUBHEAD_WORDS = 16
# what the reader view lays out one element each (a real article: tens of blocks, a few images, a
# handful of authors and tags); past them a hostile record's rest is shown as one text (the body)
# or counted (images, authors, tags: all in the record's JSON). 2,000,000 one-word paragraphs took
# 34 s and 770 MB to render, 100,000 images 11 s.
MAX_BLOCKS = 2_000
MAX_FIGURES = 300
MAX_NAMES = 200  # authors, and tags


def is_subhead(text: str, following: str | None) -> bool:
    """A sub-heading of the body. The record keeps the body as text blocks (record.md: paragraphs,
    sub-headings, list items, one blank line apart) without saying which is which, so the reader
    view reads it off the block: short, with no closing punctuation, and followed by a longer block."""
    return (following is not None and len(text) <= SUBHEAD_CHARS and len(text.split()) <= SUBHEAD_WORDS
            and not _END.search(text) and not text.startswith(("-", "•", "+", "*"))
            and len(following) > len(text))


def body_items(body: str, images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The body as a sequence of paragraphs, sub-headings and figures. The record keeps the images'
    order, not their place among the paragraphs: the first (the lead, in OneCMS pages) comes
    before the text, the others are spread evenly through it, in order. Past MAX_BLOCKS blocks,
    the rest of the body is one item (``rest``: the text itself, its paragraphs kept as line breaks)."""
    blocks, rest = _blocks(body or "")
    images = images[:MAX_FIGURES]
    items: list[dict[str, Any]] = []
    n, m = len(blocks), len(images)
    after: dict[int, list[dict[str, Any]]] = {}
    for k, image in enumerate(images):
        # image 0 before block 0; image k (k >= 1) after block floor(k * n / m) - 1
        slot = -1 if k == 0 or n == 0 else max(0, (k * n) // m - 1)
        after.setdefault(slot, []).append(image)
    items.extend({"type": "figure", "image": i} for i in after.get(-1, []))
    for i, text in enumerate(blocks):
        following = blocks[i + 1] if i + 1 < n else None
        items.append({"type": "subhead" if is_subhead(text, following) else "para", "text": text})
        items.extend({"type": "figure", "image": img} for img in after.get(i, []))
    if rest:
        items.append({"type": "rest", "text": rest})
    return items


def _blocks(body: str) -> tuple[list[str], str]:
    """The first MAX_BLOCKS blocks of the body, and the rest of it as one text (blank lines kept)."""
    blocks: list[str] = []
    start = 0
    while len(blocks) < MAX_BLOCKS:
        end = body.find("\n\n", start)
        block = body[start:] if end < 0 else body[start:end]
        if block.strip():
            blocks.append(block.strip())
        if end < 0:
            return blocks, ""
        start = end + 2
    return blocks, body[start:].strip()


def _link(path: str, **params: str) -> str:
    return path + "?" + urlencode(params)


def view(record: dict[str, Any], meta: dict[str, Any], failures: dict[str, tuple[str, int]],
         permalink: str) -> dict[str, Any]:
    """What the template shows, from the record (pure)."""
    images = []
    for image in (record.get("images") or [])[:MAX_FIGURES]:
        images.append({**image, "held": bool(image.get("sha256")),
                       "media": f"/media/{image['sha256']}" if image.get("sha256") else None,
                       "why": failures.get(image.get("src") or "", (None, 0))[0]})
    crumbs = list(record.get("breadcrumb") or [])
    if not crumbs and record.get("section"):
        crumbs = [record["section"]]
    authors, tags = record.get("authors") or [], record.get("tags") or []
    return {
        "record": record,
        "authors": [{"name": a, "href": _link("/", author=a)} for a in authors[:MAX_NAMES]],
        "more_authors": max(len(authors) - MAX_NAMES, 0),
        "tags": [{"name": t, "href": _link("/", tag=t)} for t in tags[:MAX_NAMES]],
        "more_tags": max(len(tags) - MAX_NAMES, 0),
        "more_images": max(meta.get("images_total", len(record.get("images") or [])) - MAX_FIGURES, 0),
        "crumbs": [{"name": c, "href": _link("/", section=c)} for c in crumbs[:MAX_NAMES]],
        "site_href": "/sites/" + quote(record.get("site") or "", safe=":"),
        "images": images,
        "items": body_items(record.get("body_text") or "", images),
        "held": sum(1 for i in images if i["held"]),
        "permalink": permalink,
        # a link only to the web: a record's url is what a site gave, and javascript: or data:
        # would run in the reading room's origin when clicked (shown as text instead)
        "original_href": record.get("url") if _WEB.match(record.get("url") or "") else None,
        "citation": citation(record, permalink),
        **meta,
    }


def _utc(iso: str | None) -> str:
    """An archiver time (UTC, ``…Z``) as "2026-11-26 10:00:00 UTC"."""
    if not iso:
        return ""
    return iso.replace("T", " ").removesuffix("Z").removesuffix("+00:00") + " UTC"


def citation(record: dict[str, Any], permalink: str) -> str:
    """One line to cite the article by: site, title, publication date, when this version was
    archived (UTC, said so) and the permanent archive link."""
    from . import vn_date

    parts = [record.get("site") or "", f"“{record.get('title') or ''}”"]
    if record.get("published_at"):
        parts.append(f"đăng ngày {vn_date(record['published_at'])}")
    parts.append(f"bản lưu lúc {_utc(record.get('fetched_at'))}")
    return ", ".join(p for p in parts if p) + f". {permalink}"


async def _load(datasette: Any, article: int, *, meta: bool = True) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    path = archive_path(datasette)

    def run(conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        record = reader(conn, path).record(article)
        if record is None:
            return None, {}
        from ..media import with_media

        store = media_store(path)
        images = record.get("images") or []
        # the images the page lays out (MAX_FIGURES) looked up, not a hostile record's 100,000 (4 s)
        record = with_media({**record, "images": images[:MAX_FIGURES]}, store)
        failures = store.failures([i["src"] for i in record["images"] if not i.get("sha256")]) if store else {}
        info: dict[str, Any] = {"failures": failures, "media_readable": store is not None, "images_total": len(images),
                                "players": players(conn, article, store)}
        if meta:
            row = conn.execute("SELECT first_seen, last_checked, revision_count FROM articles WHERE id = ?",
                               (article,)).fetchone()
            info.update(first_seen=row[0], last_checked=row[1], revision_count=row[2])
        return record, info

    return await read(datasette, run)


async def article_page(request: Any, datasette: Any) -> Any:
    article = article_id(request)
    if article is None:
        return not_found(datasette, request.url_vars.get("id", ""))
    record, info = await _load(datasette, article)
    if record is None:
        return not_found(datasette, str(article))
    failures = info.pop("failures")
    permalink = datasette.absolute_url(request, f"/article/{article}")
    context = view(record, {**info, "id": article, "first_seen_utc": _utc(info["first_seen"]),
                            "last_checked_utc": _utc(info["last_checked"]),
                            "fetched_utc": _utc(record.get("fetched_at"))}, failures, permalink)
    return page(datasette, "article.html", context)


async def article_json(request: Any, datasette: Any) -> Any:
    """The record as ``newsarchive show --json`` prints it; ``?revisions=1``: as ``show --json
    --revisions`` (``{"record": …, "revisions": […]}``)."""
    article = article_id(request)
    path = archive_path(datasette)
    with_revisions = request.args.get("revisions", "") not in ("", "0")

    def run(conn: sqlite3.Connection) -> Any:
        record = record_with_media(conn, path, article) if article is not None else None
        if record is None or not with_revisions:
            return record
        numbers = [n for (n,) in conn.execute("SELECT revision FROM revisions WHERE article = ? ORDER BY revision",
                                              (article,))]
        return RevisionsStream(datasette, article, record, numbers)

    try:
        body = await read(datasette, run)
    except TooSlow as exc:
        return Response(json.dumps({"error": str(exc)}, ensure_ascii=False), status=503, headers=JSON_HEADERS,
                        content_type="application/json; charset=utf-8")
    headers = JSON_HEADERS
    if body is None:
        return Response(json.dumps({"error": "not in the archive", "id": request.url_vars.get("id", "")},
                                   ensure_ascii=False), status=404, headers=headers,
                        content_type="application/json; charset=utf-8")
    if isinstance(body, RevisionsStream):
        return body
    return Response(json.dumps(body, ensure_ascii=False, indent=2), headers=headers,
                    content_type="application/json; charset=utf-8")


def _indented(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(…, indent=2)`` writes it ``level`` spaces deep (JSON text has no raw
    newline inside a string: every line break is the layout's)."""
    return json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n" + " " * level)


class RevisionsStream(Response):
    """``{"record": …, "revisions": […]}`` exactly as ``json.dumps(…, indent=2)`` writes it (what
    ``show --json --revisions`` prints), sent one version at a time, each read under the time
    limit: one version's record in memory, not all of them (100 versions of a 5 MB body were a
    1.5 GB answer). Past the time limit the answer stops short (invalid JSON, never a wrong one)."""

    def __init__(self, datasette: Any, article: int, record: dict[str, Any], numbers: list[int]) -> None:
        super().__init__(b"", headers=JSON_HEADERS, content_type="application/json; charset=utf-8")
        self.datasette, self.article, self.record, self.numbers = datasette, article, record, numbers

    def _version(self, conn: sqlite3.Connection, number: int) -> dict[str, Any] | None:
        row = conn.execute("SELECT revision, fetched_at, reason, record FROM revisions WHERE article = ?"
                           " AND revision = ?", (self.article, number)).fetchone()
        if row is None:
            return None
        # the keys and their order of Archive.revisions
        return {"revision": row[0], "fetched_at": row[1], "reason": row[2], "record": json.loads(row[3])}

    async def asgi_send(self, send: Any) -> None:
        raw = [[k.encode("latin-1"), v.encode("latin-1")]
               for k, v in {**self.headers, "content-type": self.content_type}.items()]
        raw += [[b"set-cookie", c.encode("latin-1")] for c in self._set_cookie_headers]
        await send({"type": "http.response.start", "status": 200, "headers": raw})

        async def write(text: str, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": text.encode("utf-8"), "more_body": more})

        await write('{\n  "record": ' + _indented(self.record, 2) + ',\n  "revisions": [')
        first = True
        for number in self.numbers:
            try:
                version = await read(self.datasette, lambda conn, n=number: self._version(conn, n))
            except TooSlow:
                await write("", more=False)
                return
            if version is not None:
                await write(("\n    " if first else ",\n    ") + _indented(version, 4))
                first = False
        await write(("]" if first else "\n  ]") + "\n}", more=False)


ROUTES = [
    (rf"^/article/{ID}\.json$", article_json),
    (rf"^/article/{ID}$", bounded(article_page)),
]
