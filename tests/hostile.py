"""A hostile OneCMS-like site for the tests: the demo site, with one mode per attack class of the
provenance-and-bounds issue switched on. Served on loopback only (127.0.0.1, 127.0.0.2 …) by
``newsarchive.demo.site.serve``.

Modes (``HostileSite(n, modes={...})``):
- ``impostor``: every article page is a copy of ``victim``'s article (same position), retitled,
  whose canonical link and og:url claim the victim's URL on the other host.
- ``redirects``: article-shaped paths linked from the home page answer 302 to the URLs that
  ``redirects`` maps them to (another host, the site's www.-variant…).
- ``dates``: ``dated_article`` is dated ``FAR_FUTURE`` everywhere (listings, API, RSS, sitemaps,
  the page itself), and the sitemap index lists day files of 2099 and 1899.
- ``endless-api``: the load-more API never ends: each page has items linking another host, a
  page that is no article, or nothing, all dated 2099, with a new last id every time.
- ``variants``: the home page links the newest article under URL variants (slug, case, query
  order, percent-encoding, tracking parameters, fragment).
- ``gzip-sitemaps``: daily sitemaps are listed and served as ``.xml.gz`` files.
- ``huge-sitemap``: one more daily sitemap (gzip) that inflates past the protocol's 50 MB.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from newsarchive.demo.site import VN, DemoSite

FAR_FUTURE = datetime(2099, 1, 1, 8, 0, tzinfo=VN)
MODES = frozenset({"impostor", "redirects", "dates", "endless-api", "variants", "gzip-sitemaps",
                   "huge-sitemap"})


class HostileSite(DemoSite):
    def __init__(self, n_articles: int = 10, *, modes: set[str] | frozenset[str] = frozenset(),
                 victim: DemoSite | None = None, redirects: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(n_articles, **kwargs)
        unknown = set(modes) - MODES
        if unknown:
            raise ValueError(f"unknown modes {unknown}")
        self.modes = set(modes)
        self.victim = victim
        self.redirects = redirects or {}  # path -> Location
        self.api_pages = 0  # load-more answers given (endless-api)
        self.dated_article = self.order[len(self.order) // 2]
        if "dates" in self.modes:
            self.articles[self.dated_article] = replace(self.articles[self.dated_article], published=FAR_FUTURE)

    def set_base(self, base: str) -> None:
        super().set_base(base)
        if "redirects" in self.modes:
            self.extra_links = [base + path.lstrip("/") for path in self.redirects]
        if "variants" in self.modes:
            url = self.articles[self.order[0]].url
            head, aid = url.rsplit("-", 1)
            self.extra_links += [url + "?utm_source=zalo", url + "?b=2&a=1", url + "?a=1&b=2", url + "?q=%61",
                                 f"{base}mot-ten-khac-{aid}", head.upper().replace("HTTP://", "http://") + "-" + aid,
                                 url + "#binh-luan"]

    # -- what the hostile site answers -------------------------------------------------------------

    def route(self, path: str, headers: Any) -> tuple[int, dict[str, str], Any]:
        html = {"Content-Type": "text/html; charset=utf-8"}
        clean = path.split("?")[0]
        if "redirects" in self.modes and clean in self.redirects:
            return 302, {"Location": self.redirects[clean]}, b""
        if "endless-api" in self.modes and clean.startswith("/api/getMoreArticle/"):
            return self._endless(clean)
        if "gzip-sitemaps" in self.modes or "huge-sitemap" in self.modes:
            answer = self._sitemaps(clean, headers)
            if answer is not None:
                return answer
        if "dates" in self.modes and clean == "/sitemap.xml":
            status, head, body = super().route(path, headers)
            extra = "".join(f"<sitemap><loc>{self.base}sitemap-article-{day}.xml</loc></sitemap>"
                            for day in ("2099-01-01", "1899-12-31"))
            return status, head, body.replace(b"</sitemapindex>", extra.encode() + b"</sitemapindex>")
        status, head, body = super().route(path, headers)
        if "impostor" in self.modes and status == 200 and self.victim is not None and clean.endswith(".html"):
            aid = int(clean.rsplit("-", 1)[-1][:-5])
            if aid in self.articles:
                target = self.victim.order[self.order.index(aid) % len(self.victim.order)]
                page = self.victim.article_page(target).decode()
                title = self.victim.articles[target].title
                return 200, html, page.replace(title, "Bài giả mạo " + title).encode()
        return status, head, body

    def _endless(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.api_pages += 1
        last = int(path.rsplit("/", 1)[-1].split("_")[2])
        items = []
        for k in range(1, 9):  # a link to another host, one that is no article, none, a year that is no date
            pid = last - k
            url = (f"http://127.0.0.9:1/noi-khac-{pid}.html", f"{self.base}chuyen-muc/trang-{pid}", None)[k % 3]
            items.append({"PublisherId": pid, "LinktoMe2": url, "Time_ddMMyyyyHHmm": "01/01/2099 08:00"})
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(items).encode()

    def _sitemaps(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes] | None:
        gz = {"Content-Type": "application/x-gzip"}
        if path == "/sitemap.xml":
            status, head, body = super().route(path, headers)
            text = body.decode()
            if "gzip-sitemaps" in self.modes:
                text = re.sub(r"(sitemap-article-\d{4}-\d{2}-\d{2}\.xml)", r"\1.gz", text)
            if "huge-sitemap" in self.modes:
                day = (self.sitemap_floor + timedelta(days=3)).date().isoformat()
                text = text.replace("</sitemapindex>", f"<sitemap><loc>{self.base}sitemap-article-{day}.xml.gz</loc>"
                                    "</sitemap></sitemapindex>")
                self.huge_day = day
            return status, head, text.encode()
        m = re.fullmatch(r"/sitemap-article-(\d{4}-\d{2}-\d{2})\.xml\.gz", path)
        if not m:
            return None
        if "huge-sitemap" in self.modes and m.group(1) == getattr(self, "huge_day", None):
            filler = b"<url><loc>" + self.base.encode() + b"khong-co-gi.html</loc></url>"
            body = b'<?xml version="1.0"?><urlset>' + filler * (60 * 2**20 // len(filler)) + b"</urlset>"
            return 200, gz, gzip.compress(body, 1)
        day = self.sitemap_day(m.group(1))
        return (200, gz, gzip.compress(day)) if day else (404, {"Content-Type": "text/html"}, b"404")
