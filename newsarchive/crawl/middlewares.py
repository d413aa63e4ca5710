"""Downloader middlewares where Scrapy's defaults are too trusting for an archiving bot.

The methods overridden here that are private to Scrapy are checked to exist by ``compat`` (imported
first): a renamed hook fails the import instead of silently restoring Scrapy's behaviour."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

from ..urls import same_site
from . import compat
from .compat import AutoThrottle, MetaRefreshMiddleware, RedirectMiddleware, RetryMiddleware, RobotsTxtMiddleware

ROBOTS_DENIED = "Forbidden by robots.txt"
ROBOTS_UNAVAILABLE = "robots.txt unavailable"
REDIRECT_REFUSED = "redirect to another site refused"
DISCOVERY_DONE = "the run has all the articles --max-articles allows"
STOPPING = "the crawl is stopping"  # a request dropped by Ctrl-C/SIGTERM: the next run resumes, not a failure


class DiscoveryBound:
    """Downloader middleware: once a run has requested all the articles ``--max-articles``
    allows, discovery pages still queued (listings, API pages, feeds, sitemaps) are not fetched."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> DiscoveryBound:
        if not callable(getattr(crawler.spidercls, "full", None)):
            raise NotConfigured  # a spider with no article bound (url)
        return cls(crawler)

    def process_request(self, request: Any, spider: Any = None) -> None:
        if request.meta.get("discovery") and self.crawler.spider.full():
            raise IgnoreRequest(DISCOVERY_DONE)
        return None


class _DenyAll:
    """The robots policy when robots.txt cannot be read: a server error or a timeout is not
    permission."""

    def __init__(self, reason: str, network: bool) -> None:
        self.reason = reason
        self.network = network  # the host itself could not be reached

    def allowed(self, url: str, user_agent: Any) -> bool:
        return False

    def crawl_delay(self, user_agent: Any) -> None:
        return None


