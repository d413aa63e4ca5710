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

    def close_spider(self, spider: Any = None) -> None:
        self.stats.set_value("newsarchive/coverage", self.coverage.as_dict())  # for the drift alarm
        if self.write_ms:  # in the stats dump (LOG_LEVEL=INFO): how long the archive kept the write lock
            ms = sorted(self.write_ms)
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                self.stats.set_value(f"newsarchive/write_ms_{name}", round(ms[min(len(ms) - 1, int(q * len(ms)))], 2))
            self.stats.set_value("newsarchive/write_ms_max", round(ms[-1], 2))
        if self.archive is not None:
            self.archive.close()

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
            with self.archive.transaction():  # the record, its page, validators and failures at once
                result = self.state.keep(record, raw, item.get("request_url"))
        except ProvenanceError as exc:  # rolled back whole: nothing of another site was touched
            self._failed(item.get("request_url") or item["url"], f"refused: {exc}")
            raise DropItem(str(exc)) from exc
        self.write_ms.append((time.perf_counter() - started) * 1000)
        self.stats.inc_value(f"newsarchive/{result.status}")
        out = RecordItem(record)
        out.raw = raw
        return out


class QuietDrops(LogFormatter):
    """Dropped items (304s, failures) are bookkeeping, not warnings."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> dict[str, Any]:
        entry = super().dropped(item, exception, response, spider)
        entry["level"] = 10  # DEBUG
        entry["args"] = {"exception": exception, "item": {k: v for k, v in item.items() if k != "body"}}
        return entry
