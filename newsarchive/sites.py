"""Known OneCMS sites. Any other OneCMS base URL works without an entry: a site needs no code."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .urls import site_of


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


def resolve(site_or_url: str) -> tuple[str, str]:
    """``(key, base URL)`` for a registry key or an http(s) base URL; ValueError otherwise."""
    text = site_or_url.strip()
    if text in SITES:
        return text, SITES[text].base
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.hostname:
        base = f"{parts.scheme}://{parts.netloc}/"
        return crawl_key(base), base
    raise ValueError(f"unknown site {site_or_url!r}: give a key from 'newsarchive sites' or a base URL (http://…)")


def crawl_key(base: str) -> str:
    """The key a crawl of ``base`` is locked and recorded under: host (and port, if any)."""
    parts = urlsplit(base)
    host = site_of(base)
    return f"{host}:{parts.port}" if parts.port else host
