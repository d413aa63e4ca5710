"""The frontier: what a run has asked for, as the spider sees it.

``Frontier`` is the protocol the spider and the Scrapy components use; ``LocalFrontier`` is the one
of a crawl in one process, depending only on the store (the archive answers "archived before this
run?" for each link as it is met: indexed lookups, nothing loaded up front). A cluster run shares
one in Redis (``newsarchive.cluster.worker.RedisFrontier``). Which class a crawl uses is the
``NEWSARCHIVE_FRONTIER`` setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..sites import resolve
from .lock import SiteLock
from .plan import CrawlPlan, db_path, make_plan


@runtime_checkable
class Frontier(Protocol):
    plan: CrawlPlan
    seeds: bool  # this process yields the run's start requests
    owns_site: bool  # the run may go ahead: the site's lock is held (a cluster run coordinates itself)

    def lookup(self, found: Iterable[tuple[str, str | None, str]]) -> None:
        """A hint: the (canonical URL, CMS id, run key) of every article link of a page, before
        ``known``/``requested`` are asked about them one by one (a remote frontier answers all of
        them in one round trip)."""

    def known(self, url: str, article_id: str | None) -> bool:
        """Archived before this run (by canonical URL or alias, or by CMS id on the same site)."""

    def requested(self, key: str) -> bool: ...

    def claim(self, key: str) -> bool:
        """Mark ``key`` requested; False if it already was (by this process or any worker of the run)."""

    def scheduled(self) -> int: ...

    def settle(self) -> set[str]:
        """Claims a remote frontier made provisionally since the last call, confirmed in one round
        trip: returns the keys another worker had claimed first (their requests are dropped)."""

    def see(self, when: datetime) -> bool:
        """Note a publication time; True if it is the newest seen so far."""

    def newest(self) -> datetime | None: ...

    def done(self, request: Any) -> None:
        """The request's callback or errback has run (a cluster frontier forgets its claim)."""

    def seeded(self) -> None:
        """The start requests are all out (a cluster run cannot end before)."""

    def close(self) -> None:
        """The run is over in this process: let go of what it holds (the site's lock)."""


class LocalFrontier:
    """The frontier of a crawl in this process: the plan, the site's lock, the article URLs
    requested so far (a URL is requested once per run), and the newest publication time seen."""

    seeds = True

    def __init__(self, plan: CrawlPlan, db: Any, lock: SiteLock | None = None) -> None:
        self.plan = plan
        self.db = db
        self.lock = lock
        self.owns_site = lock is not None and lock.fd is not None
        self._requested: set[str] = set()
        self._newest: datetime | None = None
        self._known: dict[tuple[str, str | None], bool] = {}  # links looked up (archived before the run?)
        self._reader: Any = None  # the archive, read for look-ups

    @classmethod
    def open(cls, settings: Any, site_arg: str, since: str | None = None, recheck: bool = False) -> LocalFrontier:
        """Take the site's lock and plan the run (a run that cannot have the lock plans nothing to do)."""
        db = db_path(settings)
        lock = SiteLock(db, resolve(site_arg).key)
        held = lock.acquire()
        plan = make_plan(settings, site_arg, since, recheck)
        if not held:
            plan.revisits, plan.failures = [], []
        return cls(plan, db, lock if held else None)

    def lookup(self, found: Iterable[tuple[str, str | None, str]]) -> None:
        """The page's links, looked up in the archive in one short read (indexed queries)."""
        if len(self._known) > 200_000:  # answers hold for the whole run; kept within a bound
            self._known.clear()
        # (not "set - dict.keys()": that walks every answer kept, and a crawl slowed as it grew)
        known = self._known
        pairs = {(url, article_id) for url, article_id, _ in found if (url, article_id) not in known}
        if pairs:
            self._known.update(self._look_up(pairs))

    def known(self, url: str, article_id: str | None) -> bool:
        if (url, article_id) not in self._known:
            self._known.update(self._look_up({(url, article_id)}))
        return self._known[(url, article_id)]

    def _look_up(self, pairs: set[tuple[str, str | None]]) -> dict[tuple[str, str | None], bool]:
        from ..store.crawlstate import CrawlState

        if self._reader is None:
            import sqlite3
            from types import SimpleNamespace

            from ..store import busy_timeout

            # a plain read-only connection, kept for the run (a new one per page re-reads the
            # schema: a third of a crawl's SQLite time); each look-up reads all its rows at once, so
            # no read transaction stays open between pages
            conn = sqlite3.connect(self.db, isolation_level=None, timeout=busy_timeout())
            conn.execute("PRAGMA query_only = ON")
            self._reader = CrawlState(SimpleNamespace(conn=conn))  # type: ignore[arg-type]
        known = self._reader.known_many(self.plan.key, pairs, self.plan.started)
        return {pair: pair in known for pair in pairs}

    def requested(self, key: str) -> bool:
        return key in self._requested

    def claim(self, key: str) -> bool:
        if key in self._requested:
            return False
        self._requested.add(key)
        return True

    def scheduled(self) -> int:
        return len(self._requested)

    def settle(self) -> set[str]:
        return set()  # every claim here is final at once

    def see(self, when: datetime) -> bool:
        if self._newest is None or when > self._newest:
            self._newest = when
            return True
        return False

    def newest(self) -> datetime | None:
        return self._newest

    def done(self, request: Any) -> None:
        return None

    def seeded(self) -> None:
        return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.conn.close()
            self._reader = None
        if self.lock is not None:
            self.lock.release()
            self.lock = None
