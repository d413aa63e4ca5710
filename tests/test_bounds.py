"""Bounds and nothing lost silently: no answer of a site makes a run endless or blind, one article
is fetched once per run, dates are range-checked, and what a run skipped shows in its outcome."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import run_cli
from hostile import HostileSite
from test_store import rec

from newsarchive import dates
from newsarchive.demo.site import DemoSite, serve
from newsarchive.store import Archive, RawPage
from newsarchive.urls import canonical

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def crawl(base: str, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", base, "--db", str(db), "-q", *FAST, *args)


def stored(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    return {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}


def last_run(db: Path) -> dict:
    out = run_cli("runs", "--db", str(db), "--json", "--limit", "1")
    return json.loads(out.stdout)[0]


def test_dates_outside_1990_to_tomorrow_are_absent() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert dates.sane("2026-11-29T20:00:00+07:00", now) == "2026-11-29T20:00:00+07:00"
    assert dates.sane("2026-11-30T18:00:00+07:00", now) is not None  # within a day ahead: clock skew
    assert dates.sane("2026-12-01T12:00:00+07:00", now) is None
    assert dates.sane("1989-12-31T23:59:00+07:00", now) is None
    assert dates.sane("9999-12-31T23:59:59+07:00", now) is None
    assert dates.sane("0001-01-01T00:00:00+07:00", now) is None
    assert dates.sane("not a date", now) is None


@pytest.mark.reliability
def test_out_of_range_dates_are_absent_and_never_move_the_window(tmp_path: Path, reliability) -> None:
    site = HostileSite(12, modes={"dates"}, newest=datetime.now(dates.VN).replace(microsecond=0) - timedelta(hours=1))
    db = tmp_path / "a.db"
    # an archive written before dates were checked: one article of the site dated 2099
    with Archive(db) as archive, serve(site) as base:
        old = rec(url=base + "bai-cu-1.html", site="127.0.0.1", article_id="1", published_at="2099-01-01T08:00:00+07:00")
        archive.save(old, RawPage(old["url"], b"<html></html>"))
    with serve(site, port=int(base.rsplit(":", 1)[1].strip("/"))):
        started = time.monotonic()
        out = crawl(site.base, db)  # incremental: the window is computed from the archive's newest article
        wall = time.monotonic() - started
    records = stored(db)
    dated = records[canonical(site.url(site.dated_article))]
    sitemap_requests = [p for p, _ in site.requests if p.startswith("/sitemap-article-")]
    reliability(15, "dates out of range", "an archive holding an article dated 2099 (stored before dates were checked), "
                "then an incremental crawl of a site that dates one article 2099 in its listings, API, RSS, sitemaps "
                "and page, and lists sitemap files for 2099 and 1899", exit_code=out.returncode, wall_s=round(wall, 1),
                archived=len(records) - 1, of=len(site.order), dated_article_published_at=str(dated["published_at"]),
                future_or_ancient_sitemaps_fetched=sum("2099" in p or "1899" in p for p in sitemap_requests))
    assert out.returncode == 0, out.stderr
    assert len(records) - 1 == len(site.order)  # every article, not "0 new" behind a window in 2099
    assert dated["published_at"] is None and dated["title"] == site.articles[site.dated_article].title
    assert not [p for p in sitemap_requests if "2099" in p or "1899" in p]


@pytest.mark.reliability
def test_endless_and_fruitless_streams_end(tmp_path: Path, reliability) -> None:
    site = HostileSite(12, modes={"endless-api"})
    db = tmp_path / "a.db"
    with serve(site) as base:
        started = time.monotonic()
        out = crawl(base, db, "--since", "2020-01-01", "-s", "DOWNLOAD_TIMEOUT=5")
        wall = time.monotonic() - started
    run = last_run(db)
    listings = sum(1 for p, _ in site.requests if not p.startswith("/api/") and not p.endswith((".html", ".xml", ".txt"))
                   and not p.startswith("/rss/"))
    reliability(16, "endless load-more API", "an API that always answers a new page of items linking another host, a page that is no article or nothing, dated "
                "2099, under a backfill to 2020", api_pages_answered=site.api_pages, listings=listings,
                exit_code=out.returncode, wall_s=round(wall, 1), outcome=run["outcome"])
    assert out.returncode == 5, out.stderr  # streams were cut: not a success
    assert run["outcome"] == "partial" and any("load-more stream" in e for e in run["errors"])
    assert site.api_pages <= 3 * listings  # three fruitless pages per stream, then it ends


def test_max_articles_bounds_discovery_too(tmp_path: Path) -> None:
    site = DemoSite(60)
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = crawl(base, db, "--since", "2020-01-01", "--max-articles", "2")
    fetched = [p for p, _ in site.requests]
    assert out.returncode == 0, out.stderr
    assert len(stored(db)) == 2
    articles = [p for p in fetched if p.endswith(".html")]
    assert len(articles) == 2
    # the home page was enough to find two articles: no listing, API page, feed or sitemap after it
    assert sorted(set(fetched) - set(articles)) == ["/", "/robots.txt"], fetched


def test_one_article_is_fetched_once_whatever_url_variant_links_it(tmp_path: Path) -> None:
    site = HostileSite(6, modes={"variants"})
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = crawl(base, db, "--since", "2020-01-01")
    newest = str(site.order[0])
    fetches = Counter(p for p, _ in site.requests if p.split("?")[0].split("#")[0].endswith(f"-{newest}.html"))
    assert out.returncode == 0, out.stderr
    assert sum(fetches.values()) == 1, fetches
    assert len(stored(db)) == 6


@pytest.mark.reliability
def test_a_failed_article_is_retried_next_run_when_nothing_links_it_any_more(tmp_path: Path, reliability) -> None:
    site = DemoSite(4)
    path = site.add_fault("500")
    db = tmp_path / "a.db"
    with serve(site) as base:
        first = crawl(base, db, "--since", "2020-01-01", "-s", "RETRY_TIMES=0")
        with sqlite3.connect(db) as con:
            keys = [r[0] for r in con.execute("SELECT site FROM failures")]
        hits = site.fault_hits[path]
        del site.faults[path]  # no longer linked; and now the page answers (a moved copy of an article)
        original = site.route
        site.route = lambda p, h: (200, {"Content-Type": "text/html; charset=utf-8"},  # type: ignore[method-assign]
                                   site.article_page(site.order[1])) if p == path else original(p, h)
        second = crawl(base, db)
        asked = [p for p, _ in site.requests].count(path) - hits
        with sqlite3.connect(db) as con:
            left = con.execute("SELECT count(*) FROM failures").fetchone()[0]
    run = last_run(db)
    reliability(17, "failures retried", "an article that fails (500) in one run, then is linked from nowhere: the next "
                "run asks for it again", first_exit=first.returncode, failure_key=keys[0] if keys else "(none)",
                asked_next_run=asked, second_exit=second.returncode, failures_left=left)
    assert first.returncode == 5, first.stderr
    assert keys == [base.split("//")[1].rstrip("/")]  # the run's own site key, not ""
    assert asked == 1 and left == 0
    assert second.returncode == 0 and run["outcome"] == "success"


@pytest.mark.reliability
def test_sitemaps_gzip_and_past_the_protocol_limit(tmp_path: Path, reliability) -> None:
    site = HostileSite(60, modes={"gzip-sitemaps"})
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = crawl(base, db, "--since", "2020-01-01")
    gz_fetched = sum(p.endswith(".xml.gz") for p, _ in site.requests)
    assert out.returncode == 0, out.stderr
    assert len(stored(db)) == 60 and gz_fetched > 0
    huge = HostileSite(20, modes={"huge-sitemap"})
    db2 = tmp_path / "b.db"
    with serve(huge) as base:
        started = time.monotonic()
        big = subprocess.run([sys.executable, "-c", PEAK, "crawl", base, "--db", str(db2), "-q", *FAST, "--since",
                              "2020-01-01"], capture_output=True, text=True, timeout=300)
        wall = time.monotonic() - started
    run = last_run(db2)
    peak_mib = int(big.stdout.strip() or 0) // 1024
    reliability(18, "sitemaps", "daily sitemaps served as .xml.gz files; then one sitemap that inflates to 60 MB "
                "(the protocol allows 50 MB)", gzip_sitemaps_read=gz_fetched, archived=len(stored(db)),
                huge_exit=big.returncode, huge_outcome=run["outcome"], huge_wall_s=round(wall, 1), peak_mib=peak_mib)
    assert big.returncode == 5, big.stderr
    assert run["outcome"] == "partial" and any("past 50 MB" in e for e in run["errors"])
    assert len(stored(db2)) == 20  # the rest of the site is archived
    assert peak_mib < 400


# The crawl in this process, reporting its peak memory (KiB) on stdout: the exit code is the crawl's.
PEAK = """
import resource, sys
from newsarchive.cli import main
sys.argv = ["newsarchive", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    from newsarchive.crawl.worker import peak_rss_mib
    print(int(peak_rss_mib() * 1024))  # KiB; not ru_maxrss, which keeps the forking pytest worker's peak
    raise
"""


@pytest.mark.reliability
def test_huge_crawl_delay_is_capped_and_ctrl_c_stops_within_seconds(tmp_path: Path, reliability) -> None:
    site = DemoSite(30)
    site.robots_extra = "Crawl-delay: 86400\n"
    db = tmp_path / "a.db"
    with serve(site) as base, tempfile.TemporaryDirectory() as neutral:
        env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
        proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", base, "--db", str(db), "-q",
                                 "--since", "2020-01-01", "-s", "NEWSARCHIVE_MAX_CRAWL_DELAY=2"], cwd=neutral, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(p.endswith(".html") for p, _ in site.requests) < 2:
            time.sleep(0.1)
        paced = list(site.times)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, err = proc.communicate(timeout=30)
        stop_s = time.monotonic() - signalled
    gaps = [b - a for a, b in zip(paced[1:], paced[2:], strict=False)]  # after robots.txt
    run = last_run(db)
    reliability(19, "politeness caps and Ctrl-C", "robots.txt asks Crawl-delay: 86400 (capped here at 2 s by "
                "-s NEWSARCHIVE_MAX_CRAWL_DELAY=2; default 60 s); Ctrl-C once two articles are in",
                smallest_gap_s=round(min(gaps), 2) if gaps else "-", exit_code=proc.returncode,
                stopped_after_s=round(stop_s, 1), outcome=run["outcome"])
    assert gaps and min(gaps) >= 1.9  # the cap is still a delay: the site's pace is kept up to it
    assert proc.returncode == 6, err
    assert stop_s < 5
    assert run["outcome"] == "interrupted"
    assert any("Crawl-delay capped: 86400" in e for e in run["errors"])
    assert "stopping: finishing" in err and "Ctrl-C again to stop now" in err


def test_a_retry_after_past_the_cap_defers_the_article_to_the_next_run(tmp_path: Path) -> None:
    site = DemoSite(4)
    slow = "/" + site.url(site.order[1]).split("/", 3)[3]
    original = site.route
    site.route = lambda p, h: ((429, {"Content-Type": "text/html", "Retry-After": "86400"}, b"later")  # type: ignore[method-assign]
                               if p == slow else original(p, h))
    db = tmp_path / "a.db"
    with serve(site) as base:
        started = time.monotonic()
        out = crawl(base, db, "--since", "2020-01-01")
        wall = time.monotonic() - started
    with sqlite3.connect(db) as con:
        failures = dict(con.execute("SELECT url, error FROM failures"))
    assert out.returncode == 5, out.stderr
    assert wall < 30  # not a day
    assert list(failures.values()) == ["HTTP 429"] and next(iter(failures)).endswith(slow)
    assert len(stored(db)) == 3


def test_an_unreadable_robots_txt_says_why(tmp_path: Path) -> None:
    site = DemoSite(2)
    original = site.route
    site.route = lambda p, h: ((200, {"Content-Type": "text/plain"}, b"User-agent: *\n" + b"#\n" * (9 * 2**20))  # type: ignore[method-assign]
                               if p == "/robots.txt" else original(p, h))
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = crawl(base, db, "-s", f"DOWNLOAD_MAXSIZE={8 * 2**20}")
    assert out.returncode == 3
    assert "robots.txt of" in out.stderr and "larger than download max size" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert [p for p, _ in site.requests] == ["/robots.txt"]
    assert "robots.txt of" in last_run(db)["errors"][0]


def test_a_listing_lost_to_a_server_error_makes_the_run_partial(tmp_path: Path) -> None:
    site = DemoSite(12)
    original = site.route
    site.route = lambda p, h: ((500, {"Content-Type": "text/html"}, b"oops")  # type: ignore[method-assign]
                               if p == "/tin-moi-nhat" else original(p, h))
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = crawl(base, db, "--since", "2020-01-01", "-s", "RETRY_TIMES=0")
    run = last_run(db)
    assert out.returncode == 5, out.stderr
    assert "1 surface(s) dropped" in out.stderr
    assert run["outcome"] == "partial" and any("/tin-moi-nhat dropped: HTTP 500" in e for e in run["errors"])
    assert len(stored(db)) == 12  # the other surfaces still found every article


def test_a_second_ctrl_c_stops_at_once_and_the_run_says_interrupted(tmp_path: Path) -> None:
    site = DemoSite(30)
    from conftest import slow_pages

    slow_pages(site, 3.0)  # every page takes 3 s: the first Ctrl-C would wait for the transfers
    db = tmp_path / "a.db"
    with serve(site) as base, tempfile.TemporaryDirectory() as neutral:
        env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
        proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", base, "--db", str(db),
                                 "--since", "2020-01-01", *FAST], cwd=neutral, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(site.requests) < 3:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        _, err = proc.communicate(timeout=30)
        stop_s = time.monotonic() - signalled
    run = last_run(db)
    assert proc.returncode == 6, err
    assert stop_s < 2.5
    assert run["outcome"] == "interrupted" and run["finished_at"]
    assert "Traceback" not in err


def test_every_hands_a_relative_since_to_each_run_as_written() -> None:
    from newsarchive.cli import DATE
    from newsarchive.crawl import child_command

    since = DATE.convert("7d", None, None)
    command = child_command("http://127.0.0.1:8123/", Path("a.db"), {"since": since, "quiet": True})
    assert command[command.index("--since") + 1] == "7d"  # each run computes its own cut-off
    fixed = DATE.convert("2026-11-01", None, None)
    command = child_command("http://127.0.0.1:8123/", Path("a.db"), {"since": fixed})
    assert command[command.index("--since") + 1] == "2026-11-01"
