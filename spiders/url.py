"""One URL: ``scrapy crawl url -a url=…`` archives the article as ``newsarchive scrape URL`` does
(the same extractor, the same store); ``newsarchive scrape`` runs it with ``store=no`` and stores the
record itself (it prints it first, and has ``--no-store``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

_NO = ("no", "0", "false", "off")


class UrlSpider(scrapy.Spider):
    """``scrapy crawl url -a url=URL [-a store=no] [-s NEWSARCHIVE_DB=PATH] [-O records.jsonl]``:
    fetches one page (robots.txt, User-Agent, retries, size limit as in a crawl), extracts its
    record and archives it with its raw page (``$NEWSARCHIVE_DB`` or ``data/archive.db``, or
    ``-s NEWSARCHIVE_DB=…``). The item is the record, so a feed export writes records. A page that
    is not an article, an HTTP error, a refused fetch or an archive that cannot be written is one
    ERROR line in Scrapy's log, and no item."""

    name = "url"

    def __init__(self, url: str = "", store: str | bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.store = store if isinstance(store, bool) else str(store).strip().lower() not in _NO
        self.outcome: dict[str, Any] | None = None
        self.failure: Failure | None = None

    async def start(self) -> Any:
        if not self.url.startswith(("http://", "https://")):
            self.logger.error("give an http(s) address: scrapy crawl url -a url=https://…")
            return
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
        if not self.store:
            yield {"url": response.url, "status": response.status}
            return
        record = self._archive(self.outcome)
        if record is not None:
            yield record

    def _archive(self, got: dict[str, Any]) -> dict[str, Any] | None:
        """Extract and store as ``newsarchive scrape`` does; the record, or None (said in the log)."""
        from ..crawl.plan import db_path
        from ..extract import ExtractorError, NotAnArticle, extract
        from ..store import Archive, ProvenanceError, RawPage, StorageError

        if got["status"] >= 400:
            self.logger.error("HTTP %s for %s", got["status"], got["url"])
            return None
        try:
            record = extract(got["body"], got["url"], headers=got["headers"], fetched_at=datetime.now(UTC))
        except NotAnArticle as exc:
            self.logger.error("not an article: %s (%s)", got["url"], exc)
            return None
        except ExtractorError as exc:  # a parser bug, not a verdict on the page (newsarchive scrape says so too)
            self.logger.error("not archived: %s (%s)", got["url"], exc)
            return None
        page = RawPage(got["url"], got["body"], got["status"], got["headers"], None)
        path = db_path(self.settings)
        try:
            with Archive(path) as archive:
                result = archive.save(record, page)
        except (StorageError, ProvenanceError) as exc:
            self.logger.error("not archived: %s", exc)
            return None
        self.logger.info("archived %s as id %s (%s, %s revision(s)) in %s", record["url"], result.id, result.status,
                         result.revision_count, path)
        return record

    def on_error(self, failure: Failure) -> None:
        self.failure = failure
        if self.store:  # under `scrapy crawl`: nobody else reports it
            self.logger.error("cannot fetch %s: %s", self.url, failure.value)
