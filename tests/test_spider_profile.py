"""The spider reads a registered site's discovery values from its profile (newsarchive.sites), and
the OneCMS family's defaults for any other base URL."""

from __future__ import annotations

from datetime import timedelta

from newsarchive.spiders.onecms import OneCMSSpider

from newsarchive.crawl import CrawlPlan
from newsarchive.sites import FEED_PATHS, LISTING_SELECTORS, SITES


def spider(base: str) -> OneCMSSpider:
    s = OneCMSSpider(site=base)
    s.plan = CrawlPlan(key="k", base=base, site="x", floor=None, window=timedelta(days=7), stop_at_known=False,
                       newest_archived=None)
    return s


def test_a_registered_sites_feeds_and_listing_lists_are_its_own() -> None:
    ddn = spider(SITES["diendandoanhnghiep"].base)
    feeds = [r.url for r in ddn.site_surfaces() if "/rss/" in r.url]
    assert feeds == [ddn.base + p.lstrip("/") for p in SITES["diendandoanhnghiep"].feed_paths] and len(feeds) == 4
    assert spider(SITES["daibieunhandan"].base).listing_items() == "ul.onecms_loading li[pid], div.view-more-article li[pid]"


def test_any_other_base_url_gets_the_family_defaults() -> None:
    other = spider("http://127.0.0.1:8123/")
    assert [r.url for r in other.site_surfaces() if "/rss/" in r.url] == [other.base + p.lstrip("/") for p in FEED_PATHS]
    assert other.listing_items() == ", ".join(f"{s} li[pid]" for s in LISTING_SELECTORS)


def test_a_site_profile_can_turn_media_off() -> None:
    from dataclasses import replace

    from scrapy.settings import Settings

    from newsarchive import sites
    from newsarchive.crawl.plan import media_enabled

    settings = Settings({"NEWSARCHIVE_MEDIA": True})
    base = SITES["hanoimoi"].base
    assert media_enabled(settings, base)
    original = sites.SITES["hanoimoi"]
    sites.SITES["hanoimoi"] = replace(original, media=False)
    try:
        assert not media_enabled(settings, base)
        assert media_enabled(settings, "http://127.0.0.1:8123/")  # any other site: the default
    finally:
        sites.SITES["hanoimoi"] = original
    assert not media_enabled(Settings({"NEWSARCHIVE_MEDIA": False}), base)  # crawl --no-media


def test_a_site_profiles_politeness_is_applied_below_the_command_line() -> None:
    """nguoiquansat's WAF answers intermittent 403s that a retry gets past (anatomy §9): its profile
    retries 403; a profile's delay and concurrency are the site's defaults, and `-s` still wins."""
    from dataclasses import replace

    from scrapy.settings import Settings

    from newsarchive import sites
    from newsarchive.crawl import settings as project

    def applied(key: str, cmdline: dict[str, object] | None = None) -> Settings:
        s = Settings()
        s.setmodule(project, priority="project")
        s.setdict(cmdline or {}, priority="cmdline")
        spider(SITES[key].base).apply_politeness(s)
        return s

    nqs = applied("nguoiquansat")
    assert 403 in nqs.getlist("RETRY_HTTP_CODES") and 503 in nqs.getlist("RETRY_HTTP_CODES")
    assert 403 not in applied("baonghean").getlist("RETRY_HTTP_CODES")
    assert applied("baonghean").getfloat("DOWNLOAD_DELAY") == project.DOWNLOAD_DELAY  # no profile value: the project's
    original = sites.SITES["baonghean"]
    sites.SITES["baonghean"] = replace(original, politeness=sites.Politeness(delay=3.0, concurrency=1))
    try:
        slow = applied("baonghean")
        assert slow.getfloat("DOWNLOAD_DELAY") == 3.0 and slow.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 1
        assert applied("baonghean", {"DOWNLOAD_DELAY": 0.2}).getfloat("DOWNLOAD_DELAY") == 0.2
    finally:
        sites.SITES["baonghean"] = original
    other = Settings()
    other.setmodule(project, priority="project")
    spider("http://127.0.0.1:8123/").apply_politeness(other)
    assert other.getfloat("DOWNLOAD_DELAY") == project.DOWNLOAD_DELAY
