"""The Scrapy components of a cluster worker, registered in the project's settings like every other
and off (NotConfigured) unless ``NEWSARCHIVE_REDIS`` is set; no Redis code is imported before.

A worker pushes what it fetched and extracted (records, raw pages, 304s, failures, media files) to
the one archive writer (``newsarchive ingest``) through Redis; see docs/cluster.md.
"""

from __future__ import annotations

import base64
import time
import uuid
import zlib
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, DropItem, NotConfigured

from .. import dates
from ..crawl import compat
from ..crawl.items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified
from . import protocol

MEDIA_SETTLED = f"{protocol.PREFIX}:media:settled"  # media URLs the writer holds or gave up on
CLAIMED = "newsarchive_run_key"  # request.meta: the article claim a request holds (spiders.onecms.CLAIMED)


def _enabled(crawler: Any) -> bool:
    return bool(crawler.settings.get("NEWSARCHIVE_REDIS")) and getattr(crawler.spidercls, "archives", False)


def _client(crawler: Any) -> Any:
    return protocol.connect(crawler.settings.get("NEWSARCHIVE_REDIS"))


def _done(what: str) -> DropItem:
    return DropItem(what, log_level="DEBUG")  # handed to the writer: not exported, not a warning


# -- acknowledging: a request is done when its callback or errback has run ----------------------------

