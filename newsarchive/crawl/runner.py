"""Crawls: the plan a run starts from, the per-site lock, run records and progress.

The archive is the record of what is done: a run reads what is archived (known articles, what is
due for a re-check, what failed before, whether the last run was killed) and decides from that
alone, so a crawl killed with ``kill -9`` and started again loses nothing and duplicates nothing.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from .sites import resolve
from .store import Archive, StorageError, default_db_path
from .store.crawlstate import DEFAULT_SCHEDULE, CrawlState

DEFAULT_WINDOW = timedelta(days=7)  # an empty archive reaches back this far before the newest article

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ROBOTS, EXIT_LOCKED, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 6
EXIT_STORAGE = 7  # the archive cannot be written (disk full, quota, read-only): nothing half-written
EXIT_DEGRADED = 8  # the run archived, but fields the site's pages always had came out empty


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``7d`` (or plain seconds)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 15m, 6h or 7d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return timedelta(seconds=float(m.group(1)) * unit)


def parse_schedule(text: str | None) -> tuple[timedelta, ...]:
    if not text:
        return DEFAULT_SCHEDULE
    return tuple(sorted(parse_duration(part) for part in text.split(",") if part.strip()))


def parse_since(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight at +07:00) or ISO 8601."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+07:00"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.fromisoformat("2000-01-01T00:00:00+07:00").tzinfo)


@dataclass
class CrawlPlan:
    key: str  # the site's one identity (sites.SiteRef.key): lock, failures, run records
    base: str
    site: str  # the records' site (host without www. and port)
    floor: datetime | None  # None: an empty archive, decided from the newest article found
    window: timedelta
    stop_at_known: bool  # incremental: a listing stops where it meets archived articles
    newest_archived: datetime | None
    known_urls: set[str] = field(default_factory=set)
    known_ids: set[str] = field(default_factory=set)
    revisits: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    resumed: bool = False


def stop_crawl(crawler: Any, spider: Any, reason: str) -> None:
    """Close the spider with ``reason`` (Scrapy 2.14 made this a coroutine)."""
    engine = crawler.engine
    if hasattr(engine, "close_spider_async"):
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason=reason))
    else:  # pragma: no cover (older Scrapy)
        engine.close_spider(spider, reason)


def db_path(settings: Any) -> Path:
    value = settings.get("NEWSARCHIVE_DB")
    return Path(value) if value else default_db_path()


def make_plan(settings: Any, site_arg: str, since: str | None = None, recheck: bool = False) -> CrawlPlan:
    """What a run of ``site_arg`` has to do, from the archive's state."""
    ref = resolve(site_arg)
    key, base, site = ref.key, ref.base, ref.host
    window = parse_duration(settings.get("NEWSARCHIVE_WINDOW") or "7d")
    schedule = parse_schedule(settings.get("NEWSARCHIVE_REVISIT"))
    with Archive(db_path(settings)) as archive:
        state = CrawlState(archive)
        newest = state.newest_published(key)  # this site's articles (its port included)
        # clamped to the present: an article dated ahead (stored before dates were range-checked)
        # must not push the window past everything the site will ever publish
        newest_dt = min(datetime.fromisoformat(newest), datetime.now(UTC)) if newest else None
        interrupted = state.interrupted_run(key)
        since_dt = parse_since(since)
        if since_dt is not None:
            floor, stop = since_dt, False  # a backfill walks the whole window
        elif interrupted is not None:
            # the last run was killed: walk its whole window again (what it archived is skipped)
            bound = interrupted.get("since_bound")
            floor = datetime.fromisoformat(bound) if bound else (newest_dt - window if newest_dt else None)
            stop = False
        elif newest_dt is not None:
            floor, stop = newest_dt - window, True
        else:
            floor, stop = None, False
        plan = CrawlPlan(
            key=key, base=base, site=site, floor=floor, window=window, stop_at_known=stop,
            newest_archived=newest_dt, known_urls=state.known_urls(key), known_ids=state.known_ids(key),
            failures=state.failures(key), resumed=interrupted is not None,
        )
        if recheck:  # every archived article in the window, conditionally
            plan.revisits = state.articles_since(key, floor)
        else:
            plan.revisits = state.due_for_revisit(key, schedule)
    return plan