def _unreachable() -> tuple[type[BaseException], ...]:
    """Errors meaning the host could not be connected to (a timeout is not one: it answered)."""
    import scrapy.exceptions
    from twisted.internet.error import ConnectError  # DNS lookup, refused, no route…

    names = ("DownloadConnectionRefusedError", "CannotResolveHostError")  # Scrapy 2.14+ wraps them
    return (ConnectError, *(getattr(scrapy.exceptions, n) for n in names if hasattr(scrapy.exceptions, n)))


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt obeyed, and an unreadable robots.txt (5xx, timeout, refused) means "disallow".
    A 4xx robots.txt means there is none, so everything is allowed (RFC 9309)."""

    async def _parse_robots(self, response: Response, netloc: str, request: Any) -> None:
        if response.status >= 400:  # (the parent counts the others)
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500 and self._media_host(netloc):
            self.crawler.stats.set_value(f"newsarchive/media_robots/{netloc}", f"HTTP {response.status}")
            self._set(netloc, _DenyAll(f"HTTP {response.status}", network=False))
            return
        if response.status >= 500:
            self.crawler.stats.set_value("newsarchive/robots_unreadable", f"{netloc}: HTTP {response.status}")
            self._set(netloc, _DenyAll(f"HTTP {response.status}", network=False))
            return
        if 400 <= response.status < 500:
            self._set(netloc, build_from_crawler(self._parserimpl, self.crawler, b""))
            return
        await super()._parse_robots(response, netloc, request)

    async def robot_parser(self, request: Any) -> Any:
        """Scrapy's hands the robots.txt still being fetched to every request waiting for it by
        awaiting one shared Deferred: the first waiter consumes its result and the others get None,
        which means "allowed" (seen with media: many requests reach a new host at once). Each
        waiter here gets its own Deferred, relayed from the shared one."""
        from scrapy.utils.defer import maybe_deferred_to_future
        from scrapy.utils.httpobj import urlparse_cached
        from twisted.internet.defer import Deferred

        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            mine: Deferred[Any] = Deferred()

            def relay(result: Any) -> Any:
                mine.callback(result)
                return result

            pending.addBoth(relay)
            return await maybe_deferred_to_future(mine)
        return await super().robot_parser(request)

    def _media_host(self, netloc: str) -> bool:
        """Only media requests reach a host other than the crawled site's (page links to other
        hosts are never followed, redirects to them never fetched)."""
        base = getattr(self.crawler.spider, "base", None)
        return isinstance(base, str) and not same_site(f"http://{netloc}/", base)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if self._media_host(netloc):  # the media host's: its files are not fetched (recorded per file)
            reason = str(exc) or type(exc).__name__
            self.crawler.stats.set_value(f"newsarchive/media_robots/{netloc}", reason)
            self._set(netloc, _DenyAll(reason, network=not isinstance(exc, IgnoreRequest)))
            return
        self.crawler.stats.inc_value("robotstxt/unavailable")
        network = not isinstance(exc, IgnoreRequest)
        reason = str(exc) or type(exc).__name__
        if type(exc).__name__ == "DownloadCancelledError" and not str(exc):  # Scrapy's size limit, unworded
            reason = f"larger than DOWNLOAD_MAXSIZE ({self.crawler.settings.getint('DOWNLOAD_MAXSIZE')} bytes)"
        self.crawler.stats.set_value("newsarchive/robots_unreadable", f"{netloc}: {reason}")
        if isinstance(exc, _unreachable()):  # no connection at all (refused, no such name, no route)
            self.crawler.stats.set_value("newsarchive/unreachable", f"{netloc}: {reason}")
        self._set(netloc, _DenyAll(reason, network=network))

    def _set(self, netloc: str, parser: Any) -> None:
        pending = self._parsers[netloc]
        self._parsers[netloc] = parser
        if hasattr(pending, "callback"):
            pending.callback(parser)

    def process_request_2(self, rp: Any, request: Any) -> None:
        if isinstance(rp, _DenyAll):
            self.crawler.stats.inc_value("robotstxt/forbidden")
            kind = "network" if rp.network else "policy"
            raise IgnoreRequest(f"{ROBOTS_UNAVAILABLE} ({kind}): {rp.reason}")
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise IgnoreRequest(ROBOTS_DENIED) from exc


class _SiteRedirects:
    """A crawl of a site follows redirects only within it (same host, www.-variants, http and https):
    a hop to another host is never fetched; the request fails with the reason, which the spider
    records as that article's failure. A spider with no ``base`` (a one-off scrape) is not bound."""

    crawler: Any

    def _redirect(self, redirected: Any, request: Any, reason: Any) -> Any:
        base = getattr(self.crawler.spider, "base", None)
        if request.meta.get("media"):  # a media file: within its own host (the guard judges each hop)
            base = (request.meta.get("redirect_urls") or [request.url])[0]
        if isinstance(base, str) and not same_site(redirected.url, base):
            self.crawler.stats.inc_value("newsarchive/redirects_refused")
            raise IgnoreRequest(f"{REDIRECT_REFUSED}: {request.url} -> {redirected.url}")
        return super()._redirect(redirected, request, reason)  # type: ignore[misc]


class SiteRedirectMiddleware(_SiteRedirects, RedirectMiddleware):
    pass


class SiteMetaRefreshMiddleware(_SiteRedirects, MetaRefreshMiddleware):
    pass


def min_delays(crawler: Any) -> dict[str, float]:
    """Per download slot, the least delay a site asked for (robots.txt Crawl-delay)."""
    if not hasattr(crawler, "_newsarchive_min_delays"):
        crawler._newsarchive_min_delays = {}
    return crawler._newsarchive_min_delays


def drop_queued(crawler: Any) -> int:
    """Ctrl-C or SIGTERM: requests waiting in the downloader for a site's delay (Crawl-delay,
    Retry-After) or for a place leave at once, instead of keeping the crawl alive for minutes;
    returns how many are still being transferred (those finish, within DOWNLOAD_TIMEOUT)."""
    in_flight = compat.drain_download_slots(crawler, IgnoreRequest(STOPPING))
    gate = crawler.get_downloader_middleware(SiteConcurrencyGate)  # (None in a cluster worker)
    if gate is not None:
        gate.stop()
    return in_flight