class ClaimAck:
    """Spider middleware (the outermost): acknowledges a request's claim once everything its
    callback produced has been handed on (requests queued in Redis, items pushed), or when its
    callback failed; gives every request an errback that acknowledges."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClaimAck:
        if not _enabled(crawler):
            raise NotConfigured
        return cls(crawler)

    def _with_errback(self, result: Any, spider: Any) -> Any:
        from scrapy import Request

        if isinstance(result, Request) and result.errback is None:
            result.errback = self.failed
        return result

    def failed(self, failure: Any) -> None:
        """The errback of a request that had none: its claim is done."""
        self.crawler.spider.frontier.done(failure.request)

    def _settled(self, out: list[Any]) -> list[Any]:
        """A callback's output once its article claims are confirmed (one round trip for the page):
        a request whose article another worker claimed first is dropped."""
        from scrapy import Request

        lost = self.crawler.spider.frontier.settle()
        return [r for r in out if not (isinstance(r, Request) and r.meta.get(CLAIMED) in lost)]

    async def process_start(self, start: Any) -> Any:
        spider = self.crawler.spider
        async for r in start:
            for kept in self._settled([r]):
                yield self._with_errback(kept, spider)

    def process_spider_output(self, response: Any, result: Any, spider: Any = None) -> Any:
        spider = self.crawler.spider
        for r in self._settled(list(result)):
            yield self._with_errback(r, spider)
        spider.frontier.done(response.request)

    async def process_spider_output_async(self, response: Any, result: Any, spider: Any = None) -> Any:
        spider = self.crawler.spider
        for r in self._settled([r async for r in result]):
            yield self._with_errback(r, spider)
        spider.frontier.done(response.request)

    def process_spider_exception(self, response: Any, exception: Exception, spider: Any = None) -> None:
        self.crawler.spider.frontier.done(response.request)


# -- worker life: heartbeat, put back, the end of the run ----------------------------------------------

class ClusterWorker:
    """Extension: heartbeat; requests of dead workers (and its own, on a clean stop) put back;
    the run ends when the queue is empty and no live worker holds a claim."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.client = _client(crawler)
        self.task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ClusterWorker:
        if not _enabled(crawler):
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    @property
    def frontier(self) -> Any:
        return self.crawler.spider.frontier

    @property
    def p(self) -> str:
        return self.frontier.p

    def queue(self) -> Any:
        return compat.scheduler(self.crawler).queue

    def beat(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.p + "workers", protocol.WORKER, time.time())
        if self.frontier.seeds:
            pipe.expire(self.p + "seeding", 30, xx=True)
        pipe.execute()
        self.frontier.flush_pages()
        # a busy worker never idles: it looks for dead ones here too (their site places would
        # otherwise block its downloads until they expire)
        self.reclaim_dead()

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        self.beat()
        self.task = task.LoopingCall(self.beat)
        self.task.start(protocol.HEARTBEAT, now=False)

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        self.frontier.pages += 1  # added to the run's count with the request's ack (or the heartbeat)

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        self.client.rpush(self.p + "errors", f"{getattr(response, 'url', '?')}: {failure.value}"[:500])

    def reclaim_dead(self) -> int:
        """Put back what dead workers had claimed."""
        queue = self.queue()
        now, moved = time.time(), 0
        dead_after = self.crawler.settings.getfloat("NEWSARCHIVE_DEAD_AFTER", protocol.DEAD_AFTER)
        for worker, seen in self.client.hgetall(self.p + "workers").items():
            if now - float(seen) > dead_after:
                moved += queue.put_back(self.p + "claims:" + worker.decode())
                self.client.hdel(self.p + "workers", worker)
                # and the site places its downloads held (they would only expire with the timeout)
                for key in self.client.scan_iter(f"{protocol.PREFIX}:busy:*"):
                    held = [m for m in self.client.zrange(key, 0, -1) if m.startswith(worker + b"|")]
                    if held:
                        self.client.zrem(key, *held)
        return moved

    def busy_elsewhere(self) -> bool:
        me = protocol.WORKER
        for worker in self.client.hkeys(self.p + "workers"):
            if worker.decode() != me and self.client.hlen(self.p + "claims:" + worker.decode()):
                return True
        return False

    def running(self) -> bool:
        """Whether the run still has work: the planner still seeding, requests queued, or a live
        worker holding a claim (what it does may queue more)."""
        return bool(self.client.exists(self.p + "seeding") or len(self.queue()) or self.busy_elsewhere())

    def spider_idle(self, spider: Any) -> None:
        self.frontier.flush_pages()
        if self.reclaim_dead() or self.running():
            compat.wake_soon(self.crawler)  # more to come: look again soon
            raise DontCloseSpider
        self.finish()

    def finish(self) -> None:
        """End the run (once, whichever worker gets here first): tell the writer."""
        self.frontier.flush_pages()
        if self.client.set(self.p + "done", "1", nx=True):
            errors = [e.decode() for e in self.client.lrange(self.p + "errors", 0, 50)]
            protocol.push(self.client, {
                "type": "run", "event": "finish", "run": self.frontier.run, "finished_at": dates.utc_now(),
                "pages": int(self.client.get(self.p + "pages") or 0), "errors": errors,
                "robots_forbidden": int(self.crawler.stats.get_value("robotstxt/forbidden", 0) or 0)})
            self.client.hset(self.p + "run", "state", "done")

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.crawler.stats.set_value("newsarchive/outcome", "interrupted" if reason == "shutdown" else "success")
        if self.task is not None and self.task.running:
            self.task.stop()
        self.queue().put_back()  # cancelled in flight by a stop: back for the others
        self.frontier.flush_pages()
        self.client.hdel(self.p + "workers", protocol.WORKER)
        if reason != "shutdown" and not self.running():
            self.finish()  # the last worker out ends the run, however the engine came to close


# -- politeness shared by the workers of a site ------------------------------------------------------

