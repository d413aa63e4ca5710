"""A crawl worker of a cluster: the OneCMS spider on a frontier shared in Redis (scrapy-redis's
scheduler, priority queue and duplicate filter, adapted: claims, per-run keys, JSON), pushing what
it fetched and extracted to the one archive writer (newsarchive.ingest). Loaded only when a crawl
is given ``--redis``: scrapy-redis and redis are the ``cluster`` extra.

Used with Scrapy 2.13+ (tested with 2.19) and scrapy-redis 0.9.1, whose scheduler, queue and
duplicate filter are used as they are but for the methods overridden here; its spider mixin is
not used (the OneCMS spider plans its own start).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DropItem, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from . import cluster, dates
from .crawl import CrawlPlan, Frontier, make_plan
from .extract import ExtractorError, NotAnArticle
from .pipelines import page_record
from .sites import resolve


def _client(settings: Any) -> Any:
    return cluster.connect(settings.get("NEWSARCHIVE_REDIS"))


# -- the shared frontier ---------------------------------------------------------------------------------

class RedisFrontier(Frontier):
    """The run's plan and its requested articles, shared by every worker of the run."""

    def __init__(self, plan: CrawlPlan, client: Any, prefix: str, run: str, seeds: bool) -> None:
        super().__init__(plan)
        self.client, self.p, self.run, self.seeds = client, prefix, run, seeds
        self._max = client.register_script(cluster._MAX)

    @classmethod
    def open(cls, settings: Any, site_arg: str, since: str | None, recheck: bool) -> RedisFrontier:
        client = _client(settings)
        key = resolve(site_arg).key
        p = cluster.site_prefix(key)
        arrived = time.time()
        deadline = time.monotonic() + settings.getfloat("NEWSARCHIVE_JOIN_TIMEOUT", 60)
        while True:
            run = {k.decode(): v.decode() for k, v in client.hgetall(p + "run").items()}
            # a run in progress, or one that ended while this worker was starting (it then has
            # nothing to do and ends at once)
            late = run.get("state") == "done" and float(run.get("started_epoch", 0)) >= arrived - 10
            if run.get("state") == "running" or (late and not settings.getbool("NEWSARCHIVE_CLUSTER_PLAN")):
                return cls(_plan_from(json.loads(run["plan"])), client, p, run["id"], seeds=False)
            if settings.getbool("NEWSARCHIVE_CLUSTER_PLAN") and client.set(p + "planning", "1", nx=True, ex=60):
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
        run = uuid.uuid4().hex
        pipe = client.pipeline(transaction=True)
        for name in ("articles", "seen", "requests", "newest", "newest_iso", "known_urls", "known_ids", "pages",
                     "errors", "robots_forbidden", "done"):
            pipe.delete(p + name)
        for name, values in (("known_urls", plan.known_urls), ("known_ids", plan.known_ids)):
            values = sorted(values)
            for i in range(0, len(values), 5000):
                pipe.sadd(p + name, *values[i:i + 5000])
        scalars = {"key": plan.key, "base": plan.base, "site": plan.site, "window": plan.window.total_seconds(),
                   "floor": plan.floor.isoformat() if plan.floor else None, "stop_at_known": plan.stop_at_known,
                   "newest_archived": plan.newest_archived.isoformat() if plan.newest_archived else None,
                   "resumed": plan.resumed}
        pipe.set(p + "seeding", run, ex=30)  # kept alive by the planner's heartbeat until its start is out
        pipe.hset(p + "run", mapping={"id": run, "plan": json.dumps(scalars), "state": "running",
                                      "started_at": dates.utc_now(), "started_epoch": time.time()})
        pipe.execute()
        cluster.push(client, {"type": "run", "event": "start", "run": run, "key": plan.key, "base": plan.base,
                              "since_bound": scalars["floor"], "started_at": dates.utc_now()})
        return cls(plan, client, p, run, seeds=True)

    def known(self, url: str, article_id: str | None) -> bool:
        pipe = self.client.pipeline(transaction=False)
        pipe.sismember(self.p + "known_urls", url)
        pipe.sismember(self.p + "known_ids", article_id or "")
        by_url, by_id = pipe.execute()
        return bool(by_url) or (article_id is not None and bool(by_id))

    def requested(self, url: str) -> bool:
        return bool(self.client.sismember(self.p + "articles", url))

    def claim(self, url: str) -> bool:
        return self.client.sadd(self.p + "articles", url) == 1

    def scheduled(self) -> int:
        return int(self.client.scard(self.p + "articles"))

    def done(self, request: Any) -> None:
        claim = request.meta.pop(cluster.CLAIM, None)
        if claim:
            self.client.hdel(self.p + "claims:" + cluster.WORKER, claim)

    def seeded(self) -> None:
        if self.seeds:
            self.client.delete(self.p + "seeding")

    def see(self, when: datetime) -> bool:
        return bool(self._max(keys=[self.p + "newest", self.p + "newest_iso"],
                              args=[when.timestamp(), when.isoformat()]))

    def newest(self) -> datetime | None:
        value = self.client.get(self.p + "newest_iso")
        return datetime.fromisoformat(value.decode()) if value else None