class CrawlDelayMixin:
    """robots.txt ``Crawl-delay`` becomes the least delay of the site's download slot (Scrapy
    itself ignores it)."""

    crawler: Any

    def apply_crawl_delay(self, rp: Any, request: Any) -> None:
        try:
            delay = rp.crawl_delay(self._robotstxt_useragent or self._default_useragent)  # type: ignore[attr-defined]
        except Exception:  # a parser without crawl-delay support
            delay = None
        if not delay:
            return
        cap = self.crawler.settings.getfloat("NEWSARCHIVE_MAX_CRAWL_DELAY", 60.0)
        if delay > cap:  # a day-long Crawl-delay would stall the run (and its Ctrl-C): capped, and counted
            self.crawler.stats.set_value("newsarchive/crawl_delay_capped", f"{delay} s asked, {cap} s kept")
            delay = cap
        key, _ = compat.download_slot(self.crawler, request)
        min_delays(self.crawler)[key] = float(delay)
        compat.floor_slot_delay(self.crawler, request, float(delay))


class PoliteRobotsTxtMiddleware(CrawlDelayMixin, StrictRobotsTxtMiddleware):
    def process_request_2(self, rp: Any, request: Any) -> None:
        super().process_request_2(rp, request)
        if rp is not None and not isinstance(rp, _DenyAll):
            self.apply_crawl_delay(rp, request)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """``Retry-After``: delta seconds or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Retries with backoff, and ``Retry-After`` honoured on 429 and 503: the site's download slot
    pauses for that long before anything else is sent to it (the retry included). A wait longer
    than ``NEWSARCHIVE_MAX_RETRY_AFTER`` (120 s) gives up for this run: the next run retries."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("NEWSARCHIVE_MAX_RETRY_AFTER", 120.0)

    def process_exception(self, request: Any, exception: Exception, spider: Any = None) -> Any:
        from ..netguard import refusal_of

        if refusal_of(request.url):  # the address guard said no: asking again cannot change that
            return None
        return super().process_exception(request, exception)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if response.status in (429, 503) and not request.meta.get("dont_retry", False):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is not None:
                if wait > self.max_wait:
                    return response
                key, _ = compat.download_slot(self.crawler, request)
                compat.pause_slot(self.crawler, request, wait, min_delays(self.crawler).get(key, 0.0))
                self.crawler.stats.inc_value("newsarchive/retry_after")
        return super().process_response(request, response)


class PoliteAutoThrottle(AutoThrottle):
    """AutoThrottle that never goes below a site's robots.txt Crawl-delay."""

    def _adjust_delay(self, slot: Any, latency: float, response: Any) -> None:
        super()._adjust_delay(slot, latency, response)
        for key, floor in min_delays(self.crawler).items():
            if compat.slot_is(self.crawler, key, slot) and slot.delay < floor:
                slot.delay = floor


class SiteConcurrencyGate:
    """Downloader middleware (the last before the download): at most CONCURRENT_REQUESTS_PER_DOMAIN
    requests of one site in the downloader at once. Scrapy 2.19's downloader, with no download
    delay, hands a whole queued burst to the network before counting any of it as transferring
    (15 requests at once for a limit of 1, measured); this gate holds each request until one of
    the site's places is free, and frees it when the download ends. (A cluster worker uses the
    same limit across workers, in Redis: newsarchive.cluster.worker.SharedSitePoliteness.)"""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.limit = max(1, crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self.gates: dict[str, Any] = {}
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> SiteConcurrencyGate:
        from scrapy import signals

        if crawler.settings.get("NEWSARCHIVE_REDIS"):
            raise NotConfigured
        gate = cls(crawler)
        crawler.signals.connect(gate.release, signal=signals.request_left_downloader)
        return gate

    async def process_request(self, request: Any, spider: Any = None) -> None:
        import asyncio

        if self.stopping:
            raise IgnoreRequest(STOPPING)
        key, _ = compat.download_slot(self.crawler, request)
        gate = self.gates.setdefault(key, asyncio.Semaphore(self.limit))
        await gate.acquire()
        if self.stopping:
            gate.release()
            raise IgnoreRequest(STOPPING)
        request.meta["newsarchive_gate"] = key
        return None

    def stop(self) -> None:
        """The crawl is stopping: every request waiting for a place leaves now (no request is ever
        let through again, so the extra places released here are never used)."""
        self.stopping = True
        waiting = self.crawler.settings.getint("CONCURRENT_REQUESTS")
        for gate in self.gates.values():
            for _ in range(waiting):
                gate.release()

    def release(self, request: Any, spider: Any = None) -> None:
        key = request.meta.pop("newsarchive_gate", None)
        if key is not None:
            self.gates[key].release()
