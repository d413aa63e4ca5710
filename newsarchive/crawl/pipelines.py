"""Item pipelines: raw pages from the spiders → records (pure extraction) → the archive.

The items that leave the pipelines are record objects (shared/spec/record.md), so a feed export
(``scrapy crawl onecms -a site=… -O out.jsonl``) writes records."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from typing import Any

from scrapy.exceptions import DropItem, NotConfigured
from scrapy.logformatter import LogFormatter

from .crawl import db_path, stop_crawl
from .drift import Coverage
from .extract import ExtractorError, NotAnArticle, extract
from .media import MediaStore, Ref, Rejected, measure, media_path, references, write_refs
from .sites import crawl_key
from .store import Archive, ProvenanceError, RawPage, StorageError
from .store.crawlstate import CrawlState, header


def page_record(item: dict[str, Any]) -> tuple[dict[str, Any], RawPage]:
    """The record of a fetched page item (pure extraction; raises NotAnArticle), and the raw page."""
    fetched = datetime.fromisoformat(item["fetched_at"].replace("Z", "+00:00"))
    record = extract(item["body"], item["url"], headers=item["headers"], fetched_at=fetched)
    return record, RawPage(item["url"], item["body"], item["status"], item["headers"], item["fetched_at"])


class RecordItem(dict):  # type: ignore[type-arg]
    """A record, carrying the raw page it came from (not part of the record, so not exported)."""

    raw: RawPage


class ArchivePipeline:
    """Extracts raw pages and archives the records; keeps the crawl state (re-checks, failures)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.archive: Archive | None = None
        self.state: CrawlState | None = None
        self.key = ""  # the run's site identity (set when the spider opens)
        self.write_ms: list[float] = []  # time of each article's write transaction
        self.coverage = Coverage()  # what this run extracted, field by field (newsarchive.drift)
        self.media: MediaStore | None = None  # None: media are not archived by this run
        self.media_video = crawler.settings.getbool("NEWSARCHIVE_MEDIA_VIDEO")
        self.media_failed: list[str] = []  # examples for the run record

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        if crawler.spidercls.name != "onecms":  # one-off scrapes store through the CLI (or not at all)
            raise NotConfigured
        if crawler.settings.get("NEWSARCHIVE_REDIS"):  # a cluster worker: the writer stores
            raise NotConfigured
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        settings = self.crawler.settings
        quota = settings.getfloat("NEWSARCHIVE_MAX_DB_MB")
        self.archive = Archive(db_path(settings), max_bytes=int(quota * 2**20) if quota else None)
        self.state = CrawlState(self.archive)
        # Scrapy 2.13+ calls open_spider() without the spider: the crawler always has it. The key is
        # the run's one site identity, under which failures are asked for again by the next run.
        spider = spider if spider is not None else self.crawler.spider
        self.key = spider._plan().key if hasattr(spider, "_plan") else crawl_key(spider.base)
        if media_enabled(settings, getattr(spider, "base", None)):
            self.media = MediaStore(media_path(self.archive.path))
            from scrapy import signals

            # after the run recorder (an extension, connected first) has written the run
            self.crawler.signals.connect(self.record_media, signal=signals.spider_closed)

    def close_spider(self, spider: Any = None) -> None:
        self.stats.set_value("newsarchive/coverage", self.coverage.as_dict())  # for the drift alarm
        if self.write_ms:  # in the stats dump (LOG_LEVEL=INFO): how long the archive kept the write lock
            ms = sorted(self.write_ms)
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                self.stats.set_value(f"newsarchive/write_ms_{name}", round(ms[min(len(ms) - 1, int(q * len(ms)))], 2))
            self.stats.set_value("newsarchive/write_ms_max", round(ms[-1], 2))
        if self.archive is not None:
            self.archive.close()
        if self.media is not None:
            self.media.close()

    def record_media(self, spider: Any = None, reason: str = "") -> None:
        """The run record says what happened to media: files not archived (retried by the next
        run) are listed in its errors, which does not make the run partial (docs/media.md)."""
        failed = int(self.stats.get_value("newsarchive/media_failed", 0) or 0)
        run_id = self.stats.get_value("newsarchive/run_id")
        if not failed or run_id is None:
            return
        import json

        line = (f"media: {failed} file(s) not archived (retried by the next run): "
                + "; ".join(self.media_failed[:5]))
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                row = archive.conn.execute("SELECT errors FROM runs WHERE id = ?", (run_id,)).fetchone()
                if row is not None:
                    errors = json.loads(row[0] or "[]")
                    archive.conn.execute("UPDATE runs SET errors = ? WHERE id = ?",
                                         (json.dumps([*errors, line], ensure_ascii=False), run_id))
        except (StorageError, sqlite3.OperationalError):
            pass

    def _failed(self, url: str, error: str) -> None:
        assert self.state is not None
        self.state.record_failure(url, self.key, error)
        self.stats.inc_value("newsarchive/failed")

    def process_item(self, item: Any, spider: Any = None) -> Any:
        try:
            return self._process(item, spider)
        except (StorageError, sqlite3.OperationalError) as exc:
            # disk full (or quota, or a read-only file): what was being written was rolled back
            # whole; fetching more would only lose more, so the run stops and says why (exit 7)
            if not self.stats.get_value("newsarchive/storage_error"):
                self.stats.set_value("newsarchive/storage_error", str(exc))
                stop_crawl(self.crawler, spider, "storage_error")
            raise DropItem(f"not archived: {exc}") from exc

    def _process(self, item: Any, spider: Any) -> Any:
        assert self.archive is not None and self.state is not None
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "checked":  # 304: the article is as archived
            etag, modified = header(item["headers"], "ETag"), header(item["headers"], "Last-Modified")
            self.state.touch(item["url"], item["fetched_at"], etag, modified)
            self.stats.inc_value("newsarchive/unchanged")
            raise DropItem("not modified")
        if kind == "failed":
            self._failed(item["url"], item["error"])
            raise DropItem(f"failed: {item['error']}")
        if kind == "media":
            self._media(item)
        if kind == "media_failed":
            self._media_failed(item["url"], item.get("site"), item["error"])
            raise DropItem(f"media not archived: {item['error']}")
        if kind != "page":
            return item
        try:
            record, raw = page_record(item)
        except NotAnArticle as exc:
            self.coverage.not_article(item["url"])
            self._failed(item.get("request_url") or item["url"], f"not an article: {exc}")
            raise DropItem(f"not an article: {item['url']}") from exc
        except ExtractorError as exc:
            # a bug in a parser, not a verdict on the page: counted, and the page kept with its
            # failure so that reparse reads it again once the parser is fixed
            self.coverage.error(item["url"])
            self.stats.inc_value("newsarchive/extractor_errors")
            assert self.state is not None
            url = item.get("request_url") or item["url"]
            self.state.record_failure(url, self.key, f"extractor error: {exc.parser}.{exc.field}: {exc.error}",
                                      page=RawPage(item["url"], item["body"], item["status"], item["headers"],
                                                   item["fetched_at"]))
            self.stats.inc_value("newsarchive/failed")
            raise DropItem(str(exc)) from exc
        self.coverage.add(record)
        started = time.perf_counter()
        try:
            refs = references(record, item["body"], item["url"], video=self.media_video) if self.media else []
            with self.archive.transaction():  # the record, its page, validators, failures, media refs at once
                result = self.state.keep(record, raw, item.get("request_url"))
                if self.media is not None:
                    write_refs(self.archive.conn, result.id, refs)
        except ProvenanceError as exc:  # rolled back whole: nothing of another site was touched
            self._failed(item.get("request_url") or item["url"], f"refused: {exc}")
            raise DropItem(str(exc)) from exc
        self.write_ms.append((time.perf_counter() - started) * 1000)
        self.stats.inc_value(f"newsarchive/{result.status}")
        if refs:
            self._want_media(refs, spider)
        out = RecordItem(record)
        out.raw = raw
        return out


    # -- media ---------------------------------------------------------------------------------------

    def _want_media(self, refs: list[Ref], spider: Any) -> None:
        """The article is archived: ask for the files it references that are not held (a revised
        article asks only for its new ones). Requests go through the engine like any other."""
        assert self.media is not None
        held = self.media.held(r.url for r in refs)
        given_up = self.media.given_up(r.url for r in refs if r.url not in held)
        spider = spider if spider is not None else self.crawler.spider
        for ref in refs:
            self.stats.inc_value("newsarchive/media_refs")
            if ref.url in held:
                self.stats.inc_value("newsarchive/media_held_already")
            elif ref.url not in given_up and hasattr(spider, "media_request"):
                self.crawler.engine.crawl(spider.media_request(ref, self.key))

    def _media(self, item: dict[str, Any]) -> None:
        assert self.media is not None
        url, kind = item["url"], item["kind"]
        try:
            measured = measure(item["body"], kind, _content_type(item["headers"]))
        except Rejected as exc:
            self._media_failed(url, item.get("site"), f"not stored: {exc}")
            raise DropItem(f"media not stored: {exc}") from exc
        sha, new = self.media.store(item.get("request_url") or url, item["body"], measured, status=item["status"],
                                    headers=item["headers"], fetched_at=item["fetched_at"])
        self.stats.inc_value("newsarchive/media_stored")
        if new:
            self.stats.inc_value("newsarchive/media_files_new")
            self.stats.inc_value("newsarchive/media_bytes_new", len(item["body"]))
        else:
            self.stats.inc_value("newsarchive/media_deduplicated")
        raise DropItem(f"media stored: {sha}")

    def _media_failed(self, url: str, site: str | None, error: str) -> None:
        if self.media is None:
            return
        self.media.fail(url, site or self.key, error)
        self.stats.inc_value("newsarchive/media_failed")
        if len(self.media_failed) < 20:
            self.media_failed.append(f"{url}: {error}")


def _content_type(headers: dict[str, Any] | None) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            return v[0] if isinstance(v, list | tuple) and v else str(v)
    return None


def media_enabled(settings: Any, base: str | None) -> bool:
    """Media are archived unless ``NEWSARCHIVE_MEDIA`` is off (``crawl --no-media``) or the site's
    profile says ``media=False``; never by a cluster worker (not yet: docs/media.md)."""
    if not settings.getbool("NEWSARCHIVE_MEDIA", True) or settings.get("NEWSARCHIVE_REDIS"):
        return False
    if base:
        from .sites import profile_for

        profile = profile_for(base)
        if profile is not None and not profile.media:
            return False
    return True


class QuietDrops(LogFormatter):
    """Dropped items (304s, failures) are bookkeeping, not warnings."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> dict[str, Any]:
        entry = super().dropped(item, exception, response, spider)
        entry["level"] = 10  # DEBUG
        entry["args"] = {"exception": exception, "item": {k: v for k, v in item.items() if k != "body"}}
        return entry