class SharedSitePoliteness:
    """Downloader middleware (the last before the download): one site's requests, whichever worker
    makes them, keep its delay (DOWNLOAD_DELAY, or robots.txt's Crawl-delay when longer) and its
    concurrency (CONCURRENT_REQUESTS_PER_DOMAIN) across the whole cluster, through Redis: a key
    holding the site's next free time, and a set of tokens held by downloads in progress (each
    released when its download ends, or expiring if its worker dies).

    One round trip takes a place and, with a delay, the site's next time. Without a delay (only
    places to count) it goes through Redis' asyncio client, so a download waiting for its place does
    not hold the reactor; a release is sent without waiting for the answer. A place this worker
    still holds when its request never reached the network (a stop, an error while waiting) is given
    back at once, not at its expiry."""

    TOKEN = "newsarchive_site_token"
    FULL_POLL = (0.005, 0.05)  # seconds between looks at a full site: first, then at most

    def __init__(self, crawler: Any) -> None:
        import redis.asyncio

        self.crawler = crawler
        self.client = _client(crawler)
        self.aclient = redis.asyncio.Redis.from_url(crawler.settings.get("NEWSARCHIVE_REDIS"),
                                                    socket_connect_timeout=5, socket_timeout=30)
        self.delay = crawler.settings.getfloat("NEWSARCHIVE_SITE_DELAY")
        self.limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        self.ttl = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 30
        self._take = self.aclient.register_script(protocol.script("take_token"))
        # with a delay, the site's time is taken by a blocking call, so that the request leaves at
        # once when it has its time (an answer waiting for a busy reactor would send it late, and
        # the next worker's request, on time, less than the delay after it)
        self._take_now = self.client.register_script(protocol.script("take_token"))
        self._next_now = self.client.register_script(protocol.script("next_slot"))
        self.held: dict[str, str] = {}  # token -> slot: places taken and not yet known released
        self._releasing: set[Any] = set()  # release tasks in flight (kept from the garbage collector)

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedSitePoliteness:
        if not crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured
        mw = cls(crawler)
        crawler.signals.connect(mw.release, signal=signals.request_left_downloader)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    @staticmethod
    def busy_key(slot: str) -> str:
        return f"{protocol.PREFIX}:busy:{slot}"

    async def process_request(self, request: Any, spider: Any = None) -> None:
        import asyncio

        from ..crawl.middlewares import min_delays

        slot, _ = compat.download_slot(self.crawler, request)
        token = f"{protocol.WORKER}|{uuid.uuid4().hex}"  # whose: a dead worker's places are freed
        delay = max(self.delay, min_delays(self.crawler).get(slot, 0.0))
        busy, pause = self.busy_key(slot), self.FULL_POLL[0]
        self.held[token] = slot  # (before the ask: a stop while it is on its way frees it too)
        keys, args = [busy, f"{protocol.PREFIX}:delay:{slot}"], [self.limit, self.ttl, token, delay]
        try:
            while (wait := float(self._take_now(keys=keys, args=args) if delay > 0
                                 else await self._take(keys=keys, args=args))) < 0:
                await asyncio.sleep(pause)  # the site's places are all held: look again soon
                pause = min(pause * 2, self.FULL_POLL[1])
            while wait > 0:
                await asyncio.sleep(min(wait, delay))
                wait = float(self._next_now(keys=keys[1:], args=[delay]))
        except BaseException:  # an error or a cancellation before the download: the place is given back
            self.held.pop(token, None)
            self.client.zrem(busy, token)
            raise
        request.meta[self.TOKEN] = (slot, token)
        return None

    def release(self, request: Any, spider: Any = None) -> None:
        import asyncio

        held = request.meta.pop(self.TOKEN, None)
        if not held:
            return
        slot, token = held
        task = asyncio.ensure_future(self.aclient.zrem(self.busy_key(slot), token))
        self._releasing.add(task)
        task.add_done_callback(lambda t: self._released(t, token))

    def _released(self, task: Any, token: str) -> None:
        self._releasing.discard(task)
        if not task.cancelled() and task.exception() is None:
            self.held.pop(token, None)  # (a failed release is retried at close, or expires)

    def spider_closed(self, spider: Any = None, reason: str = "") -> None:
        """Every place this worker still holds goes back: requests queued in the downloader that a
        stop left unsent, releases still on their way."""
        import asyncio

        pipe = self.client.pipeline(transaction=False)
        for token, slot in self.held.items():
            pipe.zrem(self.busy_key(slot), token)
        pipe.execute()
        self.held.clear()
        try:  # and the asyncio client's connections close with the reactor's loop still running
            task = asyncio.get_running_loop().create_task(self.aclient.aclose())
        except RuntimeError:  # no loop runs (the reactor is gone): the process is ending anyway
            return
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)


# -- items go to Redis ---------------------------------------------------------------------------------

