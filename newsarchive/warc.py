"""WARC 1.1 export of the stored raw responses, and import of the article pages in any WARC.

warcio (the Webrecorder library most web-archiving tools use) reads and writes the format; this
module only maps stored pages to records and back.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from . import __version__, dates
from .extract import ExtractorError, NotAnArticle, extract
from .store import Archive, RawPage, SaveResult

# Stored bodies are decoded (Scrapy inflates them): headers that describe the transfer would lie.
_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_REASONS = {200: "OK", 203: "Non-Authoritative Information"}
MAX_PAGE = 16 * 1024 * 1024  # as DOWNLOAD_MAXSIZE: a larger "page" is not read into memory
_MEDIA_MAXSIZE = {"image": 10 * 1024 * 1024, "audio": 64 * 1024 * 1024, "video": 256 * 1024 * 1024}


class WarcError(Exception):
    """The WARC cannot be read past some point (truncated or corrupt)."""


def _warc_date(fetched_at: str | None) -> str:
    return fetched_at or dates.utc_now()


def export_warc(archive: Archive, out: BinaryIO, articles: Iterable[int], media: Any = None) -> int:
    """Write every stored page of ``articles`` (oldest fetch first within an article) as WARC 1.1
    response records (a page read from a local file, with no HTTP exchange, as a resource record),
    each followed by the held media files the article references (``media``: a MediaStore), as
    response records of their own URLs, each URL once; a file already written at another URL (the
    same bytes) is a ``revisit`` record of that one (WARC 1.1 identical-payload-digest, which pywb
    resolves). Returns the number of records written after the warcinfo record."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from .media import article_refs

    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info = {"software": f"newsarchive/{__version__}", "format": "WARC File Format 1.1",
            "description": "raw pages stored by newsarchive (bodies as fetched, after content decoding)"}
    writer.write_record(writer.create_warcinfo_record("newsarchive.warc.gz", info))
    written = 0
    media_written: set[str] = set()
    first_of: dict[str, tuple[str, str]] = {}  # SHA-256 → URL and date of its response record
    for article in articles:
        pages = list(archive.pages(article))
        for page in pages:
            warc_headers = {"WARC-Date": _warc_date(page.fetched_at)}
            if page.status is None:
                record = writer.create_warc_record(page.url, "resource", payload=io.BytesIO(page.body),
                                                   length=len(page.body), warc_content_type="text/html",
                                                   warc_headers_dict=warc_headers)
            else:
                headers = [(k, v) for k, v in (page.headers or {}).items() if k.lower() not in _TRANSFER_HEADERS]
                headers.append(("Content-Length", str(len(page.body))))
                status = f"{page.status} {_REASONS.get(page.status, 'OK' if page.status < 300 else '')}".strip()
                http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
                record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body),
                                                   length=len(page.body), http_headers=http,
                                                   warc_headers_dict=warc_headers)
            writer.write_record(record)
            written += 1
        refs = article_refs(archive.conn, article) if media is not None else []
        if media is not None and len(pages) > 1:  # a revised article: its older versions' files too
            refs += [r for page in pages[:-1] for r in _page_refs(page)]
        for ref in refs:
            if ref.url in media_written or (served := media.response(ref.url)) is None:
                continue
            media_written.add(ref.url)
            status, headers, body, fetched = served
            held = media.held([ref.url])[ref.url]
            pairs = [(k, v) for k, v in headers.items() if k.lower() not in _TRANSFER_HEADERS]
            pairs = _measured_type(pairs, held.mime)
            pairs.append(("Content-Length", str(len(body))))
            http = StatusAndHeaders(f"{status} {_REASONS.get(status, 'OK')}", pairs, protocol="HTTP/1.1")
            date = _warc_date(fetched)
            if held.sha256 in first_of:  # the same bytes at another URL: a revisit of the first record
                first_url, first_date = first_of[held.sha256]
                record = writer.create_revisit_record(ref.url, payload_digest(body), first_url, first_date,
                                                      http_headers=http, warc_headers_dict={"WARC-Date": date})
            else:
                first_of[held.sha256] = (ref.url, date)
                record = writer.create_warc_record(ref.url, "response", payload=io.BytesIO(body), length=len(body),
                                                   http_headers=http, warc_headers_dict={"WARC-Date": date})
            writer.write_record(record)
            written += 1
    return written


