"""A crawl worker's frontier and scheduler in Redis (scrapy-redis's scheduler, priority queue and
duplicate filter, adapted: claims, per-run keys, JSON). Imported only by a cluster worker (the
``NEWSARCHIVE_FRONTIER`` and ``SCHEDULER`` of ``crawl.profiles.apply_cluster``): scrapy-redis and
redis are the ``cluster`` extra. The scrapy-redis internals used here are checked by
``newsarchive.crawl.compat.check_scrapy_redis`` when this module is imported.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from .. import dates
from ..crawl import compat
from ..crawl.plan import CrawlPlan, make_plan
from ..sites import resolve
from . import protocol
from .protocol import script

compat.check_scrapy_redis()


def client_for(settings: Any) -> Any:
    return protocol.connect(settings.get("NEWSARCHIVE_REDIS"))


# -- the shared frontier ---------------------------------------------------------------------------------

class RedisFrontier:
    """The run's plan and its requested articles, shared by every worker of the run. "Known" is a
    copy in Redis of the archive's URLs and CMS ids of the site (workers need not see the archive),
    brought up to date by each run's planning worker with what was archived since it last looked."""

    owns_site = True  # the run coordinates its workers itself
    NEWEST_TTL = 1.0  # seconds a worker trusts the newest publication time it read

    def __init__(self, plan: CrawlPlan, client: Any, prefix: str, run: str, seeds: bool) -> None:
        self.plan, self.client, self.p, self.run, self.seeds = plan, client, prefix, run, seeds
        self.known_p = f"{protocol.PREFIX}:known:{plan.key}:"
        self._max = client.register_script(script("newest"))
        self._known: dict[tuple[str, str | None], bool] = {}  # answers of the last lookup
        self._requested: dict[str, bool] = {}
        self._newest: datetime | None = None
        self._newest_read = 0.0
        self._pending: list[str] = []  # claims made on the look-up's answers, confirmed by settle()
        self._scheduled: int | None = None  # articles requested by the run, as of the last look-up
        self.pages = 0  # pages received and not yet added to the run's count (sent with the next ack)

    @classmethod
    def open(cls, settings: Any, site_arg: str, since: str | None = None, recheck: bool = False) -> RedisFrontier:
        client = client_for(settings)
        key = resolve(site_arg).key
        p = protocol.site_prefix(key)
        arrived = time.time()
        deadline = time.monotonic() + settings.getfloat("NEWSARCHIVE_JOIN_TIMEOUT", 60)
        planner = settings.getbool("NEWSARCHIVE_CLUSTER_PLAN")
        while True:
            run = {k.decode(): v.decode() for k, v in client.hgetall(p + "run").items()}
            # a run in progress, or one that ended while this worker was starting (it then has
            # nothing to do and ends at once)
            late = run.get("state") == "done" and float(run.get("started_epoch", 0)) >= arrived - 10
            if run.get("state") == "running" or (late and not planner):
                return cls(_plan_from(json.loads(run["plan"])), client, p, run["id"], seeds=False)
            if planner and client.set(p + "planning", "1", nx=True, ex=60):
                try:
                    return cls._plan_run(settings, client, p, site_arg, since, recheck)
                finally:
                    client.delete(p + "planning")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no cluster run of {key} to join in Redis (start one worker with --db)")
            time.sleep(0.5)

    @classmethod
    def _plan_run(cls, settings: Any, client: Any, p: str, site_arg: str, since: str | None,
                  recheck: bool) -> RedisFrontier:
        plan = make_plan(settings, site_arg, since, recheck)  # the archive, read by the planner only
        _sync_known(settings, client, plan.key)
        run = uuid.uuid4().hex
        pipe = client.pipeline(transaction=True)
        for name in ("articles", "seen", "requests", "newest", "newest_iso", "pages", "errors", "robots_forbidden",
                     "done"):
            pipe.delete(p + name)
        scalars = {"key": plan.key, "base": plan.base, "site": plan.site, "window": plan.window.total_seconds(),
                   "floor": plan.floor.isoformat() if plan.floor else None, "stop_at_known": plan.stop_at_known,
                   "newest_archived": plan.newest_archived.isoformat() if plan.newest_archived else None,
                   "resumed": plan.resumed, "started": plan.started}
        pipe.set(p + "seeding", run, ex=30)  # kept alive by the planner's heartbeat until its start is out
        pipe.hset(p + "run", mapping={"id": run, "plan": json.dumps(scalars), "state": "running",
                                      "started_at": dates.utc_now(), "started_epoch": time.time()})
        pipe.execute()
        protocol.push(client, {"type": "run", "event": "start", "run": run, "key": plan.key, "base": plan.base,
                               "since_bound": scalars["floor"], "started_at": dates.utc_now()})
        return cls(plan, client, p, run, seeds=True)

    # -- lookups: one round trip per page of links (``lookup``), answered from it afterwards --------

    def lookup(self, found: Iterable[tuple[str, str | None, str]]) -> None:
        found = list(found)
        pipe = self.client.pipeline(transaction=False)
        for url, article_id, key in found:
            pipe.sismember(self.known_p + "urls", url)
            pipe.sismember(self.known_p + "ids", article_id or "")
            pipe.sismember(self.p + "articles", key)
        pipe.scard(self.p + "articles")
        *answers, scheduled = pipe.execute()
        self._scheduled = int(scheduled)
        self._known.clear()
        self._requested.clear()
        for i, (url, article_id, key) in enumerate(found):
            by_url, by_id, requested = answers[3 * i: 3 * i + 3]
            self._known[(url, article_id)] = bool(by_url) or (article_id is not None and bool(by_id))
            self._requested[key] = bool(requested)

    def known(self, url: str, article_id: str | None) -> bool:
        if (url, article_id) not in self._known:
            self.lookup([(url, article_id, "")])
        return self._known[(url, article_id)]

    def requested(self, key: str) -> bool:
        if key not in self._requested:
            self._requested[key] = bool(self.client.sismember(self.p + "articles", key))
        return self._requested[key]

    def claim(self, key: str) -> bool:
        """A key the last look-up found unrequested is claimed provisionally (settle() confirms all
        of a page's claims in one round trip); any other is claimed at once."""
        if key in self._requested:
            if self._requested[key]:
                return False
            self._requested[key] = True
            self._pending.append(key)
            return True
        self._requested[key] = True
        return self.client.sadd(self.p + "articles", key) == 1

    def settle(self) -> set[str]:
        if not self._pending:
            return set()
        pipe = self.client.pipeline(transaction=False)
        for key in self._pending:
            pipe.sadd(self.p + "articles", key)
        lost = {key for key, added in zip(self._pending, pipe.execute(), strict=True) if not added}
        self._pending.clear()
        self._scheduled = None
        return lost

    def scheduled(self) -> int:
        if self._scheduled is None:
            self._scheduled = int(self.client.scard(self.p + "articles"))
        return self._scheduled + len(self._pending)

    def done(self, request: Any) -> None:
        """A request's claim is over; the pages counted since the last ack go in the same round trip
        (before the claim: a worker that sees no claim left sees their count)."""
        claim = request.meta.pop(protocol.CLAIM, None)
        if claim or self.pages:
            pipe = self.client.pipeline(transaction=False)
            self._count_pages(pipe)
            if claim:
                pipe.hdel(self.p + "claims:" + protocol.WORKER, claim)
            pipe.execute()

    def _count_pages(self, pipe: Any) -> None:
        if self.pages:
            pipe.incrby(self.p + "pages", self.pages)
            self.pages = 0

    def flush_pages(self) -> None:
        if self.pages:
            pipe = self.client.pipeline(transaction=False)
            self._count_pages(pipe)
            pipe.execute()

    def seeded(self) -> None:
        if self.seeds:
            self.client.delete(self.p + "seeding")

    def see(self, when: datetime) -> bool:
        """Only a time newer than this worker has seen goes to Redis (listings are newest first)."""
        local = self.newest()
        if local is not None and when <= local:
            return False
        newer = bool(self._max(keys=[self.p + "newest", self.p + "newest_iso"],
                               args=[when.timestamp(), when.isoformat()]))
        self._newest, self._newest_read = (when, time.monotonic()) if newer else (None, 0.0)
        return newer

    def newest(self) -> datetime | None:
        if self._newest is None or time.monotonic() - self._newest_read > self.NEWEST_TTL:
            value = self.client.get(self.p + "newest_iso")
            self._newest = datetime.fromisoformat(value.decode()) if value else None
            self._newest_read = time.monotonic()
        return self._newest

    def close(self) -> None:
        return None


