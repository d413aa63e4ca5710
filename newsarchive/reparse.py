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

from .extract import NotAnArticle, extract
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
    fields: Counter[str] = field(default_factory=Counter)  # field -> articles where it changed
    examples: dict[str, list[tuple[int, str, Any, Any]]] = field(default_factory=dict)  # field -> (id, url, old, new)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def page_time(page: RawPage) -> datetime | None:
    if not page.fetched_at:
        return None
    return datetime.fromisoformat(page.fetched_at.replace("Z", "+00:00"))


def reparse(archive: Archive, *, dry_run: bool = False, batch: int = 200, examples: int = 3,
            progress: Callable[[ReparseReport], None] | None = None, **filters: Any) -> ReparseReport:
    """Run the current extractor over the latest stored page of every article matching ``filters``
    (those of :meth:`Archive.article_ids`); store what changed unless ``dry_run``."""
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
            try:
                record = extract(page.body, page.url, headers=page.headers, fetched_at=page_time(page))
            except NotAnArticle:
                report.not_articles += 1
                continue
            if same_record(current, record):
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
    report.seconds = time.perf_counter() - started
    return report
