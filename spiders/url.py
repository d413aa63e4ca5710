"""One-off fetch of a single URL (``newsarchive scrape URL``), with the crawl's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure


class UrlSpider(scrapy.Spider):
    """``scrapy crawl url -a url=…``: fetches one page and yields it raw (status, headers, body)."""

    name = "url"

    def __init__(self, url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.outcome: dict[str, Any] | None = None
        self.failure: Failure | None = None

    async def start(self) -> Any:
        yield scrapy.Request(
            self.url,
            callback=self.parse,
            errback=self.on_error,
            dont_filter=True,
            # errors come back as responses (the caller reports the status); redirects are followed,
            # which handle_httpstatus_all would have stopped
            meta={"handle_httpstatus_list": list(range(400, 600))},
        )

    def parse(self, response: Response) -> Iterator[dict[str, Any]]:
        self.outcome = {
            "url": response.url,
            "status": response.status,
            "headers": {k.decode("latin-1"): [v.decode("latin-1") for v in vs] for k, vs in response.headers.items()},
            "body": response.body,
        }
        yield {"url": response.url, "status": response.status}

    def on_error(self, failure: Failure) -> None:
        self.failure = failure
