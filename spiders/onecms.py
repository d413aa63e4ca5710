"""The OneCMS spider: discovers a site's articles through every surface it offers and fetches them.

``scrapy crawl onecms -a site=SITE_OR_BASE_URL [-a since=DATE] [-a max_articles=N] [-a category=PATH]``
(or ``newsarchive crawl``). Discovery only: pages are handed on raw, extraction and storage happen
in the item pipelines. The run's plan and frontier (``self.plan``, ``self.frontier``) are opened
when the spider is made (``from_crawler``); the frontier's class is the ``NEWSARCHIVE_FRONTIER``
setting (the archive's, or a cluster's in Redis when ``NEWSARCHIVE_REDIS`` is set).
"""

from __future__ import annotations

import html
import json
import re
import struct
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import Selector
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.response import get_base_url
from twisted.python.failure import Failure

from newsarchive import dates
from newsarchive.crawl.frontier import Frontier
from newsarchive.crawl.items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified, header_map
from newsarchive.crawl.middlewares import DISCOVERY_DONE, ROBOTS_DENIED, ROBOTS_UNAVAILABLE, STOPPING
from newsarchive.crawl.plan import CrawlPlan
from newsarchive.media import DEFAULT_MAXSIZE, Ref
from newsarchive.netguard import refusal_of
from newsarchive.sites import Site, profile_for
from newsarchive.urls import article_id, canonical, run_key

ARTICLE_PATH = re.compile(r"^/[A-Za-z0-9][A-Za-z0-9_.-]*-\d+\.html?$")
NOT_ARTICLE = re.compile(r"-ptag\.html?$|-event\d+\.html?$|^/(?:print|an-pham|api|tag|tags|search|tim-kiem)/", re.I)
CATEGORY_PATH = re.compile(r"^/[a-z0-9][a-z0-9-]*(?:/[a-z0-9][a-z0-9-]*)?/?$")
NOT_CATEGORY = {"an-pham", "search", "tim-kiem", "lien-he", "gioi-thieu", "rss", "dang-nhap", "dang-ky", "tag",
                "print", "api", "quang-cao", "toa-soan", "bao-in", "e-paper", "epaper"}
CHANNEL_ID = re.compile(r"channelId\s*[=:]\s*['\"]?(\d+)")
LOADMORE_TYPE = re.compile(r"loadmore_params[^}]*?type\s*:\s*['\"](\w+)['\"]")
API_ATTR = re.compile(r"/?api/getMoreArticle/(\w+?)_(\w+?)_(\d+)_(\d+)_(\d+)")
DAILY_SITEMAP = re.compile(r"sitemap-article-(\d{4}-\d{2}-\d{2})\.xml(?:\.gz)?$")
# Articles go before discovery pages: the scheduler's queue then holds what one listing, API page
# or sitemap adds, not the whole site (a 50,000-article backfill otherwise queues them all).
ARTICLE = 20
# A load-more stream ends after this many pages in a row without one usable item (a same-site article
# link dated inside the window): a hostile or broken API cannot page forever.
FRUITLESS_PAGES = 3
# Media (images, audio) after the article that references them is archived, before more articles:
# the queue holds one article's files, not a whole backfill's.
MEDIA = ARTICLE + 5
CLAIMED = "newsarchive_run_key"  # request.meta: the run key an article request claimed
MAX_STREAM_PAGES = 5000  # and no stream pages on for ever: 5,000 load-more pages is ~100,000 articles
# an <a> tag's href, quoted either way or bare (other_article_links: a scan, not a parse). A tag is
# read up to the next "<" only, so each attempt ends where the next one starts: linear on any page
# ("[^>]" re-read a run of "<a <a <a…" from every start: 60 KB took 23 s)
HREF = re.compile(r"""<a\s[^<>]*?(?<=\s)href\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s"'<>`=]+))""", re.I)
SITEMAP_MAXSIZE = 50 * 1024 * 1024  # the sitemap protocol's limit, also for a gzip file once inflated


