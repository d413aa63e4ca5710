"""The article links the spider reads off every archived page (``OneCMSSpider.article_links``): a
scan of the page's text, which must find what a parse would and nothing a parse would not follow."""

from __future__ import annotations

from datetime import timedelta

from newsarchive.spiders.onecms import OneCMSSpider
from scrapy.http import HtmlResponse

from newsarchive.crawl import CrawlPlan

BASE = "http://127.0.0.1:8123/"


def spider() -> OneCMSSpider:
    s = OneCMSSpider(site=BASE)
    s.plan = CrawlPlan(key="k", base=BASE, site="x", floor=None, window=timedelta(days=7), stop_at_known=False,
                       newest_archived=None)
    return s


def links(html: str, url: str = BASE + "trang-1.html") -> list[str]:
    return spider().article_links(HtmlResponse(url, body=html.encode(), encoding="utf-8"))


def test_every_way_of_writing_an_href_is_read_once_in_page_order() -> None:
    html = ('<a href="/mot-1.html">1</a> <A class="x" HREF=\'/hai-2.html\'>2</A> <a title=t href=/ba-3.html>3</a>'
            '<a\nhref="http://127.0.0.1:8123/bon-4.html">4</a> <a href="nam-5.html">5</a> <a href="/mot-1.html">again</a>'
            '<a href="//127.0.0.1:8123/sau-6.html">6</a> <a href=" /bay-7.html ">7</a>')
    assert links(html) == [BASE + p for p in ("mot-1.html", "hai-2.html", "ba-3.html", "bon-4.html", "nam-5.html",
                                              "sau-6.html", "bay-7.html")]


def test_only_this_sites_article_pages_are_kept() -> None:
    html = ('<a href="http://127.0.0.2:8123/khac-1.html">other host</a> <a href="http://127.0.0.1:9999/cong-2.html">'
            'other port</a> <a href="/chuyen-muc/">category</a> <a href="/tag/x-3.html">tag</a>'
            '<a href="mailto:a@b.c">mail</a> <a href="#top">top</a> <a href="javascript:go(\'/js-4.html\')">js</a>'
            '<a data-href="/du-lieu-5.html">data</a> <link href="/link-6.html"> <abbr href="/abbr-7.html">'
            '<a href="/dung-8.html">yes</a> <a href="/a/hai-tang-9.html">two segments</a>')
    assert links(html) == [BASE + "dung-8.html"]


def test_entities_are_decoded() -> None:
    assert links('<a href="/tin-9.html?b=2&amp;a=1">x</a>') == [BASE + "tin-9.html?b=2&a=1"]


def test_a_base_element_on_another_host_moves_relative_links_off_the_site() -> None:
    html = '<html><head><base href="http://127.0.0.2/"></head><body><a href="tin-9.html">x</a>' \
           '<a href="/goc-10.html">root</a><a href="http://127.0.0.1:8123/day-11.html">here</a></body></html>'
    assert links(html) == [BASE + "day-11.html"]


def test_the_scan_is_linear_on_a_run_of_tag_openings() -> None:
    """'<a <a <a…' without a '>': each attempt must stop at the next '<' (60 KB took 23 s)."""
    import time

    started = time.process_time()
    found = links("<html><body>" + "<a " * 30_000 + '<a href="/cuoi-1.html">x</a></body></html>')
    assert time.process_time() - started < 3
    assert found == [BASE + "cuoi-1.html"]
