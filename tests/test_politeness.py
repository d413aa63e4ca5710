"""Politeness where Scrapy's defaults fall short: Crawl-delay and Retry-After."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from conftest import ROBOTS_OK, html_route, run_cli, slow_pages

from newsarchive.demo.site import DemoSite, serve

SEED = resources.files("newsarchive.demo").joinpath("article.html").read_bytes()


def test_crawl_delay_is_honoured_even_with_autothrottle(tmp_path: Path) -> None:
    site = DemoSite(4)
    site.robots_extra = "Crawl-delay: 0.25\n"
    with serve(site):
        out = run_cli("crawl", site.base, "--db", str(tmp_path / "a.db"), "-q", "--since", "2020-01-01",
                      "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8")
    assert out.returncode == 0, out.stderr
    times = site.times[1:]  # after robots.txt
    assert len(times) > 10
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.22, gaps


def test_retry_after_is_honoured_on_429_and_503(site, tmp_path: Path) -> None:
    calls = {"429": 0, "503": 0}

    def flaky(code: str, wait: str):
        def route(handler):
            calls[code] += 1
            if calls[code] == 1:
                return int(code), {"Retry-After": wait, "Content-Type": "text/html"}, b"busy"
            return 200, {"Content-Type": "text/html; charset=utf-8"}, SEED
        return route

    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": flaky("429", "1"), "/b-384142.html": flaky("503", "1")})
    for path in ("/a-384142.html", "/b-384142.html"):
        out = run_cli("scrape", "--allow-private", s.url(path), "--no-store")
        assert out.returncode == 0, out.stderr
        stamps = [t for p, t in zip(s.requests, s.times, strict=True) if p == path]
        assert len(stamps) == 2 and stamps[1] - stamps[0] >= 0.95


def test_a_long_retry_after_defers_to_a_later_run(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": ROBOTS_OK,
              "/a-384142.html": (429, {"Retry-After": "3600", "Content-Type": "text/html"}, b"slow down")})
    started = time.monotonic()
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--no-store")
    assert out.returncode == 1 and "429" in out.stderr
    assert s.requests.count("/a-384142.html") == 1 and time.monotonic() - started < 30


def test_retries_with_backoff_then_success(site, tmp_path: Path) -> None:
    calls = {"n": 0}

    def twice_503(handler):
        calls["n"] += 1
        if calls["n"] <= 2:
            return 503, {"Content-Type": "text/html"}, b"down"
        return 200, {"Content-Type": "text/html; charset=utf-8"}, SEED

    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": twice_503, "/dead-1.html": html_route(b"x", status=500)})
    assert run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--no-store").returncode == 0
    assert calls["n"] == 3
    out = run_cli("scrape", "--allow-private", s.url("/dead-1.html"), "--no-store")
    assert out.returncode == 1 and s.requests.count("/dead-1.html") == 4  # 1 + RETRY_TIMES


def test_concurrency_per_site_holds_without_a_delay(tmp_path: Path) -> None:
    # Scrapy 2.19 alone, with DOWNLOAD_DELAY 0, sent 11 requests at once to a site limited to 1
    site = DemoSite(20)
    slow_pages(site)
    with serve(site):
        out = run_cli("crawl", site.base, "--db", str(tmp_path / "a.db"), "-q", "--since", "2020-01-01",
                      "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    assert out.returncode == 0, out.stderr
    assert len(site.requests) > 20 and site.most_active == 1
