"""Extraction: HTML bytes + URL in, record out. Pure: no network, no database, no Scrapy."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import dates
from ..record import ordered
from ..text import nfc_deep
from ..urls import absolute, article_id, canonical, origin_site, site_of
from . import generic, onecms
from .page import Page

log = logging.getLogger(__name__)


class NotAnArticle(ValueError):
    """The page is not an article (home, listing, error page, empty or unreadable document)."""


def _canonical_url(page: Page, url: str) -> str:
    """The page's own claim of its address, believed only within the site it was fetched from
    (provenance: a page of host A can never speak for host B). A claim elsewhere is ignored, the
    record is of the fetched URL, and the claim stays readable in the stored raw page. A saved file
    with no address given (a ``file:`` URL) has no host to hold it to: its claim is all there is."""
    fetched_site = origin_site(url)
    for cand in (page.canonical, page.meta.get("og:url")):
        link = absolute(cand, url)
        if not link or not link.startswith(("http://", "https://")):
            continue
        if fetched_site and origin_site(link) != fetched_site:
            log.warning("%s claims to be %s, on another site: ignored", url, link)
            continue
        return canonical(link)
    return canonical(url)


def _sane_dates(fields: dict[str, Any], url: str, fetched_at: datetime | None) -> None:
    """Article times outside the believable range (dates.in_range) are absent, not errors."""
    for name in ("published_at", "modified_at"):
        value = fields.get(name)
        if value and dates.sane(value, fetched_at) is None:
            log.warning("%s: %s %s is out of range: dropped", url, name, value)
            fields[name] = None


def extract(
    html: bytes | str,
    url: str,
    headers: Mapping[str, Any] | None = None,
    fetched_at: datetime | None = None,
) -> dict[str, Any]:
    """The record of ``shared/spec/record.md`` for an article page; raises ``NotAnArticle`` for
    anything else. No other exception escapes, whatever the input."""
    try:
        return _extract(html, url, headers, fetched_at)
    except NotAnArticle:
        raise
    except RecursionError as exc:
        raise NotAnArticle(f"page too deeply nested to read: {url}") from exc
    except Exception as exc:  # the contract: broken input is "not an article", never a crash
        raise NotAnArticle(f"unreadable page ({type(exc).__name__}: {exc})") from exc


def _extract(
    html: bytes | str, url: str, headers: Mapping[str, Any] | None, fetched_at: datetime | None
) -> dict[str, Any]:
    page = Page.from_html(html, url, headers)
    if page is None:
        raise NotAnArticle("empty document")
    if onecms.is_onecms(page):
        fields = onecms.extract_onecms(page)
        name, version = onecms.NAME, onecms.VERSION
    else:
        fields = generic.extract_generic(page)
        name, version = generic.NAME, generic.VERSION
    if not fields:
        raise NotAnArticle(f"not an article page: {url}")
    _sane_dates(fields, url, fetched_at)
    record_url = _canonical_url(page, url)
    fields["url"] = record_url
    fields["site"] = site_of(record_url)
    fields["article_id"] = article_id(record_url) or article_id(url) or fields.get("article_id")
    lang = (page.root.get("lang") or "").split("-")[0].strip().lower()
    fields["language"] = fields.get("language") or lang or ("vi" if name == onecms.NAME else None)
    fields["extractor"] = name
    fields["extractor_version"] = version
    fields["fetched_at"] = dates.utc_iso(fetched_at) if fetched_at else dates.utc_now()
    return nfc_deep(ordered(fields))


__all__ = ["NotAnArticle", "extract", "Page"]
