"""Scrapy extensions of a crawl: the run's record and progress (``RunRecorder``)."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from ..store import Archive, StorageError
from ..store.crawlstate import CrawlState
from . import compat
from .plan import db_path


class RunRecorder:
    """Scrapy extension: records the run (its start, counts, outcome, notes, coverage) and shows
    progress. The site's lock is the frontier's (``spider.frontier.owns_site``)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.run_id: int | None = None
        self.started = time.monotonic()
        self.quiet = crawler.settings.getbool("NEWSARCHIVE_QUIET")
        self.tty = sys.stderr.isatty() and not self.quiet
        self.last_log = 0.0
        self.errors: list[str] = []
        self.task: Any = None
        self.samples: deque[tuple[float, int]] = deque()  # (time, pages): the current rate
        self.signals = 0  # Ctrl-C / SIGTERM received
        self.kill_handler: Any = None  # Scrapy's handler for the second one

    @classmethod
    def from_crawler(cls, crawler: Any) -> RunRecorder:
        if not getattr(crawler.spidercls, "archives", False) or crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured  # a cluster worker's run is recorded by the writer
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_opened(self, spider: Any) -> None:
        spider = self.crawler.spider
        plan = spider.plan
        if not spider.frontier.owns_site:  # another crawl of the site holds its lock
            self.stats.set_value("newsarchive/outcome", "lock_held")
            compat.stop_crawl(self.crawler, "lock_held")
            return
        with Archive(db_path(self.crawler.settings)) as archive:
            bound = plan.floor.isoformat() if plan.floor else None
            self.run_id = CrawlState(archive).start_run(plan.key, plan.base, bound, os.getpid())
        self.stats.set_value("newsarchive/run_id", self.run_id)
        from twisted.internet import task

        self.task = task.LoopingCall(self.progress, spider)
        self.task.start(1.0, now=False)
        self.install_signal_handlers()

    # -- Ctrl-C and SIGTERM: say so at once, stop within seconds, and the run says "interrupted" -------

    def install_signal_handlers(self) -> None:
        """Ours in front of Scrapy's (installed by then): the first signal drops the requests that
        only wait (a site's delay can be a minute) and lets Scrapy stop gracefully; the second stops
        now, with the run recorded as interrupted rather than left "running"."""
        import signal

        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            scrapy_handler = signal.getsignal(signum)
            if callable(scrapy_handler):
                signal.signal(signum, self.on_signal_factory(scrapy_handler))

    def on_signal_factory(self, scrapy_handler: Any) -> Any:
        import signal

        from twisted.internet import reactor

        def on_signal(signum: int, frame: Any) -> None:
            self.signals += 1
            if self.signals == 1:
                reactor.callFromThread(self.stopping)
                scrapy_handler(signum, frame)  # Scrapy's graceful stop; it installs its kill handler
                self.kill_handler = signal.getsignal(signum)
                signal.signal(signal.SIGINT, on_signal)
                signal.signal(signal.SIGTERM, on_signal)
            else:
                reactor.callFromThread(self.killed)
                if callable(self.kill_handler):
                    self.kill_handler(signum, frame)

        return on_signal

    def stopping(self) -> None:
        from .middlewares import drop_queued

        in_flight = drop_queued(self.crawler) if self.crawler.engine is not None else 0
        # said even with --quiet: it answers what the user just did
        sys.stderr.write(f"\nstopping: finishing {in_flight} request(s) in flight; Ctrl-C again to stop now\n")
        sys.stderr.flush()

    def killed(self) -> None:
        """The second signal: the reactor stops without closing the spider, so the run is
        recorded here."""
        self.stats.set_value("newsarchive/outcome", "interrupted")
        self.finish("interrupted", getattr(self.crawler, "spider", None))

    def item_error(self, item: Any, response: Any, spider: Any, failure: Any) -> None:
        self.errors.append(f"{getattr(response, 'url', '?')}: {failure.value}")

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        self.errors.append(f"{getattr(response, 'url', '?')}: {failure.value}")

    def counts(self) -> dict[str, int]:
        get = self.stats.get_value
        return {
            "pages": int(get("response_received_count", 0) or 0),
            "new": int(get("newsarchive/new", 0) or 0),
            "revised": int(get("newsarchive/revised", 0) or 0),
            "unchanged": int(get("newsarchive/unchanged", 0) or 0),
            "failed": int(get("newsarchive/failed", 0) or 0),
        }

    def phase(self) -> str:
        """What the crawl is doing now, from the requests in the downloader."""
        if self.signals:
            return "stopping"
        active = compat.in_downloader(self.crawler)
        if not active:
            return "starting" if not self.counts()["pages"] else "storing"
        kinds = [("re-checking" if r.meta.get("revisit") else "discovering" if r.meta.get("discovery")
                  else "fetching articles") for r in active]
        return max(set(kinds), key=kinds.count)

    def queued(self) -> int:
        """Requests waiting in the scheduler (Scrapy keeps it on a private engine slot)."""
        scheduler = compat.scheduler(self.crawler)
        try:
            return len(scheduler) if scheduler is not None else 0
        except TypeError:  # a scheduler without a length
            return 0

    def line(self, spider: Any = None) -> str:
        c = self.counts()
        now = time.monotonic()
        self.samples.append((now, c["pages"]))
        while len(self.samples) > 2 and now - self.samples[0][0] > 10:
            self.samples.popleft()
        (t0, p0) = self.samples[0]
        rate = (c["pages"] - p0) / (now - t0) if now - t0 >= 1 else c["pages"] / max(now - self.started, 1e-6)
        elapsed = int(now - self.started)
        key = spider.plan.key if getattr(spider, "plan", None) is not None else ""
        return (f"{key}  {self.phase()}  {elapsed // 60}:{elapsed % 60:02d}  queue {self.queued()}  pages {c['pages']}"
                f"  new {c['new']}  revised {c['revised']}  unchanged {c['unchanged']}"
                f"  errors {c['failed'] + len(self.errors)}  {rate:.1f} pages/s")

    def progress(self, spider: Any) -> None:
        if self.quiet:
            return
        if self.tty:
            sys.stderr.write("\r" + self.line(spider) + "\x1b[K")
            sys.stderr.flush()
        elif time.monotonic() - self.last_log >= 30:
            self.last_log = time.monotonic()
            sys.stderr.write(f"{datetime.now(UTC).strftime('%H:%M:%SZ')} {self.line(spider)}\n")

    @staticmethod
    def notes(spider: Any) -> list[str]:
        """What the spider skipped or lost besides article failures (a surface, a cut stream)."""
        return list(getattr(spider, "notes", []))

    def outcome(self, reason: str, spider: Any = None) -> str:
        c = self.counts()
        if reason in ("shutdown", "lock_held", "storage_error"):
            return "interrupted" if reason == "shutdown" else reason
        denied = int(self.stats.get_value("robotstxt/forbidden", 0) or 0)
        robots = int(self.stats.get_value("robotstxt/response_count", 0) or 0)
        if c["pages"] - robots <= 0:  # nothing but robots.txt was fetched
            unreachable = self.stats.get_value("newsarchive/unreachable")
            return "robots_denied" if denied and not unreachable else "failed"
        if self.stats.get_value("newsarchive/category_missing"):
            return "unknown_category"
        plan = getattr(spider, "plan", None)
        if getattr(spider, "links_found", None):  # counted by the spider (a stat per link is costly)
            self.stats.set_value("newsarchive/links_found", spider.links_found)
        if not self.stats.get_value("newsarchive/links_found") and not any(c[k] for k in ("new", "revised",
                                                                                         "unchanged", "failed")):
            if plan is None or not (plan.revisits or plan.failures):
                return "not_onecms"  # no listing, feed, sitemap or article link: not what was asked for
        if c["failed"] or self.errors or self.notes(spider):
            return "partial"  # success means nothing was left behind
        return "success"

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.run_id is None:
            self.finish("", spider)  # (nothing recorded: the frontier lets go of what it holds)
            return
        outcome = self.outcome(reason, spider)
        if outcome in ("success", "partial") and self.drift():
            outcome = "degraded"  # the drift alarm: a field the site always had is gone (newsarchive.drift)
        self.stats.set_value("newsarchive/outcome", outcome)
        if self.tty:
            sys.stderr.write("\r" + self.line(spider) + "\x1b[K\n")
        self.finish(outcome, spider)

    def drift(self) -> list[dict[str, Any]]:
        """Judge this run's coverage against the site's baseline (its last good runs); the result is
        kept in the stats and, with the coverage, in the run record."""
        from ..drift import judge

        coverage = self.stats.get_value("newsarchive/coverage")
        if not coverage or self.run_id is None:
            return []
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                baseline = CrawlState(archive).baseline(self.crawler.spider.plan.key, self.run_id)
        except (StorageError, sqlite3.OperationalError):
            return []
        drops = judge(coverage, baseline)
        self.stats.set_value("newsarchive/drift", drops)
        return drops

    def finish(self, outcome: str, spider: Any) -> None:
        """Record the run's end (once) and let the site's lock go."""
        frontier = getattr(self.crawler.spider, "frontier", None)
        if self.run_id is None:
            if frontier is not None:
                frontier.close()
            return
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                state = CrawlState(archive)
                bound = self.stats.get_value("newsarchive/since_bound")
                if bound:
                    state.set_bound(self.run_id, bound)
                robots = self.stats.get_value("newsarchive/robots_unreadable")
                capped = self.stats.get_value("newsarchive/crawl_delay_capped")
                notes = [f"robots.txt of {robots}: unreadable, so nothing there was fetched"] if robots else []
                notes += [f"robots.txt Crawl-delay capped: {capped}"] if capped else []
                state.finish_run(self.run_id, outcome, self.counts(), notes + self.notes(spider) + self.errors)
                coverage = self.stats.get_value("newsarchive/coverage")
                if coverage:
                    state.set_coverage(self.run_id, coverage, self.stats.get_value("newsarchive/drift"))
        except (StorageError, sqlite3.OperationalError):
            pass  # a full disk: the run stays unfinished, which the next run reads as "resume"
        self.run_id = None
        if frontier is not None:
            frontier.close()
