"""Every private Scrapy (and scrapy-redis) internal newsarchive relies on, reached from here only.

Scrapy's public API has no hook for what an archiving bot needs in a few places: an unreadable
robots.txt must mean "disallow" (Scrapy allows), robots.txt's Crawl-delay and Retry-After must
steer a site's download slot, Ctrl-C must drop requests waiting in the slots, a cluster worker must
look into the scheduler. Each of those leans on a private name. An override of a method that a new
Scrapy renamed would silently stop being called (robots 5xx = allow again), so this module checks,
when it is imported, that every such name still exists where it is expected, and raises
``CompatError`` naming what is missing otherwise. ``pyproject.toml`` pins the ranges tested
(``bench/newest_scrapy.sh`` runs the politeness tests against the newest Scrapy on PyPI).
"""

from __future__ import annotations

import inspect
from typing import Any

from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.extensions.throttle import AutoThrottle


class CompatError(ImportError):
    """The installed Scrapy (or scrapy-redis) lacks an internal newsarchive overrides or reads."""


# (class, method names we override or call, coroutine methods among them, attributes set in __init__)
SCRAPY_HOOKS: list[tuple[type, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    # robots.txt: 5xx/timeouts disallow, per-waiter results, Crawl-delay (middlewares.StrictRobotsTxtMiddleware)
    (RobotsTxtMiddleware, ("_parse_robots", "robot_parser", "_robots_error", "process_request_2"),
     ("_parse_robots", "robot_parser"),
     ("_parsers", "_parserimpl", "_default_useragent", "_robotstxt_useragent", "_stats", "crawler")),
    # redirects kept within the site (middlewares._SiteRedirects)
    (RedirectMiddleware, ("_redirect",), (), ()),
    (MetaRefreshMiddleware, ("_redirect",), (), ()),
    (RetryMiddleware, ("process_response", "process_exception"), (), ()),
    # Crawl-delay as AutoThrottle's floor (middlewares.PoliteAutoThrottle)
    (AutoThrottle, ("_adjust_delay",), (), ()),
    # download slots: Crawl-delay, Retry-After, Ctrl-C (drop what waits), the concurrency gate
    (Downloader, ("get_slot_key",), (), ("slots", "per_slot_settings", "active")),
    (Slot, ("close",), (), ("delay", "lastseen", "jitter", "queue", "transferring")),
    # the engine's slot: queue length for progress, the scheduler for a cluster worker, its next call
    (ExecutionEngine, ("close_spider_async",), ("close_spider_async",), ("_slot",)),
]


def _missing(cls: type, methods: tuple[str, ...], coroutines: tuple[str, ...], attrs: tuple[str, ...]) -> list[str]:
    where = f"{cls.__module__}.{cls.__qualname__}"
    out = [f"{where}.{m}()" for m in methods if not callable(getattr(cls, m, None))]
    out += [f"{where}.{m}() as a coroutine" for m in coroutines
            if callable(getattr(cls, m, None)) and not inspect.iscoroutinefunction(getattr(cls, m))]
    init = getattr(cls, "__init__", None)
    names = set(getattr(getattr(init, "__code__", None), "co_names", ()))
    out += [f"{where}.{a} (set in __init__)" for a in attrs if a not in names]
    return out


def check(hooks: list[tuple[type, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] | None = None) -> None:
    """Raise CompatError unless every hook exists (called when this module is imported)."""
    missing = [m for entry in (SCRAPY_HOOKS if hooks is None else hooks) for m in _missing(*entry)]
    if missing:
        import scrapy

        raise CompatError(f"newsarchive does not support Scrapy {scrapy.__version__}: it relies on "
                          + ", ".join(missing) + " (see newsarchive/crawl/compat.py and pyproject.toml)")


def check_scrapy_redis() -> None:
    """The same for scrapy-redis (a cluster worker imports this; a local crawl never does)."""
    from scrapy_redis.dupefilter import RFPDupeFilter
    from scrapy_redis.queue import Base, PriorityQueue
    from scrapy_redis.scheduler import Scheduler

    hooks = [(Base, ("_decode_request", "_encode_request"), (), ()),
             (PriorityQueue, ("pop", "push", "__len__"), (), ()),
             (Scheduler, ("open", "enqueue_request"), (),
              ("queue_key", "queue_cls", "serializer", "df", "persist", "server", "stats")),
             # the cluster's enqueue script is handed the filter's fingerprint and key (cluster/worker.py)
             (RFPDupeFilter, ("request_fingerprint", "log"), (), ("key", "server"))]
    missing = [m for entry in hooks for m in _missing(*entry)]
    missing += [f"scrapy_redis.scheduler.Scheduler.{a} (set in open)" for a in ("queue", "spider")
                if a not in Scheduler.open.__code__.co_names]
    if missing:
        raise CompatError("newsarchive does not support this scrapy-redis: it relies on " + ", ".join(missing))


check()


# -- the accessors: the rest of newsarchive goes through these -------------------------------------------

def stop_crawl(crawler: Any, reason: str) -> None:
    """Close the spider with ``reason`` (Scrapy 2.14 made this a coroutine)."""
    from scrapy.utils.defer import deferred_from_coro

    deferred_from_coro(crawler.engine.close_spider_async(reason=reason))


def engine_slot(crawler: Any) -> Any:
    """The engine's private slot (its scheduler, its next call), or None before the spider opened."""
    engine = getattr(crawler, "engine", None)
    return getattr(engine, "_slot", None) if engine is not None else None


def scheduler(crawler: Any) -> Any:
    slot = engine_slot(crawler)
    return slot.scheduler if slot is not None else None


def wake_soon(crawler: Any, delay: float = 0.2) -> None:
    """Have the engine look for work again after ``delay`` (its own heartbeat waits 5 s)."""
    slot = engine_slot(crawler)
    if slot is not None and hasattr(slot, "nextcall"):
        slot.nextcall.schedule(delay)


def download_slots(crawler: Any) -> dict[str, Any]:
    return crawler.engine.downloader.slots


def download_slot(crawler: Any, request: Any) -> tuple[str, Any]:
    """(key, slot) of the download slot a request goes through (the slot may not exist yet)."""
    downloader = crawler.engine.downloader
    key = request.meta.get("download_slot") or downloader.get_slot_key(request)
    return key, downloader.slots.get(key)


def slot_settings(crawler: Any, key: str) -> dict[str, Any]:
    """Settings a download slot is created with (delay, jitter): kept for slots not created yet."""
    return crawler.engine.downloader.per_slot_settings.setdefault(key, {})


def in_downloader(crawler: Any) -> list[Any]:
    """Requests in the downloader now."""
    return list(getattr(getattr(crawler.engine, "downloader", None), "active", ()) or ())


def floor_slot_delay(crawler: Any, request: Any, delay: float) -> None:
    """A site's least delay (robots.txt Crawl-delay) on its download slot, now and when created,
    without random jitter below it."""
    key, slot = download_slot(crawler, request)
    slot_settings(crawler, key).update(delay=float(delay), jitter=0)
    if slot is not None:
        slot.jitter = 0
        slot.delay = max(slot.delay, float(delay))


def pause_slot(crawler: Any, request: Any, wait: float, floor: float) -> bool:
    """Nothing more to the request's site for ``wait`` seconds (Retry-After). The downloader only
    waits on slots with a delay: give it one, then push the slot's last request time into the
    future (by the whole wait: the delay it adds is randomised, and may be shorter)."""
    import time

    _, slot = download_slot(crawler, request)
    if slot is None:
        return False
    slot.delay = max(slot.delay, floor, 0.001)
    slot.lastseen = max(slot.lastseen, time.monotonic() + wait)
    return True


def drain_download_slots(crawler: Any, error: BaseException) -> int:
    """Requests waiting in the download slots (for a delay or a place) fail with ``error`` now, and
    no slot takes another; returns how many are still being transferred."""
    slots = download_slots(crawler)
    for slot in list(slots.values()):
        slot.close()  # no delayed call to take the next request
        while slot.queue:
            _, waiting = slot.queue.popleft()
            waiting.errback(error)
    return sum(len(slot.transferring) for slot in slots.values())


def slot_is(crawler: Any, key: str, slot: Any) -> bool:
    return download_slots(crawler).get(key) is slot