def _plan_from(data: dict[str, Any]) -> CrawlPlan:
    when = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
    return CrawlPlan(key=data["key"], base=data["base"], site=data["site"], floor=when(data["floor"]),
                     window=timedelta(seconds=data["window"]), stop_at_known=data["stop_at_known"],
                     newest_archived=when(data["newest_archived"]), resumed=data["resumed"])


# -- scheduler: scrapy-redis's, with claims ------------------------------------------------------------

class ClaimingQueue(PriorityQueue):
    """scrapy-redis's priority queue; a pop also records the request in the worker's claims."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.claims = key.rsplit(":", 1)[0] + ":claims:" + cluster.WORKER
        self._pop = server.register_script(cluster._POP_CLAIM)
        self._put_back = server.register_script(cluster._PUT_BACK)

    def pop(self, timeout: int = 0) -> Any:
        claim = uuid.uuid4().hex
        data = self._pop(keys=[self.key, self.claims], args=[claim])
        if data is None:
            return None
        request = self._decode_request(data)
        request.meta[cluster.CLAIM] = claim
        return request

    def put_back(self, claims_key: str | None = None) -> int:
        """Requests claimed (by this worker, or by a dead one) back into the queue."""
        return int(self._put_back(keys=[claims_key or self.claims, self.key]))


class ClusterScheduler(Scheduler):
    """scrapy-redis's scheduler on the run's keys, acknowledging claims."""

    def open(self, spider: Any) -> None:
        p = spider._frontier().p
        self.queue_key = p + "requests"
        self.queue_cls = "newsarchive.cluster_worker.ClaimingQueue"
        self.serializer = cluster.RequestSerializer
        self.df = RFPDupeFilter(self.server, key=p + "seen")
        self.persist = True  # the frontier outlives any one worker
        super().open(spider)

    def enqueue_request(self, request: Any) -> bool:
        # a retry or a redirect replaces a claimed request: once its successor is queued (or
        # filtered out), the claim is done
        holder = request.meta.pop(cluster.CLAIM, None)
        try:
            return super().enqueue_request(request)
        finally:
            if holder:
                self.server.hdel(self.queue.claims, holder)


def _scheduler(crawler: Any) -> ClusterScheduler:
    return crawler.engine._slot.scheduler


# -- acknowledging: a request is done when its callback or errback has run ----------------------------

class ClaimAck:
    """Spider middleware (the outermost): acknowledges a request's claim once everything its
    callback produced has been handed on (requests queued in Redis, items pushed), or when its
    callback failed; gives every request an errback that acknowledges."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClaimAck:
        if not crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured
        return cls(crawler)

    def _with_errback(self, result: Any, spider: Any) -> Any:
        from scrapy import Request

        if isinstance(result, Request) and result.errback is None:
            result.errback = spider.request_failed
        return result

    def process_start_requests(self, start_requests: Any, spider: Any) -> Any:
        for r in start_requests:
            yield self._with_errback(r, spider)

    async def process_start(self, start: Any) -> Any:
        spider = self.crawler.spider
        async for r in start:
            yield self._with_errback(r, spider)

    def process_spider_output(self, response: Any, result: Any, spider: Any) -> Any:
        for r in result:
            yield self._with_errback(r, spider)
        spider._frontier().done(response.request)

    async def process_spider_output_async(self, response: Any, result: Any, spider: Any) -> Any:
        async for r in result:
            yield self._with_errback(r, spider)
        spider._frontier().done(response.request)

    def process_spider_exception(self, response: Any, exception: Exception, spider: Any) -> None:
        spider._frontier().done(response.request)


