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
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from . import archive_path

INLINE = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "audio/mpeg", "audio/aac", "audio/mp4", "audio/ogg", "audio/flac", "audio/wav",
    "video/mp4", "video/webm", "video/ogg",
})
CSP = "sandbox; default-src 'none'"
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


def _missing(status: int, text: str) -> Any:
    from datasette.utils.asgi import Response

    return Response.text(text, status=status, headers={"X-Content-Type-Options": "nosniff",
                                                        "Content-Security-Policy": CSP})


async def media(request: Any, datasette: Any) -> Any:
    from datasette.utils.asgi import Response

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

    def read() -> tuple[bytes, str] | None:
        store = media_store(path)
        return store.blob(sha) if store is not None else None

    found = await asyncio.to_thread(read)  # a file of its own: the archive's connection is not needed
    if found is None:
        return _missing(404, "not in the archive's media")
    body, mime = found
    content_type, headers = media_headers(sha, mime)
    headers["Content-Length"] = str(len(body))
    return Response(body, headers=headers, content_type=content_type)


ROUTES = [(r"^/media/(?P<sha>[^/]*)$", media)]
