"""Extract and store: the one place a crawl writes the archive (and the media file beside it).

``ArchiveWriter`` is handed what the spiders fetched (``items``) and answers what became of it; it
knows nothing of Scrapy, so it can run beside the reactor (another process keeping the single-writer
guarantee) without the pipeline changing its contract. One transaction per article: the record, its
raw page, validators, failures and media references at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..drift import Coverage
from ..extract import ExtractorError, NotAnArticle, extract
from ..media import MediaStore, Ref, Rejected, measure, media_path, references, write_refs
from ..store import Archive, ProvenanceError, RawPage
from ..store.crawlstate import CrawlState, header
from .items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified


def page_record(page: FetchedPage) -> tuple[dict[str, Any], RawPage]:
    """The record of a fetched page (pure extraction; raises NotAnArticle, ExtractorError), and the raw page."""
    fetched = datetime.fromisoformat(page.fetched_at.replace("Z", "+00:00"))
    record = extract(page.body, page.url, headers=page.headers, fetched_at=fetched)
    return record, RawPage(page.url, page.body, page.status, page.headers, page.fetched_at)


def content_type(headers: dict[str, Any] | None) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            return v[0] if isinstance(v, list | tuple) and v else str(v)
    return None


@dataclass
class Stored:
    """What became of a fetched page."""

    status: str  # new, revised, unchanged; or failed (recorded as a failure), extractor_error
    record: dict[str, Any] | None = None
    raw: RawPage | None = None
    error: str | None = None
    refs: list[Ref] = field(default_factory=list)  # the media the article references
    wanted: list[Ref] = field(default_factory=list)  # of those, the ones to fetch (not held, not given up)
    held: int = 0  # of those, how many are held already
    write_ms: float = 0.0


class Checkpointer:
    """Copies the archive's WAL into the file from a thread of its own, so that the checkpoint's
    writes and fsyncs (SQLite's, every ~1,000 pages: a third of the writer's time in a fast crawl)
    overlap extraction instead of stalling a commit. Same durability: a checkpoint only moves
    committed pages; the writer's own auto-checkpoint stays on, further out, as the bound on the WAL
    should this thread fall behind (a reader holding an old snapshot stops both alike)."""

    EVERY = 0.25  # seconds between passive checkpoints
    BOUND = 8000  # the writer's own auto-checkpoint, in pages (128 MiB of 16 KiB pages)

    def __init__(self, archive: Archive) -> None:
        from ..store import busy_timeout

        self.conn = sqlite3.connect(archive.path, isolation_level=None, timeout=busy_timeout(),
                                    check_same_thread=False)
        archive.conn.execute(f"PRAGMA wal_autocheckpoint = {self.BOUND}")
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="checkpointer", daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.wait(self.EVERY):
            try:  # passive: never waits for the writer or a reader, never blocks them
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # busy, or the disk: the writer's own checkpoint is the bound
                pass

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.conn.close()


class ArchiveWriter:
    """The archive (and media file) of one crawl of site ``key``."""

    def __init__(self, db: str | Path, key: str, *, max_bytes: int | None = None, media: bool = False,
                 media_video: bool = False) -> None:
        self.archive = Archive(db, max_bytes=max_bytes)
        self.checkpointer = Checkpointer(self.archive)
        self.state = CrawlState(self.archive)
        self.key = key
        self.coverage = Coverage()  # what this run extracted, field by field (newsarchive.drift)
        self.media = MediaStore(media_path(self.archive.path)) if media else None
        self.media_video = media_video

    def close(self) -> None:
        self.checkpointer.close()
        self.archive.close()
        if self.media is not None:
            self.media.close()

    # -- articles ------------------------------------------------------------------------------------

    def page(self, page: FetchedPage) -> Stored:
        """Extract and archive a fetched page (StorageError: nothing of it was written)."""
        asked = page.request_url or page.url
        try:
            record, raw = page_record(page)
        except NotAnArticle as exc:
            self.coverage.not_article(page.url)
            error = f"not an article: {exc}"
            self.state.record_failure(asked, self.key, error)
            return Stored("failed", error=error)
        except ExtractorError as exc:
            # a bug in a parser, not a verdict on the page: the page kept with its failure, so
            # that reparse reads it again once the parser is fixed
            self.coverage.error(page.url)
            error = f"extractor error: {exc.parser}.{exc.field}: {exc.error}"
            self.state.record_failure(asked, self.key, error, page=RawPage(page.url, page.body, page.status,
                                                                           page.headers, page.fetched_at))
            return Stored("extractor_error", error=error)
        self.coverage.add(record)
        refs = references(record, page.body, page.url, video=self.media_video) if self.media is not None else []
        started = time.perf_counter()
        try:
            with self.archive.transaction():
                result = self.state.keep(record, raw, page.request_url)
                if self.media is not None:
                    write_refs(self.archive.conn, result.id, refs)
        except ProvenanceError as exc:  # rolled back whole: nothing of another site was touched
            error = f"refused: {exc}"
            self.state.record_failure(asked, self.key, error)
            return Stored("failed", error=error)
        ms = (time.perf_counter() - started) * 1000
        wanted, held = self.wanted(refs)
        return Stored(result.status, record=record, raw=raw, refs=refs, wanted=wanted, held=held, write_ms=ms)

    def wanted(self, refs: list[Ref]) -> tuple[list[Ref], int]:
        """The files of ``refs`` to fetch (not held, not given up: a revised article asks only for its
        new ones), and how many are held."""
        if self.media is None or not refs:
            return [], 0
        held = self.media.held(r.url for r in refs)
        given_up = self.media.given_up(r.url for r in refs if r.url not in held)
        return [r for r in refs if r.url not in held and r.url not in given_up], sum(r.url in held for r in refs)

    def not_modified(self, item: NotModified) -> None:
        self.state.touch(item.url, item.fetched_at, header(item.headers, "ETag"), header(item.headers, "Last-Modified"))

    def failed(self, item: FetchFailed) -> None:
        self.state.record_failure(item.url, self.key, item.error)

    # -- media ---------------------------------------------------------------------------------------

    def media_file(self, item: MediaFile) -> tuple[str, bool]:
        """Keep a fetched file: (sha256, new). Rejected (recorded as the file's failure) when it is
        not what it claims to be."""
        assert self.media is not None
        try:
            measured = measure(item.body, item.kind, content_type(item.headers))
        except Rejected as exc:
            self.media_failed(MediaFailed(item.url, f"not stored: {exc}", item.site))
            raise
        return self.media.store(item.request_url or item.url, item.body, measured, status=item.status,
                                headers=item.headers, fetched_at=item.fetched_at)

    def media_failed(self, item: MediaFailed) -> None:
        if self.media is not None:
            self.media.fail(item.url, item.site or self.key, item.error)