def _sync_known(settings: Any, client: Any, key: str) -> int:
    """Bring the Redis copy of the site's known URLs and ids up to date with the archive: only
    what was archived since the last sync (by rowid), in batches; the first sync of a site copies
    it whole, once. Returns how many entries were added."""
    from ..crawl.plan import db_path
    from ..store import Archive
    from ..store.crawlstate import CrawlState

    kp = f"{protocol.PREFIX}:known:{key}:"
    marks = {k.decode(): int(v) for k, v in client.hgetall(kp + "synced").items()}
    article_after, alias_after = marks.get("article", 0), marks.get("alias", 0)
    added, pipe = 0, client.pipeline(transaction=False)
    with Archive(db_path(settings)) as archive:
        for kind, value, rowid in CrawlState(archive).known_after(key, article_after, alias_after):
            pipe.sadd(kp + ("ids" if kind == "id" else "urls"), value)
            if kind == "alias":
                alias_after = max(alias_after, rowid)
            else:
                article_after = max(article_after, rowid)
            added += 1
            if added % 5000 == 0:
                pipe.execute()
    pipe.hset(kp + "synced", mapping={"article": article_after, "alias": alias_after})
    pipe.execute()
    return added


def _plan_from(data: dict[str, Any]) -> CrawlPlan:
    when = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
    return CrawlPlan(key=data["key"], base=data["base"], site=data["site"], floor=when(data["floor"]),
                     window=timedelta(seconds=data["window"]), stop_at_known=data["stop_at_known"],
                     newest_archived=when(data["newest_archived"]), resumed=data["resumed"],
                     started=data.get("started") or dates.utc_now())


