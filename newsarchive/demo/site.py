"""The built-in demo site: a OneCMS-like news site served on loopback by the package itself.

Home, two-level categories, listings with the load-more API, RSS feeds, daily sitemaps, robots.txt,
articles of every variant, conditional requests (ETag / Last-Modified), and the traps a crawler
must avoid (print views, tag pages, e-paper, a disallowed path). Some articles are reachable only
through the load-more API, some only through a sitemap. Every request is logged, so tests can
check what a crawl fetched; articles can be edited while the site runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from html import escape as e
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .templates import DemoArticle, menu_html, render

VN = timezone(timedelta(hours=7))
DEFAULT_NEWEST = datetime(2026, 11, 20, 18, 0, 1, tzinfo=VN)


@dataclass(frozen=True)
class Category:
    name: str
    path: str  # "/xa-hoi/y-te"
    channel_id: int
    in_menu: bool = True

    @property
    def parent(self) -> str | None:
        parts = self.path.strip("/").split("/")
        return "/" + parts[0] if len(parts) > 1 else None


CATEGORIES = (
    Category("Xã hội", "/xa-hoi", 1),
    Category("Y tế", "/xa-hoi/y-te", 2),
    Category("Giáo dục", "/xa-hoi/giao-duc", 3),
    Category("Kinh tế", "/kinh-te", 4),
    Category("Doanh nghiệp", "/kinh-te/doanh-nghiep", 5),
    Category("Video", "/video", 6),
    Category("Podcast", "/podcast", 7),
    Category("E-magazine", "/emagazine", 8),
    Category("Sự kiện qua ảnh", "/su-kien-qua-anh", 9),
    Category("Lưu trữ", "/luu-tru", 10, in_menu=False),  # linked from nowhere: its articles are sitemap-only
)
_BY_PATH = {c.path: c for c in CATEGORIES}
_LEAVES = ("/xa-hoi/y-te", "/xa-hoi/giao-duc", "/kinh-te/doanh-nghiep", "/xa-hoi/y-te", "/kinh-te/doanh-nghiep",
           "/video", "/xa-hoi/giao-duc", "/podcast", "/emagazine", "/su-kien-qua-anh")
_VARIANT_OF = {"/video": "video", "/podcast": "podcast", "/emagazine": "longform", "/su-kien-qua-anh": "photo"}
_PEOPLE = ("Thu Phương", "Đức Anh", "Hoàng Châu", "Minh Khôi", "Lan Anh", "Quang Huy", "Hải Yến", "MAI QUẾ")
_WORDS = ("Hà Nội", "Đà Nẵng", "Điện Biên", "Nghệ An", "Hải Phòng", "xe buýt điện", "trường học", "bệnh viện",
          "doanh nghiệp", "nông sản", "du lịch", "chuyển đổi số")
ROBOTS = "User-agent: *\nDisallow: /print/\nDisallow: /noi-bo-\nDisallow: /api/getcomment/\n"


# Named fault endpoints: what a page of the demo site can do instead of answering.
FAULTS = {
    "503-503-200": "503 twice, then the page",
    "429-then-200": "429 with Retry-After: 1, then the page",
    "500": "always 500",
    "404": "404",
    "410": "410 Gone",
    "redirect-loop": "a redirect to itself",
    "redirect-chain": "a chain of 8 redirects to an article",
    "redirect-chain-long": "an endless chain of redirects, a new URL each hop",
    "hang": "accepts the request and never answers",
    "drip": "answers one byte a second",
    "not-an-article": "200 with a page that is no article",
    "gzip-bomb": "about 1 MB of gzip that inflates to 1 GiB",
    "deflate-bomb": "the same bomb as deflate",
    "br-bomb": "the same bomb as brotli",
    "huge-length": "a Content-Length of 2 GiB (and bytes until the reader hangs up)",
    "huge-chunked": "a 200 MiB chunked body",
}
BOMB_SIZE = 1 << 30


@functools.cache
def bomb(encoding: str) -> bytes:
    """``BOMB_SIZE`` bytes of an HTML-looking page compressed (~1 MB), made once per process."""
    head = b"<html><head><title>bom</title></head><body><p>"
    zeros = bytes(1 << 24)
    if encoding == "br":
        import brotli

        out = brotli.Compressor(quality=5)
        parts = [out.process(head)] + [out.process(zeros) for _ in range((BOMB_SIZE - len(head)) >> 24)]
        return b"".join([*parts, out.finish()])
    z = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    parts = [z.compress(head)] + [z.compress(zeros) for _ in range((BOMB_SIZE - len(head)) >> 24)]
    return b"".join([*parts, z.flush()])


def _stream(total: int, chunk: int = 1 << 16, delay: float = 0.0) -> Iterator[bytes]:
    """``total`` bytes of filler, ``chunk`` at a time (the server stops when the reader hangs up)."""
    block = (b"<p>" + b"x" * (chunk - 7) + b"</p>\n")[:chunk]
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        if delay:
            time.sleep(delay)
        yield piece
        sent += len(piece)


_AUTHOR_LD = re.compile(r'"author": \{"@type": "Person", "name": "[^"]*"\}')


def redesigned(html: str) -> str:
    """An article page in a "redesign" of the template, as sites roll them out: the body container
    is renamed (``article.entry`` becomes ``article.story-body``), the byline moves to an element of
    a new class (``span.story-byline``; the closing byline and the JSON-LD author are gone). The
    content is all still there: a parser that knows the new names reads every field again."""
    html = html.replace('<article class="entry', '<article class="story-body')
    html = html.replace("sc-longform-header-author block-sc-author", "story-byline")
    html = html.replace('class="c-detail-head__author"', 'class="story-byline"')
    html = re.sub(r'<b class="vtranslate-author-translate"[^>]*>.*?</b>', "", html, flags=re.S)
    return _AUTHOR_LD.sub('"author": {"@type": "Organization", "name": "Báo Demo"}', html)


# Where a demo site without a media host says its images are: a loopback address nothing serves.
NO_MEDIA_HOST = "http://127.0.0.9:9/bdm/"


def slugify(text: str) -> str:
    """ASCII slug of a Vietnamese phrase, as OneCMS URLs have them."""
    import unicodedata

    bare = "".join(c for c in unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
                   if not unicodedata.combining(c))
    return "-".join("".join(ch if ch.isalnum() else " " for ch in bare.lower()).split())


def _byline(i: int) -> tuple[str, list[str]]:
    a, b = _PEOPLE[i % len(_PEOPLE)], _PEOPLE[(i * 3 + 1) % len(_PEOPLE)]
    if b == a:
        return a, [a]
    shapes = ((f"Tin: {a} - Ảnh: {b}", [a, b]), (a, [a]), (f"{a}, {b}", [a, b]), (f"{a} / TTXVN", [a]))
    return shapes[i % len(shapes)]


class DemoSite:
    """``n_articles`` articles, one every ``spacing`` back from ``newest``; listings show
    ``page_size`` items; the sitemaps cover ``sitemap_days`` days back from the newest article."""

    def __init__(
        self,
        n_articles: int = 60,
        *,
        newest: datetime = DEFAULT_NEWEST,
        spacing: timedelta = timedelta(hours=4),
        page_size: int = 8,
        sitemap_days: int = 7,
        rss_items: int = 6,
        media_base: str | None = None,
    ) -> None:
        """``media_base``: the base URL of a :class:`DemoMediaHost` (``http://127.0.0.2:PORT/``):
        the articles' images, og:image, audio and posters are then on that host, and images are
        shared between articles (a lead image of its own, one of 4 shared photos on every other
        article, an og:image with the lead image's bytes at another URL). Without it, images
        name ``NO_MEDIA_HOST`` (a loopback address nothing serves, refused by the address guard)."""
        self.media_base = media_base
        self.page_size = page_size
        self.rss_items = rss_items
        self.base = "http://127.0.0.1/"
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (path with query, user agent)
        self.times: list[float] = []  # monotonic time of each request
        self.robots_extra = ""  # e.g. "Crawl-delay: 1\n"
        self.faults: dict[str, str] = {}  # article-shaped path -> fault name (FAULTS), linked from home
        self.extra_links: list[str] = []  # more links on the home page (e.g. to another host)
        self.redesign = False  # True: article pages in a second template edition (see redesigned())
        self.fault_hits: Counter[str] = Counter()
        self.active = 0  # requests being answered right now, and the most at once
        self.most_active = 0
        self.articles: dict[int, DemoArticle] = {}
        self.order: list[int] = []  # newest first
        self.category_of: dict[int, Category] = {}
        self.edited: dict[int, datetime] = {}
        self.whitespace: Counter[int] = Counter()
        self.sitemap_floor = newest - timedelta(days=sitemap_days)
        for i in range(n_articles):
            published = newest - i * spacing
            in_sitemap = published >= self.sitemap_floor
            path = "/luu-tru" if in_sitemap and i % 10 == 5 else _LEAVES[i % len(_LEAVES)]
            self._add(i, published, _BY_PATH[path])

    def _add(self, i: int, published: datetime, cat: Category) -> None:
        article_id = 700000 + i * 7
        w1, w2 = _WORDS[i % len(_WORDS)], _WORDS[(i * 5 + 3) % len(_WORDS)]
        byline, authors = _byline(i)
        section = tuple((c.name, c.path) for c in (_BY_PATH.get(cat.parent or ""), cat) if c)
        variant = _VARIANT_OF.get(cat.path) or ("current", "older", "current", "syndicated")[i % 4]
        self.articles[article_id] = DemoArticle(
            base=self.base,
            id=article_id,
            slug=f"tin-so-{i}-ve-{slugify(w1)}",
            title=f"Tin số {i}: {w1} và {w2} trong tuần",
            sapo=f"Bản tin số {i} về {w1}, cập nhật tình hình {w2} mới nhất.",
            dateline=("(BDM)", None, "BDM")[i % 3],
            byline=byline,
            authors=authors,
            published=published,
            section=section,
            paragraphs=[f"Đoạn {k + 1} của tin số {i}: {w1} tiếp tục là chủ đề được quan tâm ở {w2}." for k in range(3)],
            tags=[w1, w2] if w1 != w2 else [w1],
            images=self._images(i, authors),
            media_base=self.media_base or "",
            variant=variant,
            source="suckhoedoisong.vn" if variant == "syndicated" else None,
            jsonld=i % 5 != 4,
            menu=[(c.name, c.path) for c in CATEGORIES if c.in_menu],
        )
        self.order.append(article_id)
        self.category_of[article_id] = cat

    def _images(self, i: int, authors: list[str]) -> list[tuple[str, str | None]]:
        if not self.media_base:  # no media host: addresses no crawl may reach (the address guard refuses
            # a private address that is not the crawled site's before any connection, and a literal asks no DNS)
            return [(f"{NO_MEDIA_HOST}2026/{i}/anh-{k}.jpg", f"Ảnh {k} của tin {i}. Ảnh: {authors[-1]}")
                    for k in range(1 + i % 2)]
        images: list[tuple[str, str | None]] = [
            (f"{self.media_base}2026/{i}/anh-0.png", f"Ảnh 0 của tin {i}. Ảnh: {authors[-1]}")]
        if i % 2:  # a photo shared with other articles (file photos, a logo…): stored once
            images.append((f"{self.media_base}2026/chung/anh-{i % SHARED_IMAGES}.png", f"Ảnh tư liệu {i % SHARED_IMAGES}"))
        return images

    # -- the model -------------------------------------------------------------------------------

    def set_base(self, base: str) -> None:
        self.base = base
        for aid, a in self.articles.items():
            self.articles[aid] = replace(a, base=base, menu=a.menu)
        # related links point at real, newer articles of the site (never at older ones, so that
        # the oldest articles stay reachable only through the load-more API)
        for pos, aid in enumerate(self.order):
            newer = [x for x in self.order[max(0, pos - 2):pos] if self.category_of[x].in_menu]
            links = [(self.articles[x].url, self.articles[x].title) for x in newer] or [(base + "tin-moi-nhat", "Tin mới")]
            self.articles[aid] = replace(self.articles[aid], related=links)

    def url(self, article_id: int) -> str:
        return self.articles[article_id].url

    def in_sitemap(self, article_id: int) -> bool:
        return self.articles[article_id].published >= self.sitemap_floor

    def in_channel(self, article_id: int, cat: Category | None) -> bool:
        own = self.category_of[article_id]
        if cat is None:  # the "latest news" listing and the home page: every listed category
            return own.in_menu
        return own.path == cat.path or own.parent == cat.path

    def channel(self, cat: Category | None) -> list[int]:
        return [aid for aid in self.order if self.in_channel(aid, cat)]

    def edit(self, article_id: int, **changes: Any) -> None:
        """Change an article (a publisher's edit): a new version on the next check."""
        with self.lock:
            self.articles[article_id] = replace(self.articles[article_id], **changes)
            self.edited[article_id] = datetime.now(VN).replace(microsecond=0)

    def reflow(self, article_id: int) -> None:
        """A whitespace-only change: other bytes, the same content."""
        with self.lock:
            self.whitespace[article_id] += 1
            self.edited[article_id] = datetime.now(VN).replace(microsecond=0)

    def add_fault(self, name: str) -> str:
        """Link a fault endpoint from the home page; returns its path."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}: one of {', '.join(FAULTS)}")
        path = f"/loi-{name}-{990000 + len(self.faults)}.html"
        self.faults[path] = name
        return path

    def _fault(self, path: str, headers: Any, query: str = "") -> tuple[int, dict[str, str], bytes | Iterator[bytes]]:
        name = self.faults[path]
        with self.lock:
            self.fault_hits[path] += 1
            hits = self.fault_hits[path]
        html = {"Content-Type": "text/html; charset=utf-8"}
        page = self.article_page(self.order[0]) if self.order else b""
        if name == "503-503-200":
            return (503, html, b"busy") if hits <= 2 else (200, html, page)
        if name == "429-then-200":
            return (429, {**html, "Retry-After": "1"}, b"slow down") if hits == 1 else (200, html, page)
        if name in ("500", "404", "410"):
            return int(name), html, b"<html><body>error</body></html>"
        if name == "redirect-loop":
            return 302, {"Location": self.base + path.lstrip("/")}, b""
        if name.startswith("redirect-chain"):
            hop = int(query.partition("hop=")[2] or 0) + 1
            if name == "redirect-chain" and hop > 8:
                return 302, {"Location": self.articles[self.order[-1]].url}, b""
            return 302, {"Location": f"{self.base}{path.lstrip('/')}?hop={hop}"}, b""
        if name == "hang":
            time.sleep(3600)
        if name == "drip":
            return 200, html, _stream(3600, chunk=1, delay=1.0)
        if name.endswith("-bomb"):
            encoding = name.split("-")[0]
            return 200, {**html, "Content-Encoding": encoding}, bomb(encoding)
        if name == "huge-length":
            return 200, {**html, "Content-Length": str(2 << 30)}, _stream(2 << 30)
        if name == "huge-chunked":
            return 200, html, _stream(200 << 20)
        return 200, html, "<html><head><title>Trang chủ</title></head><body><p>Không phải bài báo</p></body></html>".encode()

    def expected_ids(self) -> list[int]:
        return list(self.order)

    def fetched(self, path_prefix: str = "") -> list[str]:
        return [p for p, _ in self.requests if p.startswith(path_prefix)]

    # -- pages -----------------------------------------------------------------------------------

    def article_page(self, article_id: int) -> bytes:
        html = render(self.articles[article_id])
        if self.redesign:
            html = redesigned(html)
        if self.whitespace[article_id]:
            html = html.replace("</p>", "  \n</p>" * 1).replace("<p>", "<p>\n   ")
        return html.encode("utf-8")

    def _item_html(self, aid: int, with_time: bool = True) -> str:
        a = self.articles[aid]
        when = f'<span class="b-grid__time">{a.published.strftime("%d/%m/%Y %H:%M")}</span>' if with_time else ""
        return (f'<li pid="{aid}"><div class="b-grid"><div class="b-grid__img"><a href="{a.url}"><img class="lazy" '
                f'src="{self.base}assets/images/grey.gif" data-src="https://bdm.1cdn.vn/thumbs/540x360/{aid}.jpg"></a>'
                f'</div><div class="b-grid__content"><div class="b-grid__row"><h3 class="b-grid__title">'
                f'<a href="{a.url}">{e(a.title)}</a></h3>{when}</div><div class="b-grid__row b-grid__desc">'
                f'<a href="{a.url}">{e(a.sapo)}</a></div></div></div></li>')

    def _chrome(self, title: str, body: str, channel_id: int, rss: str) -> bytes:
        menu = menu_html(self.base, [(c.name, c.path) for c in CATEGORIES if c.in_menu] + [("Tin mới nhất", "/tin-moi-nhat")])
        return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{e(title)}</title>
<link rel="alternate" type="application/rss+xml" href="{self.base}rss/{rss}">
<link href="https://bdm.1cdn.vn/assets/css/style.min.css" rel="stylesheet"></head><body>
<div class="c-sologan onecms__currentTime">Thứ Năm, 26/11/2026</div>{menu}
<div class="l-main">{body}</div>
<div class="l-footer"><a href="{self.base}an-pham/bao-in-so-1-{channel_id}.html">Báo in</a>
<a href="{self.base}search?q=xe+buyt">Tìm kiếm</a><a href="{self.base}noi-bo-tin-mat-900001.html">Nội bộ</a>
<a href="{self.base}su-kien-cuoi-nam-event12.html">Sự kiện</a></div>
<script>var WebControl = WebControl || {{}}; WebControl.channelId = '{channel_id}';
WebControl.loadmore_params = () => ({{ type: 'channel', channelId: {channel_id} }});</script>
</body></html>""".encode()

    def listing_page(self, cat: Category | None) -> bytes:
        ids = self.channel(cat)[: self.page_size]
        items = "".join(self._item_html(aid, with_time=n > 0) for n, aid in enumerate(ids))
        body = (f'<h1>{e(cat.name if cat else "Tin mới nhất")}</h1><ul class="onecms__loading">{items}</ul>'
                '<div class="c-more onecms__loadmore"><a href="javascript:void(0)">Xem thêm</a></div>')
        rss = cat.path.strip("/") if cat else "trang-chu"
        return self._chrome(cat.name if cat else "Tin mới nhất", body, cat.channel_id if cat else 0, rss)

    def home_page(self) -> bytes:
        ids = self.channel(None)[:6]
        items = "".join(self._item_html(aid) for aid in ids)
        faults = "".join(f'<a href="{self.base}{p.lstrip("/")}">{FAULTS[n]}</a>' for p, n in self.faults.items())
        faults += "".join(f'<a href="{e(url)}">Tin liên quan</a>' for url in self.extra_links)
        body = f'<ul class="onecms__loading">{items}</ul><div class="c-box">{faults}</div>'
        return self._chrome("Báo Demo", body, 0, "trang-chu")

    def load_more(self, last_pid: int, channel_id: int) -> bytes:
        cat = next((c for c in CATEGORIES if c.channel_id == channel_id), None)
        ids = self.channel(cat)
        if last_pid not in ids:
            return b"[]"
        start = ids.index(last_pid) + 1
        out = []
        for aid in ids[start:start + self.page_size]:
            a = self.articles[aid]
            out.append({"PublisherId": aid, "LinktoMe2": a.url, "Title": a.title, "TitleIcon16": a.title,
                        "Headlines": a.sapo, "Thumbnail_Small": f"https://bdm.1cdn.vn/thumbs/540x360/{aid}.jpg",
                        "Time_ddMMyyyyHHmm": a.published.strftime("%d/%m/%Y %H:%M"), "CommentCount": 0})
        return json.dumps(out, ensure_ascii=False).encode()

    def rss(self, cat: Category | None) -> bytes:
        items = []
        for aid in self.channel(cat)[: self.rss_items]:
            a = self.articles[aid]
            items.append(f"""<item><title>{e(a.title)}</title>
<description><![CDATA[<a href="{a.url}"><img src="https://bdm.1cdn.vn/thumbs/540x360/{aid}.jpg" /></a><br/>{a.sapo}]]></description>
<pubDate>{format_datetime(a.published)}</pubDate><link>{a.url}</link><guid>{a.url}</guid></item>""")
        title = cat.name if cat else "Trang chủ"
        return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{e(title)}</title>
<link>{self.base}</link><description>Báo Demo</description><generator>OneCMS</generator>
{''.join(items)}</channel></rss>""".encode()

    def sitemap_index(self) -> bytes:
        days = sorted({self.articles[aid].published.date() for aid in self.order if self.in_sitemap(aid)}, reverse=True)
        locs = [f"{self.base}sitemap-article-daily.xml", f"{self.base}sitemap-news.xml", f"{self.base}sitemap-category.xml"]
        locs += [f"{self.base}sitemap-article-{d.isoformat()}.xml" for d in days]
        body = "".join(f"<sitemap><loc>{loc}</loc><lastmod>2026-11-26T00:00:00+07:00</lastmod></sitemap>" for loc in locs)
        return (f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{body}</sitemapindex>").encode()

    def sitemap_day(self, day: str) -> bytes | None:
        ids = [aid for aid in self.order if self.in_sitemap(aid) and self.articles[aid].published.date().isoformat() == day]
        if not ids:
            return None
        urls = "".join(
            f"<url><loc>{self.articles[aid].url}</loc><lastmod>{(self.articles[aid].published + timedelta(seconds=1)).isoformat()}"
            f"</lastmod><image:image><image:loc>https://bdm.1cdn.vn/{aid}.jpg</image:loc></image:image></url>"
            for aid in ids)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                f'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">{urls}</urlset>').encode()

    def route(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes | Iterator[bytes]]:
        """(status, headers, body) for a request path."""
        html = {"Content-Type": "text/html; charset=utf-8"}
        xml = {"Content-Type": "application/xml; charset=utf-8"}
        clean = unquote(urlsplit(path).path)
        if clean in self.faults:
            return self._fault(clean, headers, urlsplit(path).query)
        if clean == "/robots.txt":
            robots = ROBOTS + self.robots_extra + f"Sitemap: {self.base}sitemap.xml\n"
            return 200, {"Content-Type": "text/plain"}, robots.encode()
        if clean in ("/", ""):
            return 200, html, self.home_page()
        if clean == "/tin-moi-nhat":
            return 200, html, self.listing_page(None)
        if clean in _BY_PATH:
            return 200, html, self.listing_page(_BY_PATH[clean])
        if clean.startswith("/rss/"):
            key = "/" + clean[len("/rss/"):].removesuffix(".rss")
            if key == "/trang-chu":
                return 200, xml, self.rss(None)
            if key in _BY_PATH and _BY_PATH[key].in_menu:
                return 200, xml, self.rss(_BY_PATH[key])
            return 404, html, b"<html><body>404</body></html>"
        if clean == "/sitemap.xml":
            return 200, xml, self.sitemap_index()
        if clean.startswith("/sitemap-article-") and clean.endswith(".xml"):
            day = clean[len("/sitemap-article-"):-4]
            if day == "daily":
                newest = self.articles[self.order[0]].published.date().isoformat()
                body = self.sitemap_day(newest)
            else:
                body = self.sitemap_day(day)
            return (200, xml, body) if body else (404, html, b"404")
        if clean in ("/sitemap-news.xml", "/sitemap-category.xml"):
            return 403, html, b"<html><body>Access Denied</body></html>"  # as nguoiquansat's WAF does
        if clean.startswith("/api/getMoreArticle/"):
            parts = clean.rsplit("/", 1)[-1].split("_")
            try:
                last_pid, channel_id = int(parts[2]), int(parts[3])
            except (IndexError, ValueError):
                return 400, {"Content-Type": "application/json"}, b"[]"
            return 200, {"Content-Type": "application/json; charset=utf-8"}, self.load_more(last_pid, channel_id)
        if clean.endswith(".html"):
            try:
                aid = int(clean.rsplit("-", 1)[-1][:-5])
            except ValueError:
                aid = -1
            if aid in self.articles and clean == urlsplit(self.articles[aid].url).path:
                return self._conditional(aid, headers)
        return 404, html, "<html><head><title>404</title></head><body><h1>Không tìm thấy trang</h1></body></html>".encode()

    def _conditional(self, aid: int, headers: Any) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            body = self.article_page(aid)
            modified = self.edited.get(aid, self.articles[aid].published)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        out = {"Content-Type": "text/html; charset=utf-8", "ETag": etag, "Last-Modified": format_datetime(
            modified.astimezone(UTC), usegmt=True)}
        if headers.get("If-None-Match") == etag:
            return 304, out, b""
        since = headers.get("If-Modified-Since")
        if since and not headers.get("If-None-Match"):
            try:
                if parsedate_to_datetime(since) >= modified.replace(microsecond=0):
                    return 304, out, b""
            except (TypeError, ValueError):
                pass
        return 200, out, body


SHARED_IMAGES = 4  # photos every other demo article shares


def demo_png(seed: str, width: int, height: int) -> bytes:
    """A valid PNG of ``width`` x ``height`` whose pixels come from ``seed`` (noise, so it weighs
    what a photo weighs: about 3 bytes a pixel)."""
    import random

    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + (zlib.crc32(kind + data) & 0xFFFFFFFF).to_bytes(4, "big"))

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


class DemoMediaHost:
    """The demo's media host (a CDN like ``bdm.1cdn.vn``), served on a second loopback address
    (127.0.0.2) by :func:`serve_media`: PNG images whose size and bytes follow from their path (a
    ``thumbs/WxH/`` prefix serves the same bytes as the original: another URL, one file), MP3
    files under ``media/``, and a robots.txt. ``faults`` maps a path to an answer of its own;
    every request is logged."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.faults: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.robots = "User-agent: *\nDisallow: /rieng/\n"
        self.base = "http://127.0.0.2/"

    def fetched(self, prefix: str = "") -> list[str]:
        with self.lock:
            return [p for p in self.requests if p.startswith(prefix)]

    @staticmethod
    @functools.lru_cache(maxsize=256)
    def image(path: str) -> bytes:
        path = re.sub(r"^/thumbs/\d+x\d+/", "/", path)
        digest = hashlib.sha256(path.encode()).digest()
        return demo_png(path, 160 + digest[0] % 64, 90 + digest[1] % 64)

    @staticmethod
    def audio(path: str) -> bytes:
        import random

        frame = b"\xff\xfb\x90\x64" + random.Random(path).randbytes(413)
        return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * 24

    def route(self, path: str) -> tuple[int, dict[str, str], bytes]:
        clean = unquote(urlsplit(path).path)
        if clean in self.faults:
            return self.faults[clean]
        if clean == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, self.robots.encode()
        if clean.endswith(".png"):
            return 200, {"Content-Type": "image/png", "Cache-Control": "max-age=31536000"}, self.image(clean)
        if clean.endswith(".mp3"):
            return 200, {"Content-Type": "audio/mpeg"}, self.audio(clean)
        return 404, {"Content-Type": "text/html"}, b"<html><body>404 Not Found</body></html>"


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler], host: str, port: int) -> Iterator[str]:
    """A threaded HTTP server on ``host:port`` (a free port for 0) until the block ends; its base URL."""
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_media(host_obj: DemoMediaHost, host: str = "127.0.0.2", port: int = 0) -> Iterator[str]:
    """Serve a :class:`DemoMediaHost` on ``host`` (a second loopback address); yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            with host_obj.lock:
                host_obj.requests.append(self.path)
            status, headers, body = host_obj.route(self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _serving(Handler, host, port) as base:
        host_obj.base = base
        yield base


@contextmanager
def serve(site: DemoSite, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``site`` on ``host`` (a free port unless given); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with site.lock:
                site.requests.append((self.path, self.headers.get("User-Agent", "")))
                site.times.append(time.monotonic())
                site.active += 1
                site.most_active = max(site.most_active, site.active)
            try:
                self._answer()
            finally:
                with site.lock:
                    site.active -= 1

        def _answer(self) -> None:
            status, headers, body = site.route(self.path, self.headers)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            streamed = not isinstance(body, bytes)
            if not streamed:
                self.send_header("Content-Length", str(len(body)))
            elif "Content-Length" not in headers:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if status == 304:
                return
            try:
                if not streamed:
                    self.wfile.write(body)
                    return
                chunked = "Content-Length" not in headers
                for piece in body:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    self.wfile.flush()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the reader hung up (what a size limit does): nothing to answer
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    with _serving(Handler, host, port) as base:
        site.set_base(base)
        yield site.base