@lru_cache(maxsize=16384)  # a page links recent articles: a long run need not keep them all
def link_keys(url: str) -> tuple[str, str | None, str]:
    """A link's canonical URL, CMS id and run key (article pages link the same boxes again and again)."""
    return canonical(url), article_id(url), run_key(url)


def is_article_url(url: str) -> bool:
    path = urlsplit(url).path
    return bool(ARTICLE_PATH.match(path)) and not NOT_ARTICLE.search(path)


class OneCMSSpider(scrapy.Spider):
    name = "onecms"
    archives = True  # its crawls are archived (the pipeline and run recorder are on for it)

    def __init__(
        self,
        site: str = "",
        since: str | None = None,
        max_articles: str | int | None = None,
        category: str | None = None,
        recheck: str | bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not site:
            raise ValueError("the onecms spider needs -a site=SITE_OR_BASE_URL")
        self.site_arg = site
        self.since_arg = since
        self.max_articles = int(max_articles) if max_articles not in (None, "", "0") else None
        self.category = "/" + category.strip("/") if category else None
        self.recheck = recheck in (True, "1", "true", "yes")
        self.plan: CrawlPlan  # set by from_crawler, with the frontier
        self.frontier: Frontier  # what this run has requested: here, or shared in Redis
        # what this run skipped or lost besides article failures (a surface dropped, a stream cut):
        # recorded in the run, and the run is not a success
        self.notes: list[str] = []
        self._profile: Site | None = None
        self._netloc: str | None = None  # the site's host and port (same_site)
        self.links_found = 0  # article links seen on the site's pages (stats: newsarchive/links_found)

    # -- plan and start ------------------------------------------------------------------------------

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        if settings.get("NEWSARCHIVE_REDIS"):  # a cluster worker, however it was started
            from newsarchive.crawl.profiles import apply_cluster

            apply_cluster(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OneCMSSpider:
        from scrapy.utils.misc import load_object

        spider = super().from_crawler(crawler, *args, **kwargs)
        frontier_cls = load_object(crawler.settings["NEWSARCHIVE_FRONTIER"])
        spider.frontier = frontier_cls.open(crawler.settings, spider.site_arg, spider.since_arg, spider.recheck)
        spider.plan = spider.frontier.plan
        spider.apply_politeness(crawler.settings)  # the settings are frozen after from_crawler (Scrapy 2.11+)
        return spider

    def apply_politeness(self, settings: Any) -> None:
        """The site profile's politeness defaults, at the spider's priority: above the project's
        settings, below the command line's."""
        politeness = self.profile.politeness
        for name, value in politeness.settings(settings.getlist("RETRY_HTTP_CODES")).items():
            settings.set(name, value, priority="spider")

    @property
    def scheduled(self) -> int:
        return self.frontier.scheduled()

    @property
    def base(self) -> str:
        return self.plan.base

    async def start(self) -> AsyncIterator[Any]:
        try:
            async for request in self._start():
                yield request
        finally:
            self.frontier.seeded()  # a cluster run may end once its start is all queued

    async def _start(self) -> AsyncIterator[Any]:
        plan = self.plan
        if not self.frontier.owns_site or not self.frontier.seeds:
            return  # another crawl holds the site, or this worker joins a cluster run already seeded
        for item in plan.revisits:
            headers = {}
            if item.get("etag"):
                headers["If-None-Match"] = item["etag"]
            if item.get("last_modified"):
                headers["If-Modified-Since"] = item["last_modified"]
            yield Request(item["url"], callback=self.parse_article, errback=self.article_failed, headers=headers,
                          meta={"revisit": True, "handle_httpstatus_list": [304]}, priority=ARTICLE + 2,
                          dont_filter=True)
        for url in plan.failures:
            if request := self.article_request(url, priority=ARTICLE + 1):
                yield request
        if self.category:
            yield Request(urljoin(self.base, self.category.lstrip("/")), callback=self.parse_listing, priority=10,
                          errback=self.category_failed, meta={"discovery": True})
            yield self.discover(urljoin(self.base, "rss/" + self.category.strip("/")), self.parse_rss, 10)
            for ref in self.media_retries():
                yield self.media_request(ref, plan.key)
            return
        # The home page first: its items are the site's newest, which fixes the window of a crawl
        # of an empty archive before any older listing is judged.
        yield Request(self.base, callback=self.parse_home, errback=self.home_failed, priority=10)
        for ref in self.media_retries():
            yield self.media_request(ref, plan.key)

    def discover(self, url: str, callback: Any, priority: int, **meta: Any) -> Request:
        """A discovery request (listing, API page, feed, sitemap): bounded by --max-articles
        (middlewares.DiscoveryBound drops it once the run has its articles), failures noted."""
        return Request(url, callback=callback, errback=self.surface_failed, priority=priority,
                       meta={"discovery": True, **meta})

    @property
    def profile(self) -> Site:
        """The site's profile (newsarchive.sites): a registered site's own discovery values, or the
        OneCMS family's defaults for any other base URL."""
        if self._profile is None:
            self._profile = profile_for(self.base) or Site("", "", self.base)
        return self._profile

    def site_surfaces(self) -> Iterator[Request]:
        yield self.discover(urljoin(self.base, "tin-moi-nhat"), self.parse_listing, 10)
        for path in self.profile.feed_paths:
            yield self.discover(urljoin(self.base, path.lstrip("/")), self.parse_rss, 10)
        for path in self.profile.sitemap_paths:
            yield self.discover(urljoin(self.base, path.lstrip("/")), self.parse_sitemap_index, 8,
                                download_maxsize=SITEMAP_MAXSIZE)

    def listing_items(self) -> str:
        """The CSS of a listing's items (``li[pid]`` of the site's listing lists)."""
        return ", ".join(f"{selector} li[pid]" for selector in self.profile.listing_selectors)

    def parse_home(self, response: Response) -> Iterator[Any]:
        yield from self.parse_listing(response)
        if isinstance(response, TextResponse):
            yield from self.follow_categories(response)
        yield from self.site_surfaces()

    def home_failed(self, failure: Failure) -> Iterator[Request]:
        self.surface_failed(failure)
        yield from self.site_surfaces()

    def category_failed(self, failure: Failure) -> None:
        """The category page a run was bound to: a 404 or 410 means the site has no such category,
        which is an error of the request (exit 2), not an empty success."""
        response = getattr(failure.value, "response", None)
        if response is not None and response.status in (404, 410):
            self.crawler.stats.set_value("newsarchive/category_missing", self.category)
        self.surface_failed(failure)

    def surface_failed(self, failure: Failure) -> None:
        """A discovery page that could not be fetched. A 4xx is a surface the site does not have
        (several are guessed: ``/tin-moi-nhat``, ``/rss/trang-chu``, ``/sitemap.xml``); a server
        error, a timeout, a refused redirect or a body past the size limit lost what it listed:
        noted, and the run is not a success."""
        request = failure.request  # type: ignore[attr-defined]
        self.frontier.done(request)
        value = failure.value
        response = getattr(value, "response", None)
        if response is not None and response.status < 500:
            return
        if isinstance(value, IgnoreRequest) and str(value).startswith((ROBOTS_DENIED, DISCOVERY_DONE, STOPPING)):
            return  # a policy, the run has all the articles it may fetch, or it is stopping
        reason = f"HTTP {response.status}" if response is not None else (str(value) or type(value).__name__)
        self.note(f"surface {request.url} dropped: {reason}")

    def note(self, text: str) -> None:
        self.logger.warning(text)
        if len(self.notes) < 100:
            self.notes.append(text)
        self.crawler.stats.inc_value("newsarchive/notes")

    def when(self, text: str | None, source: str) -> datetime | None:
        """A date from a listing, feed, sitemap or API item (ISO 8601), or None when absent or out of
        range (dates.in_range): logged and counted, never a crash, never a window computed from it."""
        if not text:
            return None
        if dates.sane(text) is None:
            self.logger.warning("%s: date %s is out of range: taken as absent", source, text)
            self.crawler.stats.inc_value("newsarchive/dates_out_of_range")
            return None
        return datetime.fromisoformat(text)

    def full(self) -> bool:
        """This run has requested all the articles --max-articles allows."""
        return self.max_articles is not None and self.scheduled >= self.max_articles

    # -- bounds ----------------------------------------------------------------------------------------

    def floor(self) -> datetime | None:
        """The oldest publication time this run reaches back to."""
        plan = self.plan
        if plan.floor is not None:
            return plan.floor
        newest = self.frontier.newest()
        if newest is not None:  # empty archive: a default window before the newest article
            return newest - plan.window
        return None

    def seen_time(self, when: datetime | None) -> None:
        if when is not None and self.frontier.see(when) and self.plan.floor is None:
            self.crawler.stats.set_value("newsarchive/since_bound", (when - self.plan.window).isoformat())

    def consider(self, url: str, when: datetime | None) -> tuple[Request | None, bool]:
        """An article URL found in a listing stream (newest first): (request or None, stop the stream)."""
        plan = self.plan
        self.links_found += 1  # the site lists articles: it is a news site (a stat, set as the run ends)
        self.seen_time(when)
        floor = self.floor()
        if when is not None and floor is not None and when < floor:
            return None, True
        if self.known(url):
            return None, plan.stop_at_known
        key = run_key(url)
        if self.frontier.requested(key):
            return None, False
        if self.full():
            return None, True
        return self.article_request(url, key=key), False

    def look_up(self, urls: Any) -> None:
        """Every article link of a page, told to the frontier at once (a remote frontier answers all
        of them in one round trip, not one per link)."""
        found = [link_keys(u) for u in set(urls) if self.same_site(u) and is_article_url(u)]
        if found:
            self.frontier.lookup(found)

    def known(self, url: str) -> bool:
        url, cms_id, _ = link_keys(url)
        return self.frontier.known(url, cms_id)

    def same_site(self, url: str) -> bool:
        # a crawl never follows links to other hosts (ports included)
        if self._netloc is None:
            self._netloc = urlsplit(self.base).netloc.lower()
        return urlsplit(url).netloc.lower() == self._netloc

    def article_request(self, url: str, priority: int = ARTICLE, key: str | None = None) -> Request | None:
        """The request for an article URL, unless this run (any worker of it) already made one."""
        url, _, found_key = link_keys(url)
        key = key or found_key
        if not self.frontier.claim(key):  # one fetch per article, whatever URL variant
            return None
        # dont_filter: duplicates are kept out by the frontier; the dupefilter would silently drop
        # a redirect back to the same URL, and the article would be neither archived nor failed.
        # CLAIMED: a shared frontier may settle its claims after the callback (frontier.settle)
        return Request(url, callback=self.parse_article, errback=self.article_failed, priority=priority,
                       dont_filter=True, meta={CLAIMED: key})

    # -- listings: home, categories, "latest", and the load-more API ----------------------------------

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse) or self.full():
            return
        for href in response.css('link[rel="alternate"][type*="rss"]::attr(href)').getall():
            url = response.urljoin(href)
            if self.same_site(url):
                yield self.discover(url, self.parse_rss, 9)
        items = response.css(self.listing_items())
        stopped, last_pid = False, None
        pending: list[str] = []
        listed = {response.urljoin(h) for h in items.css("a::attr(href)").getall()}
        self.look_up(listed)
        for li in items:
            href = next((h for h in li.css("a::attr(href)").getall() if is_article_url(response.urljoin(h))), None)
            if not href:
                continue
            url = response.urljoin(href)
            last_pid = li.attrib.get("pid")
            if not self.same_site(url):
                continue
            when = self.when(dates.parse_visible(li.css(".b-grid__time::text").get() or ""), response.url)
            if not when and self.floor() is not None:
                # a featured card carries no time: it is newer than the next item, so that item
                # decides whether it is inside the window
                pending.append(url)
                continue
            request, stop = self.consider(url, when)
            if not stop or request:
                for held in pending:
                    held_request, _ = self.consider(held, None)
                    if held_request:
                        yield held_request
            pending = []
            if request:
                yield request
            if stop:
                stopped = True
                break
        for held in pending:  # nothing dated after them: they cannot be judged, so they are fetched
            held_request, _ = self.consider(held, None)
            if held_request:
                yield held_request
        yield from self.other_article_links(response, exclude=listed)
        if not stopped and last_pid:
            api = self.load_more_url(response, last_pid)
            if api:
                yield self.discover(api, self.parse_api, 7, api_template=api)

    def follow_categories(self, response: TextResponse) -> Iterator[Request]:
        hrefs = response.css(".c-menu a::attr(href), nav a::attr(href), .l-nav a::attr(href), header a::attr(href)")
        seen = set()
        for href in hrefs.getall():
            url = response.urljoin(href)
            path = urlsplit(url).path
            if not self.same_site(url) or not CATEGORY_PATH.match(path) or path in ("/", ""):
                continue
            if path.strip("/").split("/")[0] in NOT_CATEGORY or url in seen:
                continue
            seen.add(url)
            yield self.discover(url, self.parse_listing, 9)

    def other_article_links(self, response: TextResponse, exclude: set[str] = frozenset()) -> Iterator[Request]:  # type: ignore[assignment]
        """Article links elsewhere on a page (featured boxes, related boxes): fetched when new.
        They carry no date, so the listing items (which do) are left to their own stream; a run bound
        to one category follows none (their category is unknown)."""
        if self.category:
            return
        urls = [u for u in self.article_links(response) if u not in exclude]
        if not urls:
            return
        self.frontier.lookup([link_keys(u) for u in urls])
        self.links_found += len(urls)
        for url in urls:
            key = run_key(url)
            if self.frontier.requested(key) or self.known(url):
                continue
            if self.full():
                return
            if request := self.article_request(url, priority=ARTICLE - 1, key=key):
                yield request

    def article_links(self, response: TextResponse) -> list[str]:
        """This site's article URLs linked from a page (absolute, each once, in page order).

        Every archived page is scanned, on the reactor: a regular expression over the text, not a
        parse (a parsed tree and a selector per link cost a sixth of the crawl's time). A link it
        misreads is only a URL: it is checked like any other (this site, an article path) and the
        page it names is judged by the extractor."""
        base = get_base_url(response)
        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        found: dict[str, None] = {}
        for m in HREF.finditer(response.text):
            href = (m.group(1) or m.group(2) or m.group(3) or "").strip()
            if not href or href[0] == "#":
                continue
            if "&" in href:
                href = html.unescape(href)
            # a root-relative or absolute URL (the common cases) needs no urljoin
            if href[0] == "/" and href[:2] != "//":
                url = origin + href
            elif href.startswith(("http://", "https://")):
                url = href
            else:
                url = urljoin(base, href)
            found[url] = None
        return [u for u in found if u.startswith(("http://", "https://")) and self.same_site(u) and is_article_url(u)]

    def load_more_url(self, response: TextResponse, last_pid: str) -> str | None:
        text = response.text
        attr = response.css("[data-api-url*=getMoreArticle]::attr(data-api-url)").get()
        if attr:
            m = API_ATTR.search(attr)
            if m:
                kind, keyword, _, channel, event = m.groups()
                return urljoin(self.base, f"api/getMoreArticle/{kind}_{keyword}_{last_pid}_{channel}_{event}")
        m = CHANNEL_ID.search(text)
        if not m:
            return None
        found = LOADMORE_TYPE.search(text)
        kind = found.group(1) if found else self.profile.api_types[-1]  # the page's own, or the site's
        return urljoin(self.base, f"api/getMoreArticle/{kind}_empty_{last_pid}_{m.group(1)}_0")

    def parse_api(self, response: Response) -> Iterator[Any]:
        if self.full():
            return
        try:
            data = json.loads(response.text)
        except (ValueError, AttributeError, RecursionError):
            self.note(f"surface {response.url} dropped: not a JSON answer")
            return
        if not isinstance(data, list) or not data:
            return  # an empty array is the end
        last_pid, usable = None, 0
        floor = self.floor()
        entries = []  # (item, its URL when it is an article page of this site), in the answer's order
        for item in data:
            if not isinstance(item, dict):
                continue
            link = item.get("LinktoMe2") or item.get("LinkToMe") or item.get("Url") or item.get("FriendlyTitle")
            url = response.urljoin(link) if isinstance(link, str) else None
            entries.append((item, url if url and self.same_site(url) and is_article_url(url) else None))
        self.look_up(url for _, url in entries if url)
        for item, url in entries:
            pid = item.get("PublisherId") or item.get("Id")
            if isinstance(pid, int | str) and str(pid).isdigit():
                last_pid = str(pid)
            if url is None:
                continue
            raw = item.get("Time_ddMMyyyyHHmm") or item.get("TimeX") or ""
            text = dates.parse_visible(raw) if isinstance(raw, str) else None
            if text is None and isinstance(item.get("Time_yyyyMMddHHmmss"), str):
                text = dates.parse_iso(item["Time_yyyyMMddHHmmss"])
            when = self.when(text, response.url)
            if when is not None and (floor is None or when >= floor):
                usable += 1
            request, stop = self.consider(url, when)
            if request:
                yield request
            if stop:
                return
        fruitless = 0 if usable else response.meta.get("fruitless", 0) + 1
        if fruitless >= FRUITLESS_PAGES:
            self.note(f"load-more stream {response.meta['api_template']} ended: {fruitless} pages in a row without"
                      " a dated, in-window article of this site")
            return
        pages = response.meta.get("stream_pages", 1)
        if pages >= MAX_STREAM_PAGES:
            self.note(f"load-more stream {response.meta['api_template']} ended after {pages} pages (the limit)")
            return
        if last_pid is not None:
            template = response.meta["api_template"]
            next_url = re.sub(r"_(\d+)_(\d+)_(\d+)$", lambda m: f"_{last_pid}_{m.group(2)}_{m.group(3)}", template)
            if next_url != template:  # the same page again would be a loop
                yield self.discover(next_url, self.parse_api, 7, api_template=next_url, fruitless=fruitless,
                                    stream_pages=pages + 1)

    # -- RSS and sitemaps ------------------------------------------------------------------------------

    def parse_rss(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse) or self.full():
            return
        response.selector.remove_namespaces()
        links = response.xpath("//item/link/text() | //item/guid/text()").getall()
        self.look_up(response.urljoin(u.strip()) for u in links)
        for item in response.xpath("//item"):
            link = (item.xpath("link/text()").get() or item.xpath("guid/text()").get() or "").strip()
            if not link:
                continue
            url = response.urljoin(link)
            if not self.same_site(url) or not is_article_url(url):
                continue
            when = self.when(dates.parse_rfc822(item.xpath("pubDate/text()").get() or ""), response.url)
            request, stop = self.consider(url, when)
            if request:
                yield request
            if stop:
                return

    def sitemap(self, response: Response) -> Selector | None:
        """A sitemap's XML, gzip files included (``.xml.gz`` served as a file, not as an encoding),
        inflated up to the protocol's 50 MB; what cannot be read is noted as a dropped surface."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=SITEMAP_MAXSIZE)
            except (OSError, EOFError, ValueError, struct.error) as exc:  # unreadable, or past the limit
                self.note(f"surface {response.url} dropped: gzip sitemap unreadable or past 50 MB"
                          f" ({type(exc).__name__})")
                return None
        if not body.strip():
            return None
        selector = Selector(text=body.decode("utf-8", "replace"), type="xml")
        selector.remove_namespaces()
        return selector

    def parse_sitemap_index(self, response: Response) -> Iterator[Any]:
        if self.full() or (selector := self.sitemap(response)) is None:
            return
        daily = []
        latest = (datetime.now(UTC) + dates.FUTURE_TOLERANCE).astimezone(dates.VN).date().isoformat()
        for loc in selector.xpath("//sitemap/loc/text()").getall():
            m = DAILY_SITEMAP.search(loc.strip())
            if not m:
                continue
            day = m.group(1)
            if dates.sane(f"{day}T00:00:00+07:00") is None or day > latest:
                # a file for a day to come (or before 1990) has nothing to archive: never fetched
                self.crawler.stats.inc_value("newsarchive/sitemaps_out_of_range")
                continue
            daily.append((day, loc.strip()))
        daily.sort(reverse=True)  # newest day first
        window_floor = None
        if daily and self.sitemap_floor() is None:  # no article time seen yet: the window before the newest day
            window_floor = datetime.fromisoformat(f"{daily[0][0]}T00:00:00+07:00") - self.plan.window
        for day, loc in daily:
            url = response.urljoin(loc)
            if not self.same_site(url):
                continue
            yield self.discover(url, self.parse_sitemap_day, 6, day=day, download_maxsize=SITEMAP_MAXSIZE)
            floor = self.sitemap_floor() or window_floor
            if floor is not None and day < floor.date().isoformat():
                break  # this file reaches below the bound: older days are out of the window

    def sitemap_floor(self) -> datetime | None:
        plan = self.plan
        if plan.stop_at_known and plan.newest_archived is not None:
            return plan.newest_archived - timedelta(days=1)
        return self.floor()

    def parse_sitemap_day(self, response: Response) -> Iterator[Any]:
        if self.full() or (selector := self.sitemap(response)) is None:
            return
        entries = []  # (url, lastmod) of this site's article pages, in the file's order
        for node in selector.root.iter("url"):  # lxml itself: a Selector per entry cost more than the fetch
            loc = (node.findtext("loc") or "").strip()
            if not loc:
                continue
            url = response.urljoin(loc)
            if self.same_site(url) and is_article_url(url):
                entries.append((url, node.findtext("lastmod") or ""))
        self.look_up(url for url, _ in entries)
        for url, lastmod_text in entries:
            lastmod = self.when(dates.parse_iso(lastmod_text), response.url)
            when = lastmod - timedelta(seconds=1) if lastmod else None  # lastmod = +1 s
            request, stop = self.consider(url, when)
            if request:
                yield request
            if stop and not self.plan.stop_at_known:
                return

    # -- articles ------------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        headers = header_map(response.headers)
        if response.status == 304:
            yield NotModified(response.url, headers, dates.utc_now())
            return
        yield FetchedPage(response.url, response.status, headers, response.body, dates.utc_now(),
                          request_url=response.request.url if response.request else None,
                          revisit=bool(response.meta.get("revisit")))
        if isinstance(response, TextResponse) and not self.plan.stop_at_known:
            # backfills and resumed runs follow article links found in articles
            yield from self.other_article_links(response)

    def article_failed(self, failure: Failure) -> Iterator[FetchFailed]:
        request = failure.request  # type: ignore[attr-defined]
        value = failure.value
        robots = isinstance(value, IgnoreRequest) and str(value).startswith((ROBOTS_DENIED, ROBOTS_UNAVAILABLE))
        if (robots and "(network)" not in str(value)) or str(value).startswith(STOPPING):
            self.frontier.done(request)
            return  # robots.txt said no (a policy), or the run stops here and the next one resumes
        response = getattr(value, "response", None)
        message = f"HTTP {response.status}" if response is not None else (str(value) or type(value).__name__)
        refused = refusal_of(request.url)
        if refused:  # the resolver's own words (Scrapy rewords its error as a failed DNS lookup)
            message = f"{message} ({refused})"
        if isinstance(value, DownloadCancelledError) and not str(value):
            # Scrapy cancels a body that grows past DOWNLOAD_MAXSIZE without a message (it logs one)
            running = self.crawler.engine is not None and self.crawler.engine.running
            limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            message = (f"body larger than DOWNLOAD_MAXSIZE ({limit} bytes): download stopped" if running
                       else "download cancelled: the crawl was stopping")
        # the URL that was asked for, not the last hop of its redirects: that is what is retried
        url = (request.meta.get("redirect_urls") or [request.url])[0]
        yield FetchFailed(url, message, dates.utc_now())
        self.frontier.done(request)

    # -- media (asked for by the pipeline once the article that references them is archived) --------

    def media_retries(self) -> list[Ref]:
        """Files of this site's archived articles that are not held (failed before, or lost to a
        killed run): asked for again, up to media.MAX_ATTEMPTS runs."""
        from newsarchive.crawl.plan import db_path, media_enabled
        from newsarchive.media import MediaStore, media_path, missing
        from newsarchive.store import Archive
        from newsarchive.store.sitefilter import articles_of

        settings = self.crawler.settings
        if not media_enabled(settings, self.base):
            return []
        roles = ["image", "thumbnail", "poster", "audio"] + (["video"] if settings.getbool("NEWSARCHIVE_MEDIA_VIDEO")
                                                               else [])
        db = db_path(settings)
        store_path = media_path(db)
        if not store_path.exists():
            return []
        with Archive(db, readonly=True) as archive, MediaStore(store_path, readonly=True) as store:
            try:
                return list(missing(archive.conn, store, articles_of(self.plan.key), roles))
            except Exception as exc:  # an archive from before media refs: nothing to retry
                self.logger.debug("no media retries: %s", exc)
                return []

    def media_request(self, ref: Ref, site: str) -> Request:
        settings = self.crawler.settings
        cap = settings.getint(f"NEWSARCHIVE_MEDIA_MAXSIZE_{ref.kind.upper()}", DEFAULT_MAXSIZE[ref.kind])
        return Request(ref.url, callback=self.parse_media, errback=self.media_failed, priority=MEDIA,
                       meta={"media": ref.kind, "media_role": ref.role, "media_site": site,
                             "download_maxsize": cap, "download_warnsize": cap})

    def parse_media(self, response: Response) -> Iterator[MediaFile]:
        # pages are pages: media files are counted apart (newsarchive/media_*)
        self.crawler.stats.inc_value("response_received_count", -1)
        self.crawler.stats.inc_value("newsarchive/media_responses")
        yield MediaFile(response.url, response.meta["media"], response.status, header_map(response.headers),
                        response.body, dates.utc_now(), request_url=response.request.url if response.request else None,
                        site=response.meta.get("media_site"))

    def media_failed(self, failure: Failure) -> Iterator[MediaFailed]:
        request = failure.request  # type: ignore[attr-defined]
        value = failure.value
        self.frontier.done(request)  # (a cluster worker's claim on it is over)
        if isinstance(value, IgnoreRequest) and str(value).startswith(STOPPING):
            return  # the run stops: the next run asks again
        response = getattr(value, "response", None)
        if response is not None:
            self.crawler.stats.inc_value("response_received_count", -1)
            self.crawler.stats.inc_value("newsarchive/media_responses")
        message = f"HTTP {response.status}" if response is not None else (str(value) or type(value).__name__)
        refused = refusal_of(request.url)
        if refused:
            message = f"{message} ({refused})"
        if (isinstance(value, DownloadCancelledError) and not str(value)) or "larger than download max size" in message:
            message = (f"larger than the {request.meta['media']} size limit ({request.meta.get('download_maxsize')}"
                       " bytes): download stopped")
        yield MediaFailed((request.meta.get("redirect_urls") or [request.url])[0], message,
                          request.meta.get("media_site"))
