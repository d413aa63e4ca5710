"""Downloader middlewares where Scrapy's defaults are too trusting for an archiving bot."""

from __future__ import annotations

from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

ROBOTS_DENIED = "Forbidden by robots.txt"
ROBOTS_UNAVAILABLE = "robots.txt unavailable"


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


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt obeyed, and an unreadable robots.txt (5xx, timeout, refused) means "disallow".
    A 4xx robots.txt means there is none, so everything is allowed (RFC 9309)."""

    async def _parse_robots(self, response: Response, netloc: str, request: Any) -> None:
        if response.status >= 500:
            self._set(netloc, _DenyAll(f"HTTP {response.status}", network=False))
            return
        if 400 <= response.status < 500:
            self._set(netloc, build_from_crawler(self._parserimpl, self.crawler, b""))
            return
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self.crawler.stats.inc_value("robotstxt/unavailable")
        self._set(netloc, _DenyAll(str(exc) or type(exc).__name__, network=not isinstance(exc, IgnoreRequest)))

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