def payload_digest(body: bytes) -> str:
    """The WARC payload digest warcio writes and CDX indexes carry: SHA-1, base 32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _page_refs(page: RawPage) -> list[Any]:
    """The media an older stored version of an article referenced (media_refs holds the current
    version's): read again from its page, so that the WARC replays that version with its images."""
    from .media import references

    try:
        record = extract(page.body, page.url, headers=page.headers)
    except (NotAnArticle, ExtractorError):
        return []
    return references(record, page.body, page.url)


def _measured_type(pairs: list[tuple[str, str]], mime: str) -> list[tuple[str, str]]:
    """A replay tool serves a media file with the Content-Type of its record: the one the site sent
    when it names the kind measured from the bytes (``image/…`` for an image), else the measured
    one (docs/security.md: media are served with their measured type; a PNG the site called
    ``application/pdf``, or nothing, is replayed as ``image/png``)."""
    sent = next((v for k, v in pairs if k.lower() == "content-type"), "")
    if sent.split("/")[0].strip().lower() == mime.split("/")[0]:
        return pairs
    return [(k, v) for k, v in pairs if k.lower() != "content-type"] + [("Content-Type", mime)]


@dataclass(frozen=True)
class WarcPage:
    page: RawPage
    fetched: datetime | None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def read_pages(stream: BinaryIO, media_sink: Any = None, truncated: list[str] | None = None) -> Iterator[WarcPage]:
    """The HTML pages of a WARC: 200 responses (and resource records) whose type is HTML, bodies
    decoded (chunked transfer, gzip), with their target URI, headers and date. A record its writer
    marked ``WARC-Truncated`` (a size or time limit, a dropped connection) is no page and no file:
    its URL goes to ``truncated``. Raises :class:`WarcError` where the file stops making sense;
    what was yielded before stands."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    quiet = io.StringIO()  # warcio prints its complaints to stderr; errors here are one line
    try:
        for rec in _quietly(ArchiveIterator(stream, check_digests=True), quiet):
            if not str(rec.format).startswith("warc"):
                raise WarcError(f"not a WARC file (a record reads as {rec.format or 'nothing known'})")
            if rec.rec_type not in ("response", "resource", "revisit"):
                continue
            url = rec.rec_headers.get_header("WARC-Target-URI")
            if not url or not url.lower().startswith(("http://", "https://")):
                continue
            # half an article, or a cut image that still reads as one: neither is what was served
            if rec.rec_headers.get_header("WARC-Truncated"):
                if truncated is not None:
                    truncated.append(url)
                continue
            if rec.rec_type in ("response", "revisit"):
                if rec.http_headers is None or rec.http_headers.get_statuscode() != "200":
                    continue
                ctype = rec.http_headers.get_header("Content-Type") or ""
                headers: dict[str, str] | None = {}
                for k, v in rec.http_headers.headers:
                    if k.lower() not in _TRANSFER_HEADERS:
                        headers[k] = f"{headers[k]}, {v}" if k in headers else v
                status: int | None = 200
            else:
                ctype = rec.rec_headers.get_header("Content-Type") or ""
                headers, status = None, None
            when = _when(rec.rec_headers.get_header("WARC-Date"))
            digest = rec.rec_headers.get_header("WARC-Payload-Digest")
            if rec.rec_type == "revisit":  # the same bytes as an earlier record: a media file's other URL
                kind = ctype.split("/")[0].strip().lower()
                if (media_sink is not None and kind in _MEDIA_MAXSIZE and digest and (rec.rec_headers.get_header(
                        "WARC-Profile") or "").endswith("/identical-payload-digest")):
                    media_sink(url, kind, None, headers, dates.utc_iso(when) if when else None, digest)
                continue
            if ctype and "html" not in ctype.lower():
                kind = ctype.split("/")[0].strip().lower()
                if media_sink is not None and status == 200 and kind in _MEDIA_MAXSIZE:
                    body = rec.content_stream().read(_MEDIA_MAXSIZE[kind] + 1)
                    if len(body) <= _MEDIA_MAXSIZE[kind]:  # a larger file is not archived (as a crawl)
                        _check_whole(rec, url)  # a flipped bit in an image still measures as an image
                        media_sink(url, kind, body, headers, dates.utc_iso(when) if when else None, digest)
                continue
            if (rec.length or 0) > MAX_PAGE:
                continue
            body = rec.content_stream().read(MAX_PAGE + 1)
            if len(body) > MAX_PAGE:  # inflated past the limit (a compression bomb in the archive)
                continue
            _check_whole(rec, url)
            fetched = dates.utc_iso(when) if when else None
            yield WarcPage(RawPage(url, body, status, headers, fetched), when)
    except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
        # zlib and gzip report a truncated member as EOFError/OSError, warcio as ArchiveLoadFailed
        raise WarcError(str(exc) or type(exc).__name__) from exc


def _check_whole(rec: Any, url: str) -> None:
    """Raise :class:`WarcError` unless the record just read was whole and is what its digests say."""
    missing = getattr(rec.raw_stream, "limit", 0)
    if missing:  # warcio stops quietly at the end of the file: a record cut short is no record
        raise WarcError(f"the record of {url} ends {missing} bytes short (truncated file)")
    problems = getattr(getattr(rec, "digest_checker", None), "problems", None)
    if problems:
        raise WarcError(f"the record of {url} fails its digest ({problems[0]})")


def _digest_key(value: str | None) -> tuple[str, bytes] | None:
    """A WARC digest (``sha1:`` and base 32, or hex) as its algorithm and raw bytes, to compare."""
    if not value or ":" not in value:
        return None
    algorithm, text = value.split(":", 1)
    text = text.strip()
    try:
        size = hashlib.new(algorithm.strip().lower()).digest_size
        raw = (base64.b16decode(text, casefold=True) if len(text) == 2 * size
               else base64.b32decode(text + "=" * (-len(text) % 8), casefold=True))
    except (ValueError, TypeError):
        return None
    return (algorithm.strip().lower(), raw) if len(raw) == size else None


def _quietly(records: Iterable[Any], sink: io.StringIO) -> Iterator[Any]:
    """Iterate with stderr captured while warcio reads (not while the caller works)."""
    it = iter(records)
    while True:
        with contextlib.redirect_stderr(sink):
            try:
                rec = next(it)
            except StopIteration:
                return
        yield rec


@dataclass
class ImportReport:
    pages: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    not_articles: int = 0
    extractor_errors: list[str] = field(default_factory=list)  # parser bugs: those pages were not imported
    truncated: list[str] = field(default_factory=list)  # records marked WARC-Truncated: not imported
    error: str | None = None


def import_warc(archive: Archive, stream: BinaryIO, *, batch: int = 100, media: Any = None) -> ImportReport:
    """Archive the article pages of a WARC through the extractor and the store, ``batch`` pages a
    transaction, with the media they reference; the image, audio and video responses go to
    ``media`` (a MediaStore) when they are what they say (media.measure). A read error stops the
    import after storing every page read before it."""
    from .media import Rejected, measure, references, write_refs

    report = ImportReport()
    pending: list[tuple[dict[str, Any], RawPage]] = []
    report.media = {"stored": 0, "rejected": 0}  # type: ignore[attr-defined]

    def flush() -> None:
        results: list[SaveResult] = []
        if pending:
            with archive.transaction():  # the batch's records and their media references at once
                for record, page in pending:
                    result = archive.save_one(record, page)
                    write_refs(archive.conn, result.id, references(record, page.body, page.url))
                    results.append(result)
        for result in results:
            setattr(report, result.status, getattr(report, result.status) + 1)
        pending.clear()

    stored: dict[tuple[str, bytes], tuple[str, str]] = {}  # payload digest → SHA-256 and kind of a stored file

    def keep_media(url: str, kind: str, body: bytes | None, headers: dict[str, str] | None, fetched: str | None,
                   digest: str | None) -> None:
        key = _digest_key(digest)
        if body is None:  # a revisit: the file of an earlier record of this WARC, at another URL
            sha, stored_kind = stored.get(key, ("", "")) if key else ("", "")
            if sha and stored_kind == kind and media.link(url, sha, headers=headers, fetched_at=fetched):
                report.media["stored"] += 1  # type: ignore[attr-defined]
            return
        ctype = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), None)
        try:
            measured = measure(body, kind, ctype)
        except Rejected:
            report.media["rejected"] += 1  # type: ignore[attr-defined]
            return
        sha, _ = media.store(url, body, measured, headers=headers, fetched_at=fetched)
        if key:  # (the digest was checked against the bytes as they were read)
            stored[key] = (sha, kind)
        report.media["stored"] += 1  # type: ignore[attr-defined]

    try:
        for item in read_pages(stream, keep_media if media is not None else None, report.truncated):
            report.pages += 1
            try:
                record = extract(item.page.body, item.page.url, headers=item.page.headers, fetched_at=item.fetched)
            except NotAnArticle:
                report.not_articles += 1
                continue
            except ExtractorError as exc:  # a parser bug: the page stays in the WARC for a later import
                report.extractor_errors.append(f"{item.page.url}: {exc.parser}.{exc.field}: {exc.error}")
                continue
            pending.append((record, item.page))
            if len(pending) >= batch:
                flush()
    except WarcError as exc:
        report.error = str(exc)
    flush()
    return report
