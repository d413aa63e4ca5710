"""Re-extraction of stored raw pages by the current extractor (``newsarchive reparse``).

Templates drift and the extractor improves: every article can be derived again from the page that
was fetched. An article whose record comes out different gets a new version marked as a
re-extraction (the publisher did not edit it). Articles are read in id batches, so memory stays
bounded on any archive.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .extract import ExtractorError, NotAnArticle, extract
from .record import FIELDS, same_record
from .store import Archive, RawPage
from .urls import origin_site

_COMPARED = [f for f in FIELDS if f not in ("fetched_at", "extractor", "extractor_version")]


@dataclass
class ReparseReport:
    pages: int = 0  # stored pages read and extracted
    changed: int = 0  # articles whose record changed (re-extraction versions, or would be on a dry run)
    not_articles: int = 0  # pages the current extractor no longer reads as an article (left as they are)
    no_page: int = 0  # articles archived without a raw page (nothing to re-derive them from)
    refused: int = 0  # articles whose stored page came from another site (provenance): left as they are
    extractor_errors: list[tuple[str, str]] = field(default_factory=list)  # (url, error): parser bugs, left as is
    recovered: int = 0  # pages kept with an extractor error in a crawl, archived now
    fields: Counter[str] = field(default_factory=Counter)  # field -> articles where it changed
    examples: dict[str, list[tuple[int, str, Any, Any]]] = field(default_factory=dict)  # field -> (id, url, old, new)
    seconds: float = 0.0

    @property
    def unchanged(self) -> int:
        return (self.pages - self.changed - self.not_articles - self.refused - self.recovered
                - len(self.extractor_errors))

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def page_time(page: RawPage) -> datetime | None:
    if not page.fetched_at:
        return None
    return datetime.fromisoformat(page.fetched_at.replace("Z", "+00:00"))


def _extract(page: RawPage, report: ReparseReport, url: str, strict: bool) -> dict[str, Any] | None:
    """The current extractor's record of a stored page, or None (counted in ``report``): not an
    article any more, or a parser bug (``strict``: the bug's own exception goes through)."""
    try:
        return extract(page.body, page.url, headers=page.headers, fetched_at=page_time(page), strict=strict)
    except NotAnArticle:
        report.not_articles += 1
    except ExtractorError as exc:
        report.extractor_errors.append((url, f"{exc.parser}.{exc.field}: {exc.error}"))
    return None


def reparse(archive: Archive, *, dry_run: bool = False, batch: int = 200, examples: int = 3, strict: bool = False,
            progress: Callable[[ReparseReport], None] | None = None, **filters: Any) -> ReparseReport:
    """Run the current extractor over the latest stored page of every article matching ``filters``
    (those of :meth:`Archive.article_ids`), and over the pages a crawl kept because the extractor
    failed on them; store what changed unless ``dry_run``. A parser bug is counted and the article
    left as it is; ``strict`` lets the bug's own exception through instead."""
    report = ReparseReport()
    started = time.perf_counter()
    for ids in archive.id_batches(batch, **filters):
        changes = []
        for article in ids:
            page = archive.raw_page(article)
            current = archive.record(article)
            if page is None or current is None:
                report.no_page += 1
                continue
            report.pages += 1
            if origin_site(page.url) != origin_site(current["url"]):
                # a page of another site stored before the provenance rule: it may not rewrite this one
                report.refused += 1
                continue
            record = _extract(page, report, current["url"], strict)
            if record is None or same_record(current, record):
                continue
            report.changed += 1
            for name in _COMPARED:
                if current.get(name) != record.get(name):
                    report.fields[name] += 1
                    shown = report.examples.setdefault(name, [])
                    if len(shown) < examples:
                        shown.append((article, current["url"], current.get(name), record.get(name)))
            changes.append((article, record, page))
        if changes and not dry_run:
            archive.reextract_many(changes)
        report.seconds = time.perf_counter() - started
        if progress:
            progress(report)
    _recover_kept(archive, report, dry_run, strict, filters.get("site"))
    report.seconds = time.perf_counter() - started
    return report


def _recover_kept(archive: Archive, report: ReparseReport, dry_run: bool, strict: bool, site: str | None) -> None:
    """Pages a crawl kept because the extractor failed on them: archived now if it reads them."""
    from .store.crawlstate import CrawlState

    state = CrawlState(archive)
    for url, page in state.kept_pages(site):
        report.pages += 1
        record = _extract(page, report, url, strict)
        if record is None:
            continue
        report.recovered += 1
        if not dry_run:
            with archive.transaction():  # the article, and its failure forgotten, at once
                state.keep(record, page, url)
