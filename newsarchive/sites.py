"""Known OneCMS sites. Any other OneCMS base URL works without an entry: a site needs no code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .urls import origin_site, site_of


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    base: str
    notes: str = ""


SITES: dict[str, Site] = {
    s.key: s
    for s in (
        Site("baonghean", "Báo Nghệ An", "https://baonghean.vn/",
             "current template; table captions; en/fr/ru/cn copies"),
        Site("baohaiphong", "Báo Hải Phòng", "https://baohaiphong.vn/",
             "meta[name=canonical]; byline repeated at the end"),
        Site("baodanang", "Báo Đà Nẵng", "https://baodanang.vn/", "dateline 'ĐNO -' without parentheses"),
        Site("congly", "Báo Công lý", "https://congly.vn/", "video and podcast pages; 'dd/MM/yyyy - HH:mm' dates"),
        Site("diendandoanhnghiep", "Diễn đàn Doanh nghiệp", "https://diendandoanhnghiep.vn/",
             "8-digit ids; RSS per category; load-more API"),
        Site("hanoimoi", "Hà Nội Mới", "https://hanoimoi.vn/", "figure captions; daily sitemaps"),
        Site("nguoiquansat", "Người Quan sát", "https://nguoiquansat.vn/",
             "old c-detail-head articles beside current ones; WAF gives intermittent 403s (retried)"),
        Site("daibieunhandan", "Đại biểu Nhân dân", "https://daibieunhandan.vn/", "ul.onecms_loading (one underscore)"),
        Site("markettimes", "Market Times", "https://markettimes.vn/", "older c-detail-head template"),
        Site("ictvietnam", "Tạp chí Điện tử và Truyền thông", "https://ictvietnam.vn/", "li.article__loading listings"),
        Site("thitruongtaichinhtiente", "Thị trường Tài chính Tiền tệ", "https://thitruongtaichinhtiente.vn/",
             "5-digit ids"),
        Site("baotainguyenmoitruong", "Báo Tài nguyên và Môi trường", "https://baotainguyenmoitruong.vn/",
             "'(TN&MT)' dateline; the seed article's site; may have merged into another paper in 2025"),
    )
}


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
