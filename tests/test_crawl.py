"""End-to-end crawls of the built-in demo site (the crawl in a subprocess: the reactor cannot restart)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.crawl import settings as project_settings
from newsarchive.demo.site import DemoSite, serve
from newsarchive.demo.templates import expected
from newsarchive.store import read_only_uri
from newsarchive.store import search as fts
from newsarchive.urls import canonical

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]


@pytest.fixture
def demo() -> Iterator[DemoSite]:
    site = DemoSite(60)
    with serve(site):
        yield site


def crawl(site: DemoSite, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", site.base, "--db", str(db), "-q", *FAST, *args)


def article_fetches(site: DemoSite) -> Counter[str]:
    return Counter(p.split("?")[0] for p in site.fetched() if p.endswith(".html"))


def stored(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    return {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}


def test_backfill_finds_every_article_once_and_each_record_is_right(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    out = crawl(demo, db, "--since", "2020-01-01")
    assert out.returncode == 0, out.stderr
    records = stored(db)
    assert sorted(records) == sorted(canonical(demo.url(a)) for a in demo.order)
    for aid in demo.order:
        record = records[canonical(demo.url(aid))]
        for key, value in expected(demo.articles[aid]).items():
            assert record[key] == value, (aid, key)
    fetched = article_fetches(demo)
    assert max(fetched.values()) == 1, [p for p, n in fetched.items() if n > 1]  # none fetched twice
    # reached only through the load-more API, only through a sitemap: found all the same
    api_only = [a for a in demo.order if not demo.in_sitemap(a) and demo.channel(None).index(a) >= demo.page_size]
    sitemap_only = [a for a in demo.order if not demo.category_of[a].in_menu]
    assert api_only and sitemap_only
    assert any(p.startswith("/api/getMoreArticle/") for p in demo.fetched())
    # never: disallowed paths, print views, tag pages, e-paper, search, event pages
    for p in demo.fetched():
        assert not p.startswith(("/noi-bo-", "/print/", "/an-pham", "/search")), p
        assert not p.endswith("-ptag.html") and "-event" not in p, p
    assert all(ua.startswith("newsarchive/") for _, ua in demo.requests)


def test_incremental_second_run_fetches_no_known_article(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    assert crawl(demo, db).returncode == 0
    first = len(stored(db))
    assert first == 43  # the documented default window: 7 days before the newest article
    demo.requests.clear()
    out = crawl(demo, db)
    assert out.returncode == 0, out.stderr
    assert article_fetches(demo) == Counter()
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert [r["outcome"] for r in runs] == ["success", "success"]
    assert (runs[0]["articles_new"], runs[1]["articles_new"]) == (0, 43)
    assert runs[0]["started_at"].endswith("Z") and runs[0]["pages_fetched"] > 0


def test_edits_become_revisions_and_whitespace_does_not(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    assert crawl(demo, db).returncode == 0
    edited, reflowed = demo.order[1], demo.order[2]
    demo.edit(edited, paragraphs=["Bản sửa: đoạn duy nhất của bài."])
    demo.reflow(reflowed)
    demo.requests.clear()
    out = crawl(demo, db, "--recheck")
    assert out.returncode == 0, out.stderr
    assert "/" + demo.url(edited).split("/", 3)[3] in article_fetches(demo)
    shown = json.loads(run_cli("show", demo.url(edited), "--revisions", "--json", "--db", str(db)).stdout)
    assert [r["reason"] for r in shown["revisions"]] == ["first", "edit"]
    assert shown["record"]["body_text"] == "Bản sửa: đoạn duy nhất của bài."
    same = json.loads(run_cli("show", demo.url(reflowed), "--revisions", "--json", "--db", str(db)).stdout)
    assert len(same["revisions"]) == 1
    # untouched articles answered 304 to the conditional re-check
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert runs[0]["articles_revised"] == 1 and runs[0]["articles_unchanged"] == 42


def test_second_crawl_of_the_same_site_is_refused(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    slow = ["-s", "DOWNLOAD_DELAY=0.2", "-s", "AUTOTHROTTLE_ENABLED=False"]
    first = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", demo.base, "--db", str(db), "-q",
                              "--since", "2020-01-01", *slow], cwd=tmp_path, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(p.endswith(".html") for p in demo.fetched()) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        second = crawl(demo, db)
        assert second.returncode == 4, second.stderr
        assert "lock" in second.stderr and len(second.stderr.strip().splitlines()) == 1
        assert time.monotonic() - started < 20
    finally:
        first.send_signal(signal.SIGTERM)  # stops cleanly: the run is recorded as interrupted
        first.wait(timeout=60)
    assert first.returncode == 6
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert [r["outcome"] for r in runs] == ["interrupted"] and runs[0]["finished_at"]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def kill_after(site: DemoSite, db: Path, articles: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", site.base, "--db", str(db), "-q",
                             "--since", "2020-01-01", "-s", "DOWNLOAD_DELAY=0.02", "-s", "AUTOTHROTTLE_ENABLED=False"],
                            cwd=db.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                n = sqlite3.connect(db, timeout=5).execute("SELECT count(*) FROM articles").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= articles:
                break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.reliability
def test_kill_9_then_rerun_equals_an_uninterrupted_run(demo: DemoSite, tmp_path: Path, reliability) -> None:
    reference = tmp_path / "ref.db"
    assert crawl(demo, reference, "--since", "2020-01-01").returncode == 0
    db = tmp_path / "killed.db"
    before = len(demo.requests)
    kill_after(demo, db, 15)
    partial = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    out = crawl(demo, db)  # no --since: the killed run's window is resumed, not the default one
    con = sqlite3.connect(db)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    total, distinct = con.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone()
    strip = lambda rs: {u: {k: v for k, v in r.items() if k != "fetched_at"} for u, r in rs.items()}  # noqa: E731
    got, want = strip(stored(db)), strip(stored(reference))
    fetches = Counter(p.split("?")[0] for p, _ in demo.requests[before:] if p.endswith(".html"))
    twice = sum(1 for n in fetches.values() if n > 1)
    concurrency = project_settings.CONCURRENT_REQUESTS_PER_DOMAIN  # what the killed run had in flight at most
    reliability(1, "kill -9", f"a 60-article backfill killed with SIGKILL once {partial} articles were archived, "
                "then the same command again; compared with an uninterrupted run of the same site",
                archived_before_the_kill=partial, missing=len(set(want) - set(got)), duplicates=total - distinct,
                records_differing=sum(1 for u in want if u in got and got[u] != want[u]), integrity=integrity,
                article_pages_fetched_twice=twice, concurrency=concurrency)
    assert 0 < partial < 60
    assert out.returncode == 0, out.stderr
    assert integrity == "ok"
    assert (total, distinct) == (60, 60)
    assert got == want
    assert twice <= concurrency
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert [r["outcome"] for r in runs] == ["success", "interrupted"]


def test_crawl_arguments_are_checked(tmp_path: Path) -> None:
    for args in (["nosuchsite"], ["ftp://x/"], ["http://127.0.0.1:9/", "--since", "last week"],
                 ["http://127.0.0.1:9/", "--every", "soon"]):
        out = run_cli("crawl", *args, "--db", str(tmp_path / "a.db"))
        assert out.returncode == 2, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_sites_lists_the_registry() -> None:
    out = run_cli("sites", "--json")
    keys = {s["key"] for s in json.loads(out.stdout)}
    assert {"baonghean", "baohaiphong", "hanoimoi", "nguoiquansat"} <= keys


def test_max_articles_and_category_bound_a_run(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    assert crawl(demo, db, "--since", "2020-01-01", "--max-articles", "5").returncode == 0
    assert len(stored(db)) == 5
    db2 = tmp_path / "b.db"
    assert crawl(demo, db2, "--since", "2020-01-01", "--category", "xa-hoi/y-te").returncode == 0
    sections = {r["section"] for r in stored(db2).values()}
    assert sections == {"Y tế"}


def test_every_loops_until_sigterm(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", demo.base, "--db", str(db), "-q",
                             "--every", "1s", *FAST], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 90
        runs: list = []
        while time.monotonic() < deadline and len(runs) < 2:
            time.sleep(0.5)
            out = run_cli("runs", "--db", str(db), "--json")
            runs = [r for r in json.loads(out.stdout or "[]") if r["finished_at"]] if out.returncode == 0 else []
        assert len(runs) >= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # each run's end is stamped, with the next run's time
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ run 1 of \S+ ended \(exit 0\); next run at \d{4}-", err), err


def test_progress_line_on_a_terminal_and_plain_lines_otherwise(demo: DemoSite, tmp_path: Path) -> None:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", demo.base, "--db", str(tmp_path / "t.db"),
                             "--since", "2020-01-01", "-s", "DOWNLOAD_DELAY=0.02", "-s", "AUTOTHROTTLE_ENABLED=False"],
                            cwd=tmp_path, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    key = demo.base.split("//")[1].rstrip("/")
    assert f"\r{key}  " in screen and "new 60" in screen  # site, phase, elapsed, queue, rate
    assert re.search(r"\r\S+  [a-z ]+  \d+:\d\d  queue \d+  pages \d+  new \d+ .*pages/s", screen)
    assert any(phase in screen for phase in ("discovering", "fetching articles"))
    plain = run_cli("crawl", demo.base, "--db", str(tmp_path / "p.db"), "--since", "2020-01-01", *FAST)
    assert plain.returncode == 0 and "\r" not in plain.stderr and "\x1b" not in plain.stderr
    assert "60 new" in plain.stderr and plain.stdout == ""


@pytest.mark.reliability
def test_faults_are_recorded_and_retried_by_the_next_run(tmp_path: Path, reliability) -> None:
    site = DemoSite(10)
    names = ("503-503-200", "429-then-200", "500", "404", "410", "redirect-loop", "hang", "not-an-article")
    paths = {name: site.add_fault(name) for name in names}
    db = tmp_path / "a.db"
    args = ("--since", "2020-01-01", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=2")
    with serve(site):
        started = time.monotonic()
        out = crawl(site, db, *args)
        wall = time.monotonic() - started
        con = sqlite3.connect(db)
        failed = {row[0].split("/", 3)[3] for row in con.execute("SELECT url FROM failures")}
        archived = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        first = dict(site.fault_hits)
        again = crawl(site, db, *args)
        attempts = dict(con.execute("SELECT url, attempts FROM failures").fetchall())
    per_endpoint = {name: f"{first[paths[name]]}→{'failed' if paths[name].lstrip('/') in failed else 'archived'}"
                    for name in names}
    reliability(5, "HTTP faults", "a crawl of 10 articles plus one endpoint per fault (DOWNLOAD_TIMEOUT 2 s, "
                "RETRY_TIMES 2), then the same crawl again; figures: requests of the first run → outcome",
                **per_endpoint, crawl_wall_s=round(wall, 1),
                exit_code=out.returncode, articles_archived=archived,
                failures_asked_again_next_run=sum(site.fault_hits[paths[n]] > first[paths[n]] for n in names
                                                  if paths[n].lstrip("/") in failed))
    assert wall < 60
    assert out.returncode == 5, out.stderr  # partial failure
    assert failed == {paths[n].lstrip("/") for n in ("500", "404", "410", "redirect-loop", "hang", "not-an-article")}
    assert archived == 10  # the rest is all there
    assert first[paths["503-503-200"]] == 3 and first[paths["500"]] == 3
    assert first[paths["404"]] == 1  # a 404 is not retried within the run
    assert again.returncode == 5
    for name in ("500", "404", "410"):  # not forgotten: asked again by the next run
        assert site.fault_hits[paths[name]] > first[paths[name]]
    assert set(attempts.values()) == {2}


def test_unreadable_robots_stops_the_crawl_before_any_article(tmp_path: Path) -> None:
    site = DemoSite(5)
    with serve(site):
        original = site.route

        def broken(path, headers):
            if path.startswith("/robots.txt"):
                return 500, {"Content-Type": "text/plain"}, b"oops"
            return original(path, headers)

        site.route = broken  # type: ignore[method-assign]
        out = crawl(site, tmp_path / "a.db")
    assert out.returncode == 3, out.stderr
    assert [p for p in site.fetched() if not p.startswith("/robots.txt")] == []


@pytest.mark.reliability
def test_two_sites_side_by_side_into_one_database_while_reading(tmp_path: Path, reliability) -> None:
    a, b = DemoSite(40), DemoSite(40)
    db = tmp_path / "a.db"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with serve(a, host="127.0.0.1"), serve(b, host="127.0.0.2"):
        procs = [subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", s.base, "--db", str(db), "-q",
                                   "--since", "2020-01-01", *FAST, "-s", "LOG_LEVEL=INFO", "-s", f"LOG_FILE={log}"],
                                  cwd=tmp_path, stderr=subprocess.PIPE, text=True)
                 for s, log in zip((a, b), logs, strict=True)]
        query_ms: list[float] = []
        locked, wal, torn = 0, 0, 0
        while any(p.poll() is None for p in procs):
            with contextlib.suppress(FileNotFoundError):  # (gone between two looks: a checkpoint)
                wal = max(wal, os.path.getsize(f"{db}-wal"))
            if db.exists():
                con = sqlite3.connect(read_only_uri(db), uri=True, timeout=1)
                try:
                    started = time.perf_counter()
                    fts.search(con, ("ha noi", "Điện Biên", "xe buyt*")[len(query_ms) % 3])
                    query_ms.append((time.perf_counter() - started) * 1000)
                except sqlite3.OperationalError as exc:  # the schema may not exist in the first instant
                    locked += "locked" in str(exc)
                except sqlite3.DatabaseError:  # an immutable read opened before the first crawl wrote
                    torn += 1  # (read_only_uri's known race; the writers are not affected)
                finally:
                    con.close()
            time.sleep(0.005)
        errors = [p.communicate()[1] for p in procs]
    con = sqlite3.connect(db)
    counts = dict(con.execute("SELECT site, count(*) FROM articles GROUP BY site").fetchall())
    write_p99 = max(float(m.group(1)) for log in logs
                    for m in [re.search(r"'newsarchive/write_ms_p99': ([0-9.]+)", log.read_text())] if m)
    query_ms.sort()
    reliability(2, "concurrent writers and readers", "two crawls (40 articles each, 127.0.0.1 and 127.0.0.2) into "
                "one archive while a loop of searches reads it", locked_failures=locked + sum(
                    "locked" in e for e in errors), rows=counts, searches=len(query_ms),
                search_p99_ms=query_ms[int(0.99 * (len(query_ms) - 1))], write_p99_ms=write_p99,
                largest_wal_KiB=round(wal / 1024), torn_reads=torn)
    assert [p.returncode for p in procs] == [0, 0], errors
    assert locked == 0 and all("locked" not in e for e in errors)
    assert counts == {"127.0.0.1": 40, "127.0.0.2": 40}
    assert len(query_ms) > 10


def test_scrapy_crawl_onecms_does_the_same_and_feeds_records(demo: DemoSite, tmp_path: Path) -> None:
    from conftest import ROOT

    db, feed = tmp_path / "a.db", tmp_path / "out.jsonl"
    out = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "onecms", "-a", f"site={demo.base}",
                          "-a", "since=2020-01-01", "-s", f"NEWSARCHIVE_DB={db}", "-s", "DOWNLOAD_DELAY=0",
                          "-s", "AUTOTHROTTLE_ENABLED=False", "-O", str(feed)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(stored(db)) == 60
    records = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 60 and all(list(r) == list(records[0]) for r in records)
    assert set(records[0]) >= {"url", "title", "body_text", "published_at", "extractor", "fetched_at"}
    assert json.loads(run_cli("runs", "--db", str(db), "--json").stdout)[0]["outcome"] == "success"