# -- worker life: heartbeat, put back, the end of the run ----------------------------------------------

class ClusterWorker:
    """Extension: heartbeat; requests of dead workers (and its own, on a clean stop) put back;
    the run ends when the queue is empty and no live worker holds a claim."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.client = _client(crawler.settings)
        self.task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterWorker:
        if not crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    @property
    def p(self) -> str:
        return self.crawler.spider._frontier().p

    def beat(self) -> None:
        self.client.hset(self.p + "workers", cluster.WORKER, time.time())
        if self.crawler.spider._frontier().seeds:
            self.client.expire(self.p + "seeding", 30, xx=True)
        # a busy worker never idles: it looks for dead ones here too (their site places would
        # otherwise block its downloads until they expire)
        self.reclaim_dead()

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.beat()
        self.task = task.LoopingCall(self.beat)
        self.task.start(cluster.HEARTBEAT, now=False)

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        self.client.incr(self.p + "pages")

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        self.client.rpush(self.p + "errors", f"{getattr(response, 'url', '?')}: {failure.value}"[:500])

    def reclaim_dead(self) -> int:
        """Put back what dead workers had claimed."""
        queue = _scheduler(self.crawler).queue
        now, moved = time.time(), 0
        dead_after = self.crawler.settings.getfloat("NEWSARCHIVE_DEAD_AFTER", cluster.DEAD_AFTER)
        for worker, seen in self.client.hgetall(self.p + "workers").items():
            if now - float(seen) > dead_after:
                moved += queue.put_back(self.p + "claims:" + worker.decode())
                self.client.hdel(self.p + "workers", worker)
                # and the site places its downloads held (they would only expire with the timeout)
                for key in self.client.scan_iter(f"{cluster.PREFIX}:busy:*"):
                    held = [m for m in self.client.zrange(key, 0, -1) if m.startswith(worker + b"|")]
                    if held:
                        self.client.zrem(key, *held)
        return moved

    def busy_elsewhere(self) -> bool:
        me = cluster.WORKER
        for worker in self.client.hkeys(self.p + "workers"):
            if worker.decode() != me and self.client.hlen(self.p + "claims:" + worker.decode()):
                return True
        return False

    def running(self) -> bool:
        """Whether the run still has work: the planner still seeding, requests queued, or a live
        worker holding a claim (what it does may queue more)."""
        return bool(self.client.exists(self.p + "seeding") or len(_scheduler(self.crawler).queue)
                    or self.busy_elsewhere())

    def spider_idle(self, spider: Any) -> None:
        if self.reclaim_dead() or self.running():
            # more to come: look again soon (the engine's own heartbeat would wait 5 s)
            slot = getattr(self.crawler.engine, "_slot", None)
            if slot is not None and hasattr(slot, "nextcall"):
                slot.nextcall.schedule(0.2)
            raise DontCloseSpider
        self.finish(spider)

    def finish(self, spider: Any) -> None:
        """End the run (once, whichever worker gets here first): tell the writer."""
        if self.client.set(self.p + "done", "1", nx=True):
            errors = [e.decode() for e in self.client.lrange(self.p + "errors", 0, 50)]
            cluster.push(self.client, {
                "type": "run", "event": "finish", "run": spider._frontier().run, "finished_at": dates.utc_now(),
                "pages": int(self.client.get(self.p + "pages") or 0), "errors": errors,
                "robots_forbidden": int(self.crawler.stats.get_value("robotstxt/forbidden", 0) or 0)})
            self.client.hset(self.p + "run", "state", "done")

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.crawler.stats.set_value("newsarchive/outcome", "interrupted" if reason == "shutdown" else "success")
        if self.task is not None and self.task.running:
            self.task.stop()
        scheduler = _scheduler(self.crawler)
        scheduler.queue.put_back()  # cancelled in flight by a stop: back for the others
        self.client.hdel(self.p + "workers", cluster.WORKER)
        if reason != "shutdown" and not self.running():
            self.finish(spider)  # the last worker out ends the run, however the engine came to close


# -- politeness shared by the workers of a site ------------------------------------------------------

class SharedSitePoliteness:
    """Downloader middleware (the last before the download): one site's requests, whichever worker
    makes them, keep its delay (DOWNLOAD_DELAY, or robots.txt's Crawl-delay when longer) and its
    concurrency (CONCURRENT_REQUESTS_PER_DOMAIN) across the whole cluster, through Redis: a key
    holding the site's next free time, and a set of tokens held by downloads in progress (each
    released when its download ends, or expiring if its worker dies)."""

    TOKEN = "newsarchive_site_token"

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.client = _client(crawler.settings)
        self.delay = crawler.settings.getfloat("NEWSARCHIVE_SITE_DELAY")
        self.limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.ttl = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 30
        self._next = self.client.register_script(cluster._NEXT_SLOT)
        self._take = self.client.register_script(cluster._TAKE_TOKEN)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedSitePoliteness:
        if not crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured
        mw = cls(crawler)
        crawler.signals.connect(mw.release, signal=signals.request_left_downloader)
        return mw

    async def process_request(self, request: Any, spider: Any = None) -> None:
        import asyncio

        from .middlewares import _slot, min_delays

        slot, _ = _slot(self.crawler, request)
        token = f"{cluster.WORKER}|{uuid.uuid4().hex}"  # whose: a dead worker's places are freed
        while not self._take(keys=[f"{cluster.PREFIX}:busy:{slot}"], args=[self.limit, self.ttl, token]):
            await asyncio.sleep(0.05)
        request.meta[self.TOKEN] = (slot, token)
        delay = max(self.delay, min_delays(self.crawler).get(slot, 0.0))
        if delay > 0:
            key = f"{cluster.PREFIX}:delay:{slot}"
            while (wait := float(self._next(keys=[key], args=[delay]))) > 0:
                await asyncio.sleep(min(wait, delay))
        return None

    def release(self, request: Any, spider: Any = None) -> None:
        held = request.meta.pop(self.TOKEN, None)
        if held:
            slot, token = held
            self.client.zrem(f"{cluster.PREFIX}:busy:{slot}", token)


# -- items go to Redis ---------------------------------------------------------------------------------

class PushPipeline:
    """Extracts fetched pages (the CPU-heavy part stays on the workers) and pushes records, raw
    pages, failures and re-check results to the writer's list."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.client = _client(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> PushPipeline:
        if not crawler.settings.get("NEWSARCHIVE_REDIS") or crawler.spidercls.name != "onecms":
            raise NotConfigured
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        spider = spider or self.crawler.spider
        frontier = spider._frontier()
        kind = item.get("type") if isinstance(item, dict) else None
        base = {"run": frontier.run, "key": frontier.plan.key}
        if kind == "checked":
            cluster.push(self.client, {**base, "type": "checked", "url": item["url"], "fetched_at": item["fetched_at"],
                                       "headers": {k: v[0] for k, v in item["headers"].items() if v}})
            raise DropItem("not modified")
        if kind == "failed":
            cluster.push(self.client, {**base, "type": "failed", "url": item["url"], "error": item["error"]})
            raise DropItem(f"failed: {item['error']}")
        if kind != "page":
            return item
        try:
            record, page = page_record(item)  # as a local crawl extracts it
        except NotAnArticle as exc:
            cluster.push(self.client, {**base, "type": "failed", "url": item.get("request_url") or item["url"],
                                       "error": f"not an article: {exc}"})
            raise DropItem(f"not an article: {item['url']}") from exc
        except ExtractorError as exc:  # a parser bug: a failure the next run asks for again
            cluster.push(self.client, {**base, "type": "failed", "url": item.get("request_url") or item["url"],
                                       "error": f"extractor error: {exc.parser}.{exc.field}: {exc.error}"})
            raise DropItem(str(exc)) from exc
        cluster.push(self.client, {**base, "type": "page", "record": record, "request_url": item.get("request_url"),
                                   "page": cluster.encode_page(page)})
        self.crawler.stats.inc_value("newsarchive/pushed")
        return record