class Frontier:
    """What a run has asked for, as the spider sees it: the plan, the article URLs requested so far
    (a URL is requested once per run), how many, and the newest publication time seen. This one
    lives in the crawling process; a cluster run shares one in Redis (newsarchive.cluster)."""

    seeds = True  # this process yields the run's start requests

    def __init__(self, plan: CrawlPlan) -> None:
        self.plan = plan
        self._requested: set[str] = set()
        self._newest: datetime | None = None

    def known(self, url: str, article_id: str | None) -> bool:
        """Archived before this run (by canonical URL, or by CMS id on the same site)."""
        return url in self.plan.known_urls or (article_id is not None and article_id in self.plan.known_ids)

    def requested(self, url: str) -> bool:
        return url in self._requested

    def claim(self, url: str) -> bool:
        """Mark ``url`` requested; False if it already was."""
        if url in self._requested:
            return False
        self._requested.add(url)
        return True

    def scheduled(self) -> int:
        return len(self._requested)

    def see(self, when: datetime) -> bool:
        """Note a publication time; True if it is the newest seen so far."""
        if self._newest is None or when > self._newest:
            self._newest = when
            return True
        return False

    def newest(self) -> datetime | None:
        return self._newest

    def done(self, request: Any) -> None:
        """The request's callback or errback has run (a cluster frontier forgets its claim)."""

    def seeded(self) -> None:
        """The start requests are all out (a cluster run cannot end before)."""


def open_frontier(settings: Any, site_arg: str, since: str | None, recheck: bool) -> Frontier:
    if settings.get("NEWSARCHIVE_REDIS"):
        from .cluster_worker import RedisFrontier

        return RedisFrontier.open(settings, site_arg, since, recheck)
    return Frontier(make_plan(settings, site_arg, since, recheck))


class SiteLock:
    """One crawl per site and database: an exclusive ``flock`` that the kernel drops when the
    process dies, so a ``kill -9`` never leaves a stale lock behind. The file lives beside the
    archive (``archive.db-crawl-SITE.lock``, which .gitignore's ``*.db-*`` covers) and is removed
    when its crawl ends."""

    def __init__(self, db: Path, key: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        self.path = db.with_name(f"{db.name}-crawl-{safe}.lock")
        self.fd: int | None = None

    def acquire(self) -> bool:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the file was removed (its crawl ended) between our open and our lock: again
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            try:
                self.path.unlink()  # (while still locked: whoever opened it before sees it gone, above)
            except FileNotFoundError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class RunRecorder:
    """Scrapy extension: takes the site lock, records the run, shows progress."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.lock: SiteLock | None = None
        self.lock_key = ""  # the site's identity
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
        if crawler.spidercls.name != "onecms" or crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured  # a cluster worker's run is recorded by the writer
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_opened(self, spider: Any) -> None:
        plan = spider._plan()
        db = db_path(self.crawler.settings)
        self.lock_key = plan.key
        self.lock = SiteLock(db, plan.key)
        if not self.lock.acquire():
            self.lock = None
            self.stats.set_value("newsarchive/lock_held", True)
            self.stats.set_value("newsarchive/outcome", "lock_held")
            stop_crawl(self.crawler, spider, "lock_held")
            return
        with Archive(db) as archive:
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
        engine = self.crawler.engine
        active = list(getattr(getattr(engine, "downloader", None), "active", ()) or ())
        if not active:
            return "starting" if not self.counts()["pages"] else "storing"
        kinds = [("re-checking" if r.meta.get("revisit") else "discovering" if r.meta.get("discovery")
                  else "fetching articles") for r in active]
        return max(set(kinds), key=kinds.count)

    def queued(self) -> int:
        """Requests waiting in the scheduler (Scrapy keeps it on a private engine slot)."""
        slot = getattr(self.crawler.engine, "_slot", None)
        try:
            return len(slot.scheduler) if slot is not None else 0
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
        from .drift import judge

        coverage = self.stats.get_value("newsarchive/coverage")
        if not coverage or self.run_id is None or self.lock is None:
            return []
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                baseline = CrawlState(archive).baseline(self.lock_key, self.run_id)
        except (StorageError, sqlite3.OperationalError):
            return []
        drops = judge(coverage, baseline)
        self.stats.set_value("newsarchive/drift", drops)
        return drops

    def finish(self, outcome: str, spider: Any) -> None:
        """Record the run's end (once) and let the site's lock go."""
        if self.run_id is None:
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
        if self.lock is not None:
            self.lock.release()
            self.lock = None


EXIT_FOR_OUTCOME = {
    "success": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "failed": EXIT_FAILED,
    "robots_denied": EXIT_ROBOTS,
    "lock_held": EXIT_LOCKED,
    "interrupted": EXIT_INTERRUPTED,
    "storage_error": EXIT_STORAGE,
    "degraded": EXIT_DEGRADED,  # the drift alarm: fields the site always had dropped (newsarchive.drift)
    "unknown_category": EXIT_USAGE,  # --category (or the URL's path) names no category of the site
    "not_onecms": EXIT_FAILED,  # nothing on the site looked like a OneCMS listing, feed, sitemap or article
}


def run_crawl(site: str, db: Path, *, since: str | None = None, max_articles: int | None = None,
              category: str | None = None, recheck: bool = False, quiet: bool = False, verbose: bool = False,
              revisit: str | None = None, settings: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """One crawl in this process (the Twisted reactor cannot restart: call once per process).
    Returns the outcome and the final stats."""
    from scrapy.crawler import CrawlerProcess

    from .fetch import project_settings
    from .spiders.onecms import OneCMSSpider

    overrides: dict[str, Any] = {
        "NEWSARCHIVE_DB": str(db),
        "NEWSARCHIVE_QUIET": quiet,
        # what goes wrong is counted, recorded in the run and summed up in one line; Scrapy's own
        # error log (tracebacks included) is for --verbose
        "LOG_LEVEL": "DEBUG" if verbose else "CRITICAL",
    }
    if revisit:
        overrides["NEWSARCHIVE_REVISIT"] = revisit
    overrides.update(settings or {})
    project = project_settings(overrides)
    if project.get("NEWSARCHIVE_REDIS"):
        project = project_settings({**overrides, **cluster_settings(project)})
    process = CrawlerProcess(project)
    crawler = process.create_crawler(OneCMSSpider)
    process.crawl(crawler, site=site, since=since, max_articles=max_articles, category=category,
                  recheck=recheck)
    process.start()
    stats = crawler.stats.get_stats()
    return str(stats.get("newsarchive/outcome", "failed")), stats


def cluster_settings(settings: Any) -> dict[str, Any]:
    """A worker of a cluster run (docs/cluster.md): scrapy-redis's scheduler on the run's keys,
    records pushed to Redis, the site's delay kept across workers."""
    return {
        "SCHEDULER": "newsarchive.cluster_worker.ClusterScheduler",
        # scrapy-redis's scheduler builds Scrapy's own filter through from_settings, which Scrapy 2.13+
        # no longer has: its own filter (on the run's key, set in ClusterScheduler.open) instead
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": settings.get("NEWSARCHIVE_REDIS"),
        "SCHEDULER_PERSIST": True,
        "SPIDER_MIDDLEWARES": {**settings.getdict("SPIDER_MIDDLEWARES"), "newsarchive.cluster_worker.ClaimAck": 1},
        "DOWNLOADER_MIDDLEWARES": {**settings.getdict("DOWNLOADER_MIDDLEWARES"),
                                   "newsarchive.cluster_worker.SharedSitePoliteness": 950},
        "EXTENSIONS": {**settings.getdict("EXTENSIONS"), "newsarchive.cluster_worker.ClusterWorker": 500},
        "ITEM_PIPELINES": {"newsarchive.cluster_worker.PushPipeline": 300},
        # the delay and concurrency are kept per site across workers (SharedSitePoliteness)
        "NEWSARCHIVE_SITE_DELAY": settings.getfloat("DOWNLOAD_DELAY"),
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
    }


# Politeness off, for the built-in demo site and benchmarks on loopback only.
FAST_LOCAL: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
}