# -- scheduler: scrapy-redis's, with claims ------------------------------------------------------------

class ClaimingQueue(PriorityQueue):
    """scrapy-redis's priority queue; a pop also records the request in the worker's claims. Pops
    take up to ``POP_BATCH`` requests in one round trip (all claimed at once: a dead worker's, or a
    stopping one's, go back with its claims)."""

    POP_BATCH = 4  # requests claimed per round trip: few, so that workers share the tail of a run

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.claims = key.rsplit(":", 1)[0] + ":claims:" + protocol.WORKER
        self._pop = server.register_script(script("pop_claim"))
        self._put_back = server.register_script(script("put_back"))
        self._popped: deque[tuple[str, bytes]] = deque()  # claimed here, not yet handed to the engine

    def __len__(self) -> int:
        return int(self.server.zcard(self.key)) + len(self._popped)

    def pop(self, timeout: int = 0) -> Any:
        if not self._popped:
            got = self._pop(keys=[self.key, self.claims], args=[uuid.uuid4().hex, self.POP_BATCH])
            self._popped.extend(zip((c.decode() for c in got[::2]), got[1::2], strict=True))
        if not self._popped:
            return None
        claim, data = self._popped.popleft()
        request = self._decode_request(data)
        request.meta[protocol.CLAIM] = claim
        return request

    def put_back(self, claims_key: str | None = None) -> int:
        """Requests claimed (by this worker, or by a dead one) back into the queue."""
        if claims_key is None:
            self._popped.clear()  # their claims go back with the others
        return int(self._put_back(keys=[claims_key or self.claims, self.key]))

    def _encode_request(self, request: Any) -> str:
        # Scrapy's Request.to_dict finds a callback's name by listing every member of the spider
        # (inspect.getmembers: a twentieth of a worker's time); a spider method's own name is
        # checked here instead, and Scrapy's search (with its error) is left the other cases.
        saved = request.callback, request.errback
        names = [_method_name(self.spider, f) if callable(f) else f for f in saved]
        if any(callable(f) and n is None for f, n in zip(saved, names, strict=True)):
            return super()._encode_request(request)
        try:
            request.callback, request.errback = names
            return super()._encode_request(request)
        finally:
            request.callback, request.errback = saved


def _method_name(spider: Any, func: Any) -> str | None:
    """The name under which ``func`` is a method of ``spider``, if it is one."""
    name = getattr(func, "__name__", None)
    own = getattr(spider, name, None) if isinstance(name, str) else None
    inner = getattr(func, "__func__", None)
    return name if inner is not None and getattr(own, "__func__", None) is inner else None


class ClusterScheduler(Scheduler):
    """scrapy-redis's scheduler on the run's keys, acknowledging claims."""

    def open(self, spider: Any) -> None:
        p = spider.frontier.p
        self.queue_key = p + "requests"
        self.queue_cls = "newsarchive.cluster.worker.ClaimingQueue"
        self.serializer = protocol.RequestSerializer
        self.df = RFPDupeFilter(self.server, key=p + "seen")
        self.persist = True  # the frontier outlives any one worker
        self._enqueue = self.server.register_script(script("enqueue"))
        super().open(spider)

    def enqueue_request(self, request: Any) -> bool:
        """scrapy-redis's (seen? then queued), in one round trip; a retry or a redirect replaces a
        claimed request: once its successor is queued (or filtered out), the claim is done."""
        holder = request.meta.pop(protocol.CLAIM, None) or ""
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        added = self._enqueue(keys=[self.df.key, self.queue.key, self.queue.claims],
                              args=[fingerprint, self.queue._encode_request(request), -request.priority, holder])
        if not added:
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        return True