class PushPipeline:
    """Extracts fetched pages (the CPU-heavy part stays on the workers) and pushes records, raw
    pages, media references and files, failures and re-check results to the writer's list. Media
    already held (or given up on) by the writer are not asked for again: the writer keeps their
    URLs in a Redis set (``newsarchive:media:settled``), one look-up per article."""

    def __init__(self, crawler: Any) -> None:
        from ..crawl.plan import media_enabled

        self.crawler = crawler
        self.client = _client(crawler)
        spider = crawler.spider
        self.media = media_enabled(crawler.settings, spider.plan.base)
        self.media_video = crawler.settings.getbool("NEWSARCHIVE_MEDIA_VIDEO")

    @classmethod
    def from_crawler(cls, crawler: Any) -> PushPipeline:
        if not _enabled(crawler):
            raise NotConfigured
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        frontier = self.crawler.spider.frontier
        base = {"run": frontier.run, "key": frontier.plan.key}
        stats = self.crawler.stats
        if isinstance(item, NotModified):
            protocol.push(self.client, {**base, "type": "checked", "url": item.url, "fetched_at": item.fetched_at,
                                        "headers": {k: v[0] for k, v in item.headers.items() if v}})
            raise _done("not modified")
        if isinstance(item, FetchFailed):
            protocol.push(self.client, {**base, "type": "failed", "url": item.url, "error": item.error})
            raise _done(f"failed: {item.error}")
        if isinstance(item, MediaFile):
            self.push_media(item, base)
            raise _done("media sent to the writer")
        if isinstance(item, MediaFailed):
            protocol.push(self.client, {**base, "type": "media_failed", "url": item.url, "site": item.site,
                                        "error": item.error})
            stats.inc_value("newsarchive/media_failed")
            raise _done(f"media not archived: {item.error}")
        if not isinstance(item, FetchedPage):
            return item
        from ..crawl.writer import page_record
        from ..extract import ExtractorError, NotAnArticle
        from ..media import references

        asked = item.request_url or item.url
        try:
            record, page = page_record(item)  # as a local crawl extracts it
        except NotAnArticle as exc:
            protocol.push(self.client, {**base, "type": "failed", "url": asked, "error": f"not an article: {exc}"})
            raise _done(f"not an article: {item.url}") from exc
        except ExtractorError as exc:  # a parser bug: a failure the next run asks for again
            protocol.push(self.client, {**base, "type": "failed", "url": asked,
                                        "error": f"extractor error: {exc.parser}.{exc.field}: {exc.error}"})
            raise _done(str(exc)) from exc
        refs = references(record, item.body, item.url, video=self.media_video) if self.media else []
        out = {**base, "type": "page", "record": record, "request_url": item.request_url,
               "page": protocol.encode_page(page)}
        if self.media:
            out["refs"] = [[r.url, r.role] for r in refs]
        pipe = self.client.pipeline(transaction=False)  # the push and the media look-up: one round trip
        protocol.push(pipe, out)
        if refs:
            pipe.smismember(MEDIA_SETTLED, [r.url for r in refs])
        answers = pipe.execute()
        stats.inc_value("newsarchive/pushed")
        if refs:
            self.want_media(refs, frontier.plan.key, answers[1])
        return record

    def want_media(self, refs: list[Any], key: str, settled: list[Any]) -> None:
        """Media requests for the references the writer holds nothing of (``settled``: the
        answers of SMISMEMBER on the writer's set)."""
        stats = self.crawler.stats
        spider = self.crawler.spider
        stats.inc_value("newsarchive/media_refs", len(refs))
        for ref, done in zip(refs, settled, strict=True):
            if done:
                stats.inc_value("newsarchive/media_held_already")
            else:
                self.crawler.engine.crawl(spider.media_request(ref, key))

    def push_media(self, item: MediaFile, base: dict[str, Any]) -> None:
        from ..crawl.writer import content_type
        from ..media import Rejected, measure

        try:  # not what it claims to be (an HTML error page as .jpg): said here, not carried to the writer
            measure(item.body, item.kind, content_type(item.headers))
        except Rejected as exc:
            protocol.push(self.client, {**base, "type": "media_failed", "url": item.url, "site": item.site,
                                        "error": f"not stored: {exc}"})
            self.crawler.stats.inc_value("newsarchive/media_failed")
            return
        protocol.push(self.client, {
            **base, "type": "media", "url": item.url, "request_url": item.request_url, "kind": item.kind,
            "site": item.site, "status": item.status, "headers": item.headers, "fetched_at": item.fetched_at,
            "body_z": base64.b64encode(zlib.compress(item.body, 6)).decode("ascii")})
        self.crawler.stats.inc_value("newsarchive/media_pushed")