def child_command(site: str, db: Path, args: dict[str, Any]) -> list[str]:
    """The command line of one run of an ``--every`` loop."""
    command = [sys.executable, "-m", "newsarchive.cli", "crawl", site, "--db", str(db)]
    for flag in ("since", "max_articles", "category", "revisit"):
        if args.get(flag):  # a relative --since (7d) as written, so each run's cut-off moves with time
            command += [f"--{flag.replace('_', '-')}", str(getattr(args[flag], "given", args[flag]))]
    for flag in ("recheck", "quiet", "verbose"):
        if args.get(flag):
            command.append(f"--{flag}")
    for name, value in (args.get("settings") or {}).items():
        command += ["-s", f"{name}={value}"]
    return command


def every(site: str, db: Path, interval: timedelta, args: dict[str, Any]) -> int:
    """Crawl again and again, each run in a child process (the reactor cannot restart), until
    SIGTERM or Ctrl-C, which stop the loop cleanly after passing the signal to a running child."""
    import signal
    import subprocess

    stop = {"flag": False}
    child: dict[str, Any] = {"proc": None}

    def on_signal(signum: int, frame: Any) -> None:
        stop["flag"] = True
        if child["proc"] is not None and child["proc"].poll() is None:
            child["proc"].send_signal(signal.SIGTERM)  # a child still starting just dies (as after kill -9)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    command = child_command(site, db, args)
    code = EXIT_OK
    number = 0
    while not stop["flag"]:
        started = time.monotonic()
        number += 1
        child["proc"] = subprocess.Popen(command)
        code = child["proc"].wait()
        child["proc"] = None
        if not stop["flag"]:
            wait = max(0.0, interval.total_seconds() - (time.monotonic() - started))
            ended = datetime.now(UTC)
            sys.stderr.write(f"{ended.strftime('%Y-%m-%dT%H:%M:%SZ')} run {number} of {site} ended (exit {code});"
                             f" next run at {(ended + timedelta(seconds=wait)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n")
            sys.stderr.flush()
        while not stop["flag"] and time.monotonic() - started < interval.total_seconds():
            time.sleep(0.2)
    return code if code in (EXIT_OK, EXIT_PARTIAL) else EXIT_OK
