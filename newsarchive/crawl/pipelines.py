"""Item pipelines: what the spiders fetched → the archive (through ``writer.ArchiveWriter``).

The items that leave the pipelines are record objects (shared/spec/record.md), so a feed export
(``scrapy crawl onecms -a site=… -O out.jsonl``) writes records. The other items (a 304, a failed
fetch, a media file) are recorded here, by the pipeline that owns the archive, and go no further.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from ..media import Rejected
from ..store import Archive, StorageError
from .compat import stop_crawl
from .items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified, RecordItem
from .plan import db_path, media_enabled
from .writer import ArchiveWriter, Stored


def _done(what: str) -> DropItem:
    """The end of a bookkeeping item's way: recorded, not exported (quiet: it is not a warning)."""
    return DropItem(what, log_level="DEBUG")


class ArchivePipeline:
    """Archives what a crawl of the ``onecms`` spider fetched; keeps the crawl state (re-checks,
    failures) and the media. Off for other spiders and for a cluster worker (whose items go to
    the writer through Redis: newsarchive.cluster.worker.PushPipeline)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.writer: ArchiveWriter | None = None  # the extract + store side (set when the spider opens)
        self.write_ms: list[float] = []  # time of each article's write transaction
        self.media_failed: list[str] = []  # examples for the run record

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        if not getattr(crawler.spidercls, "archives", False):  # one-off scrapes store themselves (or not)
            raise NotConfigured
        if crawler.settings.get("NEWSARCHIVE_REDIS"):  # a cluster worker: the writer stores
            raise NotConfigured
        pipeline = cls(crawler)
        # after the run recorder (an extension, connected first) has written the run
        crawler.signals.connect(pipeline.record_media, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider: Any = None) -> None:
        settings = self.crawler.settings
        spider = self.crawler.spider
        quota = settings.getfloat("NEWSARCHIVE_MAX_DB_MB")
        self.writer = ArchiveWriter(db_path(settings), spider.plan.key,
                                    max_bytes=int(quota * 2**20) if quota else None,
                                    media=media_enabled(settings, spider.plan.base),
                                    media_video=settings.getbool("NEWSARCHIVE_MEDIA_VIDEO"))

    def close_spider(self, spider: Any = None) -> None:
        if self.writer is None:
            return
        self.stats.set_value("newsarchive/coverage", self.writer.coverage.as_dict())  # for the drift alarm
        if self.write_ms:  # in the stats dump (LOG_LEVEL=INFO): how long the archive kept the write lock
            ms = sorted(self.write_ms)
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                self.stats.set_value(f"newsarchive/write_ms_{name}", round(ms[min(len(ms) - 1, int(q * len(ms)))], 2))
            self.stats.set_value("newsarchive/write_ms_max", round(ms[-1], 2))
        self.writer.close()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        try:
            return self._process(item)
        except (StorageError, sqlite3.OperationalError) as exc:
            # disk full (or quota, or a read-only file): what was being written was rolled back
            # whole; fetching more would only lose more, so the run stops and says why (exit 7)
            if not self.stats.get_value("newsarchive/storage_error"):
                self.stats.set_value("newsarchive/storage_error", str(exc))
                stop_crawl(self.crawler, "storage_error")
            raise DropItem(f"not archived: {exc}") from exc

    def _process(self, item: Any) -> Any:
        writer = self.writer
        assert writer is not None
        if isinstance(item, FetchedPage):
            return self.page(writer.page(item))
        if isinstance(item, NotModified):
            writer.not_modified(item)
            self.stats.inc_value("newsarchive/unchanged")
            raise _done("not modified")
        if isinstance(item, FetchFailed):
            writer.failed(item)
            self.stats.inc_value("newsarchive/failed")
            raise _done(f"failed: {item.error}")
        if isinstance(item, MediaFile):
            self.media_file(item)
        if isinstance(item, MediaFailed):
            self.failed_media(item)
            raise _done(f"media not archived: {item.error}")
        return item

    def page(self, stored: Stored) -> RecordItem:
        if stored.status == "extractor_error":
            self.stats.inc_value("newsarchive/extractor_errors")
        if stored.record is None:
            self.stats.inc_value("newsarchive/failed")
            raise _done(stored.error or "not archived")
        self.write_ms.append(stored.write_ms)
        self.stats.inc_value(f"newsarchive/{stored.status}")
        if stored.refs:
            self.want_media(stored)
        out = RecordItem(stored.record)
        out.raw = stored.raw
        return out

    # -- media ---------------------------------------------------------------------------------------

    def want_media(self, stored: Stored) -> None:
        """The article is archived: ask for the files it references that are not held. Requests go
        through the engine like any other."""
        spider = self.crawler.spider
        self.stats.inc_value("newsarchive/media_refs", len(stored.refs))
        self.stats.inc_value("newsarchive/media_held_already", stored.held)
        for ref in stored.wanted:
            self.crawler.engine.crawl(spider.media_request(ref, spider.plan.key))

    def media_file(self, item: MediaFile) -> None:
        assert self.writer is not None
        try:
            sha, new = self.writer.media_file(item)
        except Rejected as exc:
            self.count_media_failure(item.url, f"not stored: {exc}")
            raise _done(f"media not stored: {exc}") from exc
        self.stats.inc_value("newsarchive/media_stored")
        if new:
            self.stats.inc_value("newsarchive/media_files_new")
            self.stats.inc_value("newsarchive/media_bytes_new", len(item.body))
        else:
            self.stats.inc_value("newsarchive/media_deduplicated")
        raise _done(f"media stored: {sha}")

    def failed_media(self, item: MediaFailed) -> None:
        assert self.writer is not None
        if self.writer.media is None:
            return
        self.writer.media_failed(item)
        self.count_media_failure(item.url, item.error)

    def count_media_failure(self, url: str, error: str) -> None:
        self.stats.inc_value("newsarchive/media_failed")
        if len(self.media_failed) < 20:
            self.media_failed.append(f"{url}: {error}")

    def record_media(self, spider: Any = None, reason: str = "") -> None:
        """The run record says what happened to media: files not archived (retried by the next
        run) are listed in its errors, which does not make the run partial (docs/media.md)."""
        failed = int(self.stats.get_value("newsarchive/media_failed", 0) or 0)
        run_id = self.stats.get_value("newsarchive/run_id")
        if not failed or run_id is None:
            return
        line = (f"media: {failed} file(s) not archived (retried by the next run): "
                + "; ".join(self.media_failed[:5]))
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                _append_run_error(archive, run_id, line)
        except (StorageError, sqlite3.OperationalError):
            pass


def _append_run_error(archive: Archive, run_id: int, line: str) -> None:
    import json

    row = archive.conn.execute("SELECT errors FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is not None:
        errors = json.loads(row[0] or "[]")
        archive.conn.execute("UPDATE runs SET errors = ? WHERE id = ?",
                             (json.dumps([*errors, line], ensure_ascii=False), run_id))


__all__ = ["ArchivePipeline", "media_enabled"]
