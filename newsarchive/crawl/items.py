"""What the spiders hand to the item pipelines: typed items (dataclasses, read through itemadapter).

A spider only fetches: a page, a "not modified" answer, a fetch that failed, a media file, a media
file that could not be fetched. Extraction and storage happen behind the pipeline boundary
(``writer.ArchiveWriter``); what leaves the pipelines is the record (``RecordItem``), so a feed
export (``scrapy crawl onecms -a site=… -O out.jsonl``) writes records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Headers = dict[str, list[str]]


@dataclass
class FetchedPage:
    url: str  # the URL answered (after redirects)
    status: int
    headers: Headers
    body: bytes
    fetched_at: str  # UTC
    request_url: str | None = None  # the URL asked for (a failure is recorded under it)
    revisit: bool = False


@dataclass
class NotModified:
    """A conditional re-check answered 304: the article is as archived."""

    url: str
    headers: Headers
    fetched_at: str


@dataclass
class FetchFailed:
    """An article that could not be fetched: recorded, and asked for again by the next run."""

    url: str  # the URL asked for, not the last hop of its redirects
    error: str
    fetched_at: str


@dataclass
class MediaFile:
    url: str
    kind: str  # image, audio, video
    status: int
    headers: Headers
    body: bytes
    fetched_at: str
    request_url: str | None = None
    site: str | None = None  # the site whose article referenced it


@dataclass
class MediaFailed:
    url: str
    error: str
    site: str | None = None


class RecordItem(dict):  # type: ignore[type-arg]
    """A record (shared/spec/record.md), carrying the raw page it came from (not part of the
    record, so not exported)."""

    raw: Any = None


BOOKKEEPING = (NotModified, FetchFailed, MediaFile, MediaFailed)  # recorded, never exported


def header_map(raw: Any) -> Headers:
    """Scrapy's response headers as text."""
    return {k.decode("latin-1"): [v.decode("latin-1") for v in vs] for k, vs in raw.items()}


__all__ = ["BOOKKEEPING", "FetchFailed", "FetchedPage", "Headers", "MediaFailed", "MediaFile", "NotModified",
           "RecordItem", "header_map"]
