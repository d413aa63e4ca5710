"""One stored media file (``/media/<sha256>``), exactly as it was served to the archiver, under the
serving rule of docs/security.md:

- the type is the one newsarchive measured from the bytes (``media.mime``), never the site's;
- inline only for the image, audio and video types newsarchive measures (JPEG, PNG, GIF, WebP, MP3,
  AAC, MP4, Ogg, FLAC, WAV, WebM), which cannot carry script; anything else (SVG, HTML, XML, PDF,
  a type this list does not know) as ``application/octet-stream`` and ``Content-Disposition:
  attachment``, never shown from this origin;
- always ``X-Content-Type-Options: nosniff`` and ``Content-Security-Policy: sandbox; default-src
  'none'`` (a file opened on its own is an inert document even if a browser tried to render it).

Content-addressed, so cacheable for ever (``immutable``, the SHA-256 as ETag).

Bounded memory: a file over ``WHOLE`` bytes (audio and video: up to 256 MiB) is sent a chunk at a
time from SQLite's incremental BLOB reads, and a ``Range: bytes=…`` request (a player seeking) is
answered 206 with that part only; before, each request held the whole file, and a player's range
requests each read all of it again.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

from . import archive_path

INLINE = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "audio/mpeg", "audio/aac", "audio/mp4", "audio/ogg", "audio/flac", "audio/wav",
    "video/mp4", "video/webm", "video/ogg",
})
CSP = "sandbox; default-src 'none'"
CHUNK = 1024 * 1024  # bytes sent at a time
WHOLE = 4 * CHUNK  # a file up to this size (an image) is read at once; a larger one is streamed
_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]{0,18})\s*-\s*([0-9]{0,18})\s*", re.IGNORECASE)
_SHA = re.compile(r"[0-9a-fA-F]{64}")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "audio/mpeg": "mp3", "audio/aac": "aac", "audio/mp4": "m4a", "audio/ogg": "ogg",
              "audio/flac": "flac", "audio/wav": "wav", "video/mp4": "mp4", "video/webm": "webm",
              "video/ogg": "ogv"}


def media_headers(sha: str, mime: str | None) -> tuple[str, dict[str, str]]:
    """The Content-Type and the other headers for a stored file of type ``mime`` (the rule above)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{sha}"',
        "Referrer-Policy": "no-referrer",
    }
    kind = (mime or "").split(";")[0].strip().lower()
    if kind in INLINE:
        headers["Content-Disposition"] = f'inline; filename="{sha}.{EXTENSIONS[kind]}"'
        return kind, headers
    headers["Content-Disposition"] = f'attachment; filename="{sha}.bin"'
    return "application/octet-stream", headers


def _missing(status: int, text: str, headers: dict[str, str] | None = None) -> Any:
    return Response.text(text, status=status, headers={"X-Content-Type-Options": "nosniff",
                                                        "Content-Security-Policy": CSP, **(headers or {})})


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The part of a file of ``size`` bytes a ``Range`` header asks for, as (start, end exclusive);
    None: the whole file (no header, or one this server answers whole: several ranges, other
    units, numbers past 18 digits, as RFC 9110 allows); False: a range the file does not have."""
    m = _RANGE.fullmatch(header or "")
    if not m or not (m[1] or m[2]):
        return None
    if m[1]:
        start = int(m[1])
        end = min(int(m[2]) + 1, size) if m[2] else size
        return (start, end) if start < size and (not m[2] or int(m[2]) >= start) else False
    suffix = int(m[2])
    return (max(size - suffix, 0), size) if suffix and size else False


class BlobStream(Response):
    """A stored file's bytes ``start:end`` sent a chunk at a time: one connection and one BLOB handle
    (SQLite keeps its place in the file's pages), in one thread of their own, closed at the end."""

    def __init__(self, archive: Path, rowid: int, start: int, end: int, *, status: int,
                 headers: dict[str, str], content_type: str) -> None:
        super().__init__(b"", status=status, headers=headers, content_type=content_type)
        self.archive, self.rowid, self.start, self.end = archive, rowid, start, end

    async def asgi_send(self, send: Any) -> None:
        from ..media import media_path
        from ..store import busy_timeout, connect_reader

        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsarchive-media") as pool:
            def open_blob() -> tuple[Any, Any]:
                conn = connect_reader(media_path(self.archive), busy_timeout())
                try:
                    return conn, conn.blobopen("media", "body", self.rowid, readonly=True)
                except Exception:
                    conn.close()
                    raise

            def read(blob: Any, offset: int, n: int) -> bytes:
                blob.seek(offset)
                return blob.read(n)

            def close(conn: Any, blob: Any) -> None:
                blob.close()
                conn.close()

            try:
                conn, blob = await loop.run_in_executor(pool, open_blob)
            except Exception:  # gone since it was looked up
                await _missing(404, "not in the archive's media").asgi_send(send)
                return
            try:
                raw = [[k.encode("latin-1"), v.encode("latin-1")]
                       for k, v in {**self.headers, "content-type": self.content_type}.items()]
                raw += [[b"set-cookie", c.encode("latin-1")] for c in self._set_cookie_headers]
                await send({"type": "http.response.start", "status": self.status, "headers": raw})
                position = self.start
                while position < self.end:
                    n = min(CHUNK, self.end - position)
                    chunk = await loop.run_in_executor(pool, read, blob, position, n)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    position += n
                await send({"type": "http.response.body", "body": b""})
            finally:
                await loop.run_in_executor(pool, close, conn, blob)


async def media(request: Any, datasette: Any) -> Any:
    from .article import media_store

    sha = request.url_vars.get("sha", "")
    if not _SHA.fullmatch(sha):
        return _missing(404, "not a SHA-256: /media/<64 hexadecimal digits>")
    sha = sha.lower()
    etag = f'"{sha}"'
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        _, headers = media_headers(sha, None)
        return Response("", status=304, headers={k: v for k, v in headers.items() if k != "Content-Disposition"})
    path = archive_path(datasette)

    def look_up() -> tuple[int, int, str] | None:
        store = media_store(path)
        if store is None:
            return None
        row = store.conn.execute("SELECT rowid, bytes, mime FROM media WHERE sha256 = ?", (sha,)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def read_whole() -> bytes | None:
        found = media_store(path).blob(sha)
        return found[0] if found else None

    found = await asyncio.to_thread(look_up)  # a file of its own: the archive's connection is not needed
    if found is None:
        return _missing(404, "not in the archive's media")
    rowid, size, mime = found
    content_type, headers = media_headers(sha, mime)
    headers["Accept-Ranges"] = "bytes"
    part = byte_range(request.headers.get("range"), size)
    if part is False:
        return _missing(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
    start, end = part or (0, size)
    status = 206 if part else 200
    if part:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if size <= WHOLE:
        body = await asyncio.to_thread(read_whole)
        if body is None:
            return _missing(404, "not in the archive's media")
        return Response(body[start:end], status=status, headers=headers, content_type=content_type)
    return BlobStream(path, rowid, start, end, status=status, headers=headers, content_type=content_type)


ROUTES = [(r"^/media/(?P<sha>[^/]*)$", media)]
