"""Known OneCMS sites, as data. Any other OneCMS base URL works with the defaults: a site needs no
code, and a site that differs says only how (a selector, a date shape, its feeds) in its entry."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .urls import origin_site, site_of

# Discovery defaults of the OneCMS family (anatomy §6, §8, §9): the spider reads a site's own
# values, or these.
FEED_PATHS: tuple[str, ...] = ("/rss/trang-chu",)
LISTING_SELECTORS: tuple[str, ...] = ("ul.onecms__loading", "ul.onecms_loading", "ul.loadAjax")
API_TYPES: tuple[str, ...] = ("24h", "channel")
SITEMAP_PATHS: tuple[str, ...] = ("/sitemap.xml",)


@dataclass(frozen=True)
class Politeness:
    """A site's politeness defaults: seconds between requests, parallel requests, and whether its
    WAF answers intermittent 403s that a retry gets past (nguoiquansat, anatomy §9). None: the
    project's default. They are the site's defaults: a setting given on the command line
    (``-s DOWNLOAD_DELAY=…``, a configuration's settings) wins."""

    delay: float | None = None
    concurrency: int | None = None
    retry_403: bool = False

    def settings(self, retry_codes: list[int]) -> dict[str, object]:
        """The Scrapy settings these defaults change (``retry_codes``: the codes retried now)."""
        out: dict[str, object] = {}
        if self.delay is not None:
            out["DOWNLOAD_DELAY"] = self.delay
        if self.concurrency is not None:
            out["CONCURRENT_REQUESTS_PER_DOMAIN"] = self.concurrency
        if self.retry_403 and 403 not in retry_codes:
            # each retry waits its turn behind the download delay; one still refused is a recorded
            # failure, retried by the next run
            out["RETRY_HTTP_CODES"] = [*retry_codes, 403]
        return out


@dataclass(frozen=True)
class Site:
    """One OneCMS site's profile. Everything but key, name and base has a family default.

    ``parsers``: overrides of the extractor's parser classes, by family name (``current``,
    ``older``, ``longform``, ``photo``, ``video``, ``podcast``, ``onecms`` for the root, ``*`` for
    every family): class attributes such as ``author_classes`` or ``sapo_classes`` (see
    newsarchive/extract/onecms.py); an unknown attribute is an extractor error, never ignored.
    ``parser_version``: bump it when ``parsers`` or ``date_formats`` change (records carry it).
    ``date_formats``: strptime shapes of the site's visible times, tried before the known ones.
    Discovery (read by the spider): ``feed_paths``, ``listing_selectors``, ``api_types``,
    ``sitemap_paths``. ``media_hosts``: the hosts of its images (``bna.1cdn.vn``); ``media``: False
    to archive its text only (docs/media.md)."""

    key: str
    name: str
    base: str
    notes: str = ""
    parsers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    parser_version: str = "1"
    date_formats: tuple[str, ...] = ()
    feed_paths: tuple[str, ...] = FEED_PATHS
    listing_selectors: tuple[str, ...] = LISTING_SELECTORS
    api_types: tuple[str, ...] = API_TYPES
    sitemap_paths: tuple[str, ...] = SITEMAP_PATHS
    politeness: Politeness = Politeness()
    media_hosts: tuple[str, ...] = ()
    media: bool = True  # False: its crawls archive the text only (as crawl --no-media)


SITES: dict[str, Site] = {
    s.key: s
    for s in (
        Site("baonghean", "Báo Nghệ An", "https://baonghean.vn/",
             "current template; table captions; en/fr/ru/cn copies", media_hosts=("bna.1cdn.vn",)),
        Site("baohaiphong", "Báo Hải Phòng", "https://baohaiphong.vn/",
             "meta[name=canonical]; byline repeated at the end", media_hosts=("bhd.1cdn.vn",)),
        Site("baodanang", "Báo Đà Nẵng", "https://baodanang.vn/", "dateline 'ĐNO -' without parentheses",
             media_hosts=("bqn.1cdn.vn",)),
        Site("congly", "Báo Công lý", "https://congly.vn/", "video and podcast pages; 'dd/MM/yyyy - HH:mm' dates",
             date_formats=("%d/%m/%Y - %H:%M",), media_hosts=("cly.1cdn.vn",)),
        Site("diendandoanhnghiep", "Diễn đàn Doanh nghiệp", "https://diendandoanhnghiep.vn/",
             "8-digit ids; RSS per category; load-more API", media_hosts=("dddn.1cdn.vn",),
             feed_paths=("/rss/trang-chu", "/rss/doanh-nghiep", "/rss/tai-chinh-ngan-hang", "/rss/vi-mo")),
        Site("hanoimoi", "Hà Nội Mới", "https://hanoimoi.vn/", "figure captions; daily sitemaps",
             media_hosts=("hnm.1cdn.vn",)),
        Site("nguoiquansat", "Người Quan sát", "https://nguoiquansat.vn/",
             "old c-detail-head articles beside current ones (author in span.c-detail-head__cat); WAF gives "
             "intermittent 403s (retried)",
             # the older template prints the author in c-detail-head__cat (real page 110172)
             parsers={"older": {"author_classes": ("c-detail-head__author", "c-detail-head__cat")}},
             date_formats=("%d-%m-%Y %H:%M",), politeness=Politeness(retry_403=True), media_hosts=("nqs.1cdn.vn",)),
        Site("daibieunhandan", "Đại biểu Nhân dân", "https://daibieunhandan.vn/", "ul.onecms_loading (one underscore)",
             listing_selectors=("ul.onecms_loading", "div.view-more-article"), media_hosts=("dbnd.1cdn.vn",)),
        Site("markettimes", "Market Times", "https://markettimes.vn/", "older c-detail-head template",
             listing_selectors=("ul.loadAjax", "ul.onecms__loading"), date_formats=("%H:%M %d/%m/%Y",)),
        Site("ictvietnam", "Tạp chí Điện tử và Truyền thông", "https://ictvietnam.vn/", "li.article__loading listings",
             listing_selectors=("ul.onecms__loading",), media_hosts=("ictv.1cdn.vn",)),
        Site("thitruongtaichinhtiente", "Thị trường Tài chính Tiền tệ", "https://thitruongtaichinhtiente.vn/",
             "5-digit ids", api_types=("channel",), media_hosts=("tttctt.1cdn.vn",)),
        Site("baotainguyenmoitruong", "Báo Tài nguyên và Môi trường", "https://baotainguyenmoitruong.vn/",
             "'(TN&MT)' dateline; the seed article's site; may have merged into another paper in 2025",
             date_formats=("%d/%m/%Y - %H:%M",), media_hosts=("btnmt.1cdn.vn",)),
    )
}


def profile_for(url: str) -> Site | None:
    """The registered profile of the site ``url`` is on (its host, ``www.`` or not), or None: an
    unknown OneCMS site is read with the family defaults."""
    host = site_of(url) if "://" in url else url.lower().removeprefix("www.")
    if not host:
        return None
    return next((s for s in SITES.values() if _host_of(s.base) == host), None)


@lru_cache(maxsize=256)
def _host_of(base: str) -> str:
    return site_of(base)


@dataclass(frozen=True)
class SiteRef:
    """One site, however it was spelt: ``key`` is its one identity (host without ``www.``, with the
    port unless it is the scheme's default: ``baonghean.vn``, ``127.0.0.1:8123``), used by the
    crawl lock, the plan, failures, runs and every ``--site`` filter; ``host`` is what records
    carry in ``site`` (no port); ``path`` a category path the spelling named, if any."""

    key: str
    base: str
    host: str
    name: str | None = None
    path: str | None = None

    def describe(self) -> str:
        return f"{self.key} ({self.name})" if self.name else self.key


class UnknownSite(ValueError):
    pass


def _registry_by_host() -> dict[str, Site]:
    return {origin_site(s.base): s for s in SITES.values()}


def resolve(spelling: str) -> SiteRef:
    """The site a user means by a registry key (``baonghean``), a host (``baonghean.vn``,
    ``www.baonghean.vn``, ``127.0.0.1:8123``) or a URL (``https://baonghean.vn/``; a path after it
    is kept as ``path``). A bare host that is not in the registry is taken as ``https://host/``
    (``http://`` for a loopback or private address, or with a port)."""
    text = spelling.strip()
    if not text:
        raise UnknownSite("no site given: a key from 'newsarchive sites', a host or a base URL")
    if text.lower() in SITES:
        site = SITES[text.lower()]
        return SiteRef(origin_site(site.base), site.base, site_of(site.base), site.name)
    parts = urlsplit(text if "://" in text else "//" + text)
    if "://" in text and parts.scheme not in ("http", "https"):
        raise UnknownSite(f"{spelling!r}: only http and https sites can be crawled")
    try:
        port = parts.port
    except ValueError:
        raise UnknownSite(f"{spelling!r} has a port that is no number") from None
    host = (parts.hostname or "").lower()
    named = "." in host or ":" in host or host == "localhost"  # a word alone is a misspelt key, not a host
    if not host or not re.fullmatch(r"[a-z0-9.\-\[\]:]+", host) or not named:
        raise UnknownSite(f"unknown site {spelling!r}: give a key from 'newsarchive sites', a host or a base URL"
                          " (http://…)")
    scheme = parts.scheme if "://" in text else ("http" if port or _local(host) else "https")
    netloc = host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        netloc = f"[{host}]" if netloc == host else f"[{host}]:{port}"
    base = f"{scheme}://{netloc}/"
    key = origin_site(base)
    known = _registry_by_host().get(key)
    if known is not None and urlsplit(known.base).scheme == scheme:
        base = known.base
    path = "/" + parts.path.strip("/") if parts.path.strip("/") else None
    return SiteRef(key, base, site_of(base), known.name if known else None, path)


def _local(host: str) -> bool:
    import ipaddress

    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost"
    return address.is_private or address.is_loopback


def crawl_key(base: str) -> str:
    """The key a crawl of ``base`` is locked and recorded under: the site's one identity."""
    return resolve(base).key
