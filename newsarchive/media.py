"""The media of archived articles: images (lead, in-body, the og:image thumbnail), a podcast's
audio, a video's poster (and its file, when asked for), kept by content.

- **Where**: a second SQLite file beside the archive (``archive.db`` → ``archive.media.db``), so the
  archive stays small and fast to copy, search and back up; which media an article references is
  in the archive itself (``media_refs``, written in the article's own transaction).
- **What**: a file is stored once by its SHA-256, however many URLs, articles or sites use it, as
  it was served (no re-encoding). Only content of the kind it was referenced as is kept: an image
  must be a JPEG, PNG, GIF or WebP whose header gives its size (measured here, never taken from
  the markup), audio and video must carry their container's signature; a body with markup in it
  (an HTML error page served as ``.jpg``, a polyglot) is refused with the reason.
- **Fetching**: through Scrapy, as any page (robots.txt of the media host, per-host concurrency
  and delay, timeouts, the address guard), with a size cap per kind; see docs/media.md.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

MiB = 1024 * 1024
# Size caps per kind (bytes), settings NEWSARCHIVE_MEDIA_MAXSIZE_IMAGE / _AUDIO / _VIDEO
DEFAULT_MAXSIZE = {"image": 10 * MiB, "audio": 64 * MiB, "video": 256 * MiB}
MAX_ATTEMPTS = 10  # a file that failed this many runs is no longer asked for (as articles)
# what a reference's role says the file is
KIND_OF_ROLE = {"image": "image", "thumbnail": "image", "poster": "image", "audio": "audio", "video": "video"}
ROLES = tuple(KIND_OF_ROLE)


class Rejected(ValueError):
    """A body that is not what it was referenced as: not stored."""


# -- what a file is ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Measured:
    kind: str
    mime: str
    width: int | None = None
    height: int | None = None


# Markup anywhere in a media body makes it a polyglot (or an error page): image and audio data
# holds these ASCII sequences by chance with a probability of about n/2^56.
_MARKUP = re.compile(
    rb"<(?:script|html|head|body|iframe|svg|object|embed|meta|a\s|img|div|!doctype)[\s>/]|<\?php|<\?xml", re.IGNORECASE)


def _jpeg_size(b: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(b):
        if b[i] != 0xFF:
            raise Rejected("JPEG: broken segment structure")
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", b[i + 2:i + 4])[0]
        if length < 2:
            raise Rejected("JPEG: broken segment length")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(b):
                break
            height, width = struct.unpack(">HH", b[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise Rejected("JPEG: no frame header (truncated or not a JPEG)")


def _webp_size(b: bytes) -> tuple[int, int]:
    chunk = b[12:16]
    if chunk == b"VP8 " and len(b) >= 30:
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(b) >= 25:
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(b) >= 30:
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    raise Rejected("WebP: no size in its header")


def measure_image(b: bytes) -> Measured:
    if b[:3] == b"\xff\xd8\xff":
        w, h = _jpeg_size(b)
        mime = "image/jpeg"
    elif b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and len(b) >= 24:
        w, h = struct.unpack(">II", b[16:24])
        mime = "image/png"
    elif b[:6] in (b"GIF87a", b"GIF89a") and len(b) >= 10:
        w, h = struct.unpack("<HH", b[6:10])
        mime = "image/gif"
    elif b[:4] == b"RIFF" and b[8:12] == b"WEBP":
        w, h = _webp_size(b)
        mime = "image/webp"
    elif b.lstrip()[:5].lower() in (b"<?xml", b"<svg ", b"<svg>") or b"<svg" in b[:1024].lower():
        raise Rejected("SVG is not archived as an image: it can carry script")
    else:
        raise Rejected("not an image (no JPEG, PNG, GIF or WebP signature)")
    if not w or not h:
        raise Rejected(f"{mime}: zero width or height in its header")
    return Measured("image", mime, w, h)


def _audio_mime(b: bytes) -> str | None:
    if b[:3] == b"ID3" or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE0 == 0xE0 and b[1] & 0x06):
        return "audio/mpeg"
    if len(b) > 1 and b[0] == 0xFF and b[1] & 0xF6 == 0xF0:
        return "audio/aac"
    if b[4:8] == b"ftyp":
        return "audio/mp4"
    if b[:4] == b"OggS":
        return "audio/ogg"
    if b[:4] == b"fLaC":
        return "audio/flac"
    if b[:4] == b"RIFF" and b[8:12] == b"WAVE":
        return "audio/wav"
    return None


def _video_mime(b: bytes) -> str | None:
    if b[4:8] == b"ftyp":
        return "video/mp4"
    if b[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if b[:4] == b"OggS":
        return "video/ogg"
    return None


def measure(body: bytes, kind: str, content_type: str | None = None) -> Measured:
    """What ``body`` is, if it is the ``kind`` it was referenced as (image, audio, video); raises
    :class:`Rejected` with the reason otherwise. The declared ``Content-Type`` must not say
    otherwise either (``text/html`` for a ``.jpg`` is an error page)."""
    if not body:
        raise Rejected("empty body")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared.startswith(("text/", "application/json", "application/xhtml", "application/xml",
                            "application/javascript")) or declared.endswith(("+xml", "+json")):
        raise Rejected(f"served as {declared}, not as {kind}")
    if declared.split("/")[0] in ("image", "audio", "video") and declared.split("/")[0] != kind:
        if not (kind == "audio" and declared == "video/mp4"):  # m4a is often served so
            raise Rejected(f"served as {declared}, not as {kind}")
    if _MARKUP.search(body):
        raise Rejected(f"markup inside the {kind} (an error page or a polyglot)")
    if kind == "image":
        return measure_image(body)
    mime = _audio_mime(body) if kind == "audio" else _video_mime(body)
    if mime is None:
        raise Rejected(f"not {kind} (no known container signature)")
    return Measured(kind, mime)


# -- what an article references ------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    url: str
    role: str  # image, thumbnail (og:image), poster, audio, video

    @property
    def kind(self) -> str:
        return KIND_OF_ROLE[self.role]


_TAG = re.compile(rb"<(meta|audio|video|source)\b([^>]{0,4000})>", re.IGNORECASE)
_ATTR = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_PLACEHOLDER = re.compile(r"/(?:grey|gray|blank|default_image|no-image|noimage)\.(?:gif|png|jpe?g)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(raw):
        value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        out[m.group(1).decode("ascii", "replace").lower()] = html.unescape(value.decode("utf-8", "replace"))
    return out


def _absolute(src: str | None, page_url: str) -> str | None:
    if not src:
        return None
    src = _CONTROL.sub(lambda m: "%20" if m.group() == " " else "", src.strip())
    url = urljoin(page_url, src)
    if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
        return None
    if _PLACEHOLDER.search(urlsplit(url).path):
        return None
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


def references(record: Mapping[str, Any], body: bytes | None, page_url: str, *, video: bool = False) -> list[Ref]:
    """The media an article references, in order, each URL once: the record's images (lead and
    in-body), the page's og:image, a podcast's audio, a video's poster (and the video file itself
    when ``video``)."""
    refs: list[Ref] = []
    seen: set[str] = set()

    def add(url: str | None, role: str) -> None:
        if url and url not in seen:
            seen.add(url)
            refs.append(Ref(url, role))

    for image in record.get("images") or []:
        add(_absolute(image.get("src"), page_url), "image")
    if body:
        audio_open = video_open = False
        for m in _TAG.finditer(body[:4 * MiB]):
            tag, attrs = m.group(1).lower(), _attrs(m.group(2))
            if tag == b"meta":
                if (attrs.get("property") or attrs.get("name") or "").lower() in ("og:image", "og:image:url"):
                    add(_absolute(attrs.get("content"), page_url), "thumbnail")
            elif tag == b"audio":
                audio_open, video_open = True, False
                add(_absolute(attrs.get("src"), page_url), "audio")
            elif tag == b"video":
                video_open, audio_open = True, False
                add(_absolute(attrs.get("poster"), page_url), "poster")
                if video:
                    add(_absolute(attrs.get("src"), page_url), "video")
            elif tag == b"source":
                kind = (attrs.get("type") or "").split("/")[0].lower()
                if kind == "audio" or (audio_open and kind != "video"):
                    add(_absolute(attrs.get("src"), page_url), "audio")
                elif video and (kind == "video" or video_open):
                    add(_absolute(attrs.get("src"), page_url), "video")
    return refs


# -- the media file ------------------------------------------------------------------------------

def media_path(archive_path: str | os.PathLike[str]) -> Path:
    """The media file beside an archive: ``archive.db`` → ``archive.media.db``."""
    path = Path(archive_path)
    return path.with_name(f"{path.stem}.media{path.suffix}" if path.suffix else f"{path.name}.media")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    sha256 TEXT PRIMARY KEY,          -- of the body, as served
    kind TEXT NOT NULL,               -- image, audio, video
    mime TEXT NOT NULL,               -- measured from the bytes
    bytes INTEGER NOT NULL,
    width INTEGER, height INTEGER,    -- images: from the file's header
    body BLOB NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS media_urls (
    url TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES media(sha256),
    status INTEGER, headers TEXT,     -- of the response it came in (for WARC export)
    etag TEXT, last_modified TEXT,
    fetched_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS media_urls_sha256 ON media_urls(sha256);
CREATE TABLE IF NOT EXISTS media_failures (
    url TEXT PRIMARY KEY,
    site TEXT,
    first_failed TEXT NOT NULL, last_failed TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if str(k).lower() == name.lower():
            return ", ".join(v) if isinstance(v, list | tuple) else str(v)
    return None


@dataclass(frozen=True)
class Held:
    sha256: str
    bytes: int
    mime: str
    width: int | None
    height: int | None


class MediaStore:
    """The media file (``media_path(archive)``). Each stored file is one transaction."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        from .store import StorageError, busy_timeout, connect_reader

        self.path = Path(path)
        try:
            if readonly:
                if not self.path.exists():
                    self.conn = sqlite3.connect(":memory:", isolation_level=None)
                    self.conn.executescript(_SCHEMA)
                else:
                    self.conn = connect_reader(self.path, busy_timeout())
            else:
                self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout())
                if self.conn.execute("PRAGMA page_size").fetchone() and not self.conn.execute(
                        "SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    self.conn.execute("PRAGMA page_size = 16384")
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                self.conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open media file {self.path}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> MediaStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------

    def held(self, urls: Iterable[str]) -> dict[str, Held]:
        """The held file of each URL that has one."""
        out: dict[str, Held] = {}
        urls = list(urls)
        for i in range(0, len(urls), 500):
            chunk = urls[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for url, sha, size, mime, w, h in self.conn.execute(
                    f"SELECT u.url, m.sha256, m.bytes, m.mime, m.width, m.height FROM media_urls u"
                    f" JOIN media m ON m.sha256 = u.sha256 WHERE u.url IN ({marks})", chunk):
                out[url] = Held(sha, size, mime, w, h)
        return out

    def failures(self, urls: Iterable[str]) -> dict[str, tuple[str, int]]:
        urls = list(urls)
        out: dict[str, tuple[str, int]] = {}
        for i in range(0, len(urls), 500):
            chunk = urls[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for url, error, attempts in self.conn.execute(
                    f"SELECT url, error, attempts FROM media_failures WHERE url IN ({marks})", chunk):
                out[url] = (error, attempts)
        return out

    def given_up(self, urls: Iterable[str]) -> set[str]:
        return {u for u, (_, n) in self.failures(urls).items() if n >= MAX_ATTEMPTS}

    def blob(self, sha256: str) -> tuple[bytes, str] | None:
        row = self.conn.execute("SELECT body, mime FROM media WHERE sha256 = ?", (sha256.lower(),)).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    def response(self, url: str) -> tuple[int, dict[str, str], bytes, str] | None:
        """What was served for ``url``: status, headers, body, fetch time."""
        row = self.conn.execute(
            "SELECT u.status, u.headers, m.body, u.fetched_at, m.mime FROM media_urls u JOIN media m"
            " ON m.sha256 = u.sha256 WHERE u.url = ?", (url,)).fetchone()
        if row is None:
            return None
        headers = json.loads(row[1]) if row[1] else {"Content-Type": row[4]}
        return int(row[0] or 200), headers, bytes(row[2]), row[3]

    def totals(self) -> dict[str, int]:
        files, size = self.conn.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM media").fetchone()
        urls = self.conn.execute("SELECT count(*) FROM media_urls").fetchone()[0]
        failed = self.conn.execute("SELECT count(*) FROM media_failures").fetchone()[0]
        return {"files": files, "bytes": size, "urls": urls, "failed_urls": failed}

    # -- writing ---------------------------------------------------------------------------------

    def store(self, url: str, body: bytes, measured: Measured, *, status: int = 200,
              headers: Mapping[str, Any] | None = None, fetched_at: str | None = None) -> tuple[str, bool]:
        """Keep ``body`` (already measured) as the file of ``url``, in one transaction. Returns its
        SHA-256 and whether the file is new (False: the same bytes were held already)."""
        sha = hashlib.sha256(body).hexdigest()
        fetched = fetched_at or _now()
        flat = {str(k): (", ".join(v) if isinstance(v, list | tuple) else str(v)) for k, v in (headers or {}).items()}
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            new = c.execute(
                "INSERT OR IGNORE INTO media(sha256, kind, mime, bytes, width, height, body, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sha, measured.kind, measured.mime, len(body), measured.width, measured.height, body, fetched),
            ).rowcount == 1
            c.execute("INSERT OR REPLACE INTO media_urls(url, sha256, status, headers, etag, last_modified, fetched_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (url, sha, status, json.dumps(flat, ensure_ascii=False) if flat else None,
                       _header(headers, "ETag"), _header(headers, "Last-Modified"), fetched))
            c.execute("DELETE FROM media_failures WHERE url = ?", (url,))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return sha, new

    def link(self, url: str, sha256: str, *, status: int = 200, headers: Mapping[str, Any] | None = None,
             fetched_at: str | None = None) -> bool:
        """``url`` served a file already held (a WARC's revisit record of it): keep it as that file's
        URL. False when no such file is held."""
        flat = {str(k): (", ".join(v) if isinstance(v, list | tuple) else str(v)) for k, v in (headers or {}).items()}
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if c.execute("SELECT 1 FROM media WHERE sha256 = ?", (sha256,)).fetchone() is None:
                c.execute("ROLLBACK")
                return False
            c.execute("INSERT OR REPLACE INTO media_urls(url, sha256, status, headers, etag, last_modified, fetched_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (url, sha256, status, json.dumps(flat, ensure_ascii=False) if flat else None,
                       _header(headers, "ETag"), _header(headers, "Last-Modified"), fetched_at or _now()))
            c.execute("DELETE FROM media_failures WHERE url = ?", (url,))
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return True

    def fail(self, url: str, site: str | None, error: str) -> None:
        now = _now()
        self.conn.execute(
            "INSERT INTO media_failures(url, site, first_failed, last_failed, attempts, error)"
            " VALUES (?, ?, ?, ?, 1, ?)"
            " ON CONFLICT(url) DO UPDATE SET last_failed = excluded.last_failed, attempts = attempts + 1,"
            " error = excluded.error", (url, site, now, now, error[:500]))


# -- references in the archive -------------------------------------------------------------------

def write_refs(conn: sqlite3.Connection, article: int, refs: list[Ref]) -> None:
    """Inside the article's transaction: the media it references now."""
    old = conn.execute("SELECT url, role FROM media_refs WHERE article = ? ORDER BY position", (article,)).fetchall()
    if old == [(r.url, r.role) for r in refs]:
        return
    conn.execute("DELETE FROM media_refs WHERE article = ?", (article,))
    conn.executemany("INSERT INTO media_refs(article, position, role, url) VALUES (?, ?, ?, ?)",
                     [(article, pos, r.role, r.url) for pos, r in enumerate(refs)])


def article_refs(conn: sqlite3.Connection, article: int) -> list[Ref]:
    try:
        return [Ref(u, r) for u, r in conn.execute(
            "SELECT url, role FROM media_refs WHERE article = ? ORDER BY position", (article,))]
    except sqlite3.OperationalError:  # an archive from before media (opened read-only, not migrated)
        return []


def missing(conn: sqlite3.Connection, store: MediaStore, site_clause: tuple[str, list[Any]],
            roles: Iterable[str]) -> Iterator[Ref]:
    """The references of a site's articles whose file is not held (never fetched, failed before,
    or lost to a killed run), except those given up on."""
    clause, params = site_clause
    marks = ",".join("?" * len(tuple(roles)))
    rows = conn.execute(
        f"SELECT DISTINCT r.url, r.role FROM media_refs r WHERE r.article IN (SELECT id FROM articles WHERE {clause})"
        f" AND r.role IN ({marks})", [*params, *roles]).fetchall()
    for i in range(0, len(rows), 500):
        chunk = rows[i:i + 500]
        urls = [u for u, _ in chunk]
        held = store.held(urls)
        given_up = store.given_up(urls)
        for url, role in chunk:
            if url not in held and url not in given_up:
                yield Ref(url, role)


def image_view(record: Mapping[str, Any], store: MediaStore | None) -> list[dict[str, Any]]:
    """The record's images with what the archive holds of each: ``sha256``, ``bytes``, ``mime``,
    ``width``, ``height``, present when the file is held (an image not held is as extracted)."""
    images = list(record.get("images") or [])
    srcs = [_absolute(i.get("src"), record.get("url") or "") or "" for i in images]
    held = store.held([s for s in srcs if s]) if store is not None else {}
    out = []
    for image, src in zip(images, srcs, strict=True):
        h = held.get(src)
        out.append({**image, "sha256": h.sha256, "bytes": h.bytes, "mime": h.mime, "width": h.width,
                    "height": h.height} if h else dict(image))
    return out


def with_media(record: dict[str, Any], store: MediaStore | None) -> dict[str, Any]:
    return {**record, "images": image_view(record, store)}


def coverage(archive: Any) -> dict[str, Any]:
    """Media held, and per site the share of the files its articles reference that are held (images
    apart: the lead and in-body images of the records)."""
    with MediaStore(media_path(archive.path), readonly=True) as store:
        out: dict[str, Any] = {**store.totals(), "sites": []}
        try:
            rows = archive.conn.execute(
                "SELECT a.site, r.url, r.role FROM media_refs r JOIN articles a ON a.id = r.article"
                " ORDER BY a.site").fetchall()
        except sqlite3.OperationalError:  # an archive from before media
            return out
        per: dict[str, dict[str, int]] = {}
        for i in range(0, len(rows), 500):
            chunk = rows[i:i + 500]
            held = store.held({u for _, u, _ in chunk})
            for site, url, role in chunk:
                c = per.setdefault(site, {"refs": 0, "held": 0, "images": 0, "images_held": 0})
                c["refs"] += 1
                c["held"] += url in held
                if role == "image":
                    c["images"] += 1
                    c["images_held"] += url in held
        for site, c in per.items():
            out["sites"].append({"site": site, **c, "held_share": c["held"] / c["refs"] if c["refs"] else 0.0,
                                 "images_held_share": c["images_held"] / c["images"] if c["images"] else 0.0})
    return out


__all__ = ["DEFAULT_MAXSIZE", "Held", "MediaStore", "Measured", "Ref", "Rejected", "article_refs", "coverage",
           "image_view", "measure", "media_path", "missing", "references", "with_media", "write_refs"]
