"""Extraction: HTML bytes + URL in, record out. Pure: no network, no database, no Scrapy.

``extract(html, url, headers=None, fetched_at=None, strict=False)`` returns the record of
shared/spec/record.md. It refuses a page in one of two ways:

- ``NotAnArticle`` (a ``ValueError``): the page is not an article (home, listing, preview, empty,
  undecodable or too deeply nested to read). A verdict on the page.
- ``ExtractorError`` (not a ``NotAnArticle``): a bug in a parser, an unexpected exception inside one
  of its field methods (or in choosing the parser). A verdict on the
  extractor: keep the page and re-extract it once the parser is fixed. It carries ``url``,
  ``parser`` (class name, e.g. ``SyndicatedOlderParser[nguoiquansat]``), ``field`` and ``error``
  (the exception's type and text); the original exception is its ``__cause__``.

``strict=True`` (tests, ``reparse --strict``) re-raises the original exception of a parser bug
instead of wrapping it; ``NotAnArticle`` is raised either way. Nothing else escapes.

The OneCMS page is read by the parser of the template it carries (``onecms.parser_for``: detected,
not dated), adjusted by the site's profile (``newsarchive.sites.Site.parsers``/``date_formats``,
looked up by the URL's host); any other page by the generic extractor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import dates
from ..record import ordered
from ..sites import Site, profile_for
from ..text import nfc_deep
from ..urls import absolute, article_id, canonical, origin_site, site_of
from . import generic, onecms
from .errors import ExtractorError, NotAnArticle
from .page import Page

log = logging.getLogger(__name__)


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
    strict: bool = False,
) -> dict[str, Any]:
    """The record of ``shared/spec/record.md`` for an article page; raises ``NotAnArticle`` for
    anything else and ``ExtractorError`` for a bug in a parser (``strict``: the bug's own
    exception). No other exception escapes, whatever the input."""
    try:
        return _extract(html, url, headers, fetched_at, strict)
    except (NotAnArticle, ExtractorError):
        raise
    except RecursionError as exc:
        raise NotAnArticle(f"page too deeply nested to read: {url}") from exc
    except _ParserBug as bug:
        if strict:
            raise bug.exc from None
        raise ExtractorError(url, bug.parser, bug.field, bug.exc) from bug.exc
    except Exception as exc:  # the contract: broken input is "not an article", never a crash
        raise NotAnArticle(f"unreadable page ({type(exc).__name__}: {exc})") from exc


class _ParserBug(Exception):
    """An exception inside a parser, on its way to becoming an ExtractorError (or, strict, itself)."""

    def __init__(self, parser: str, field: str, exc: Exception) -> None:
        super().__init__(parser, field)
        self.parser, self.field, self.exc = parser, field, exc


_PROFILED: dict[tuple[type[onecms.OneCMSParser], str, str], type[onecms.OneCMSParser]] = {}


def _with_profile(cls: type[onecms.OneCMSParser], site: Site | None) -> type[onecms.OneCMSParser]:
    """``cls`` with the site profile's overrides (its families' selectors, its date shapes) as a
    subclass made once; ``cls`` itself when the site has none. The record's extractor_version
    then names the profile's version too."""
    if site is None or not (site.parsers or site.date_formats):
        return cls
    key = (cls, site.key, site.parser_version)
    made = _PROFILED.get(key)
    if made is None:
        attrs: dict[str, Any] = {}
        names = ["*", *(k.__dict__["family"] for k in reversed(cls.__mro__) if "family" in k.__dict__)]
        if issubclass(cls, onecms.Syndicated):
            names.append("syndicated")
        for name in names:
            for attr, value in (site.parsers.get(name) or {}).items():
                if attr.startswith("_") or not hasattr(cls, attr) or callable(getattr(cls, attr)):
                    raise ValueError(f"site {site.key}: parser override {name}.{attr} names no selector")
                attrs[attr] = tuple(value) if isinstance(value, list) else value
        if site.date_formats:
            attrs["date_formats"] = (*site.date_formats, *cls.date_formats)
        attrs["extractor_version"] = f"{cls.extractor_version}+{site.key}.{site.parser_version}"
        made = _PROFILED[key] = type(f"{cls.__name__}[{site.key}]", (cls,), attrs)
    return made


def choose_parser(page: Page, url: str) -> type[onecms.OneCMSParser]:
    """The OneCMS parser class for ``page`` fetched from ``url``: the detected template family,
    with the site's profile applied."""
    return _with_profile(onecms.parser_for(page), profile_for(url))


def _onecms_fields(page: Page, url: str) -> tuple[dict[str, Any] | None, str]:
    parser_name = "onecms"
    try:
        cls = choose_parser(page, url)
        parser_name = cls.__name__
        parser = cls(page)
        if not parser.is_article():
            return None, cls.extractor_version
    except RecursionError:
        raise
    except Exception as exc:
        raise _ParserBug(parser_name, "detect", exc) from exc
    fields: dict[str, Any] = {}
    for name in onecms.FIELDS:
        try:
            fields[name] = getattr(parser, name)()
        except RecursionError:
            raise
        except Exception as exc:
            raise _ParserBug(parser_name, name, exc) from exc
    return fields, cls.extractor_version


def _extract(
    html: bytes | str, url: str, headers: Mapping[str, Any] | None, fetched_at: datetime | None, strict: bool
) -> dict[str, Any]:
    page = Page.from_html(html, url, headers)
    if page is None:
        raise NotAnArticle("empty document")
    if onecms.is_onecms(page):
        fields, version = _onecms_fields(page, url)
        name = onecms.NAME
    else:
        try:
            fields = generic.extract_generic(page)
        except RecursionError:
            raise
        except Exception as exc:
            raise _ParserBug("generic", "record", exc) from exc
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

__all__ = ["ExtractorError", "NotAnArticle", "Page", "choose_parser", "extract"]
