"""Fetch one URL through Scrapy, with the same settings as crawls (robots.txt, User-Agent,
timeouts, retries, size limit). Runs the Twisted reactor, so call it once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .crawl.middlewares import ROBOTS_DENIED, ROBOTS_UNAVAILABLE
from .crawl.runner import project_settings


class FetchError(Exception):
    """The page could not be fetched. ``kind``: "robots", "http", "network"."""

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    headers: dict[str, list[str]]
    body: bytes


def _refusals() -> dict[str, str]:
    from .netguard import GuardedResolver

    return GuardedResolver.refused


def fetch(url: str, overrides: dict[str, Any] | None = None) -> Fetched:
    from scrapy.crawler import CrawlerProcess

    from .spiders.url import UrlSpider

    process = CrawlerProcess(project_settings(overrides))
    crawler = process.create_crawler(UrlSpider)
    process.crawl(crawler, url=url, store=False)  # scrape prints, then stores itself
    process.start()
    spider = crawler.spider
    if spider is not None and spider.outcome is not None:
        out = spider.outcome
        if out["status"] >= 400:
            raise FetchError("http", f"HTTP {out['status']} for {url}", out["status"])
        return Fetched(out["url"], out["status"], out["headers"], out["body"])
    failure = getattr(spider, "failure", None)
    if failure is not None:
        message = str(failure.value) or type(failure.value).__name__
        refused = _refusals()
        if refused:  # the guard refused an address on the way (the URL's host, or a redirect's)
            raise FetchError("refused", next(iter(refused.values())))
        if ROBOTS_DENIED in message:
            raise FetchError("robots", f"robots.txt forbids fetching {url}")
        if message.startswith(f"{ROBOTS_UNAVAILABLE} (network)"):
            reason = message.split(": ", 1)[-1]
            raise FetchError("network", f"cannot reach {url}: {reason}")
        if message.startswith(ROBOTS_UNAVAILABLE):
            reason = message.split(": ", 1)[-1]
            raise FetchError("robots", f"robots.txt of {url} is unavailable ({reason}): not fetching without it")
        raise FetchError("network", f"cannot fetch {url}: {message}")
    raise FetchError("network", f"cannot fetch {url}: no response")
