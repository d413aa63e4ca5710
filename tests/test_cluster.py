"""Cluster crawling: the one archive writer (newsarchive ingest) against a real Redis server on
127.0.0.1, started by the test (Debian's redis-server; skipped with a message when absent)."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli, slow_pages

from newsarchive import extract
from newsarchive.demo.site import DemoSite
from newsarchive.store import RawPage

redis = pytest.importorskip("redis", reason="the cluster extra is not installed: pip install '.[cluster]'")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed here (Debian: apt install redis-server; .ci/run installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def page_items(site: DemoSite, ids: list[int]) -> list[dict]:
    """What a worker pushes for fetched article pages: the record and the raw page."""
    from newsarchive.cluster import encode_page

    items = []
    for aid in ids:
        url, body = site.articles[aid].url, site.article_page(aid)
        headers = {"Content-Type": "text/html; charset=utf-8", "ETag": f'"{aid}"'}
        record = extract(body, url, headers=headers)
        items.append({"type": "page", "key": "demo", "record": record, "request_url": url,
                      "page": encode_page(RawPage(url, body, 200, headers, record["fetched_at"]))})
    return items


def push_all(url: str, items: list[dict]) -> None:
    from newsarchive.cluster import connect, push

    client = connect(url)
    for item in items:
        push(client, item)
    client.close()


def ingest(url: str, db: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("ingest", "--redis", url, "--db", str(db), "--until-idle", "0.5", *args, env=env)


def test_ingest_stores_what_workers_pushed(redis_url: str, tmp_path: Path) -> None:
    site = DemoSite(12)
    items = page_items(site, site.order)
    items.append({"type": "failed", "key": "demo", "url": "http://127.0.0.1/loi-500-990000.html", "error": "HTTP 500"})
    items.append({"type": "checked", "url": items[0]["record"]["url"], "fetched_at": "2030-01-01T00:00:00Z",
                  "headers": {"ETag": '"v2"'}})
    push_all(redis_url, items)
    db = tmp_path / "a.db"
    out = ingest(redis_url, db)
    assert out.returncode == 0, out.stderr
    assert "ingested 14 items" in out.stderr and "12 new" in out.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 12
    assert con.execute("SELECT url, attempts FROM failures").fetchall() == [("http://127.0.0.1/loi-500-990000.html", 1)]
    assert con.execute("SELECT last_checked, etag FROM articles WHERE url = ?", (items[0]["record"]["url"],)
                       ).fetchone() == ("2030-01-01T00:00:00Z", '"v2"')
    exported = {r["url"]: r for r in map(json.loads, run_cli("export", "--db", str(db)).stdout.splitlines())}
    assert exported[items[1]["record"]["url"]] == items[1]["record"]  # the worker's record, as it was
    client = redis.Redis.from_url(redis_url)
    assert client.llen("newsarchive:records") == 0 and client.llen("newsarchive:records:ingesting") == 0


@pytest.mark.parametrize("point", ["ingest-before-commit", "ingest-after-commit"])
def test_a_writer_killed_mid_batch_loses_and_duplicates_nothing(redis_url: str, tmp_path: Path, point: str) -> None:
    site = DemoSite(30)
    items = page_items(site, site.order)
    items.insert(5, {"type": "failed", "key": "demo", "url": "http://127.0.0.1/loi-500-990000.html", "error": "x"})
    push_all(redis_url, items)
    db = tmp_path / "a.db"
    killed = ingest(redis_url, db, "--batch", "10", env={"NEWSARCHIVE_FAILPOINT": point})
    assert killed.returncode == -9
    con = sqlite3.connect(db)
    stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored == (0 if point == "ingest-before-commit" else 9)  # the first batch: 9 pages and 1 failure
    client = redis.Redis.from_url(redis_url)
    assert client.llen("newsarchive:records:ingesting") == 10  # claimed, not acknowledged
    again = ingest(redis_url, db, "--batch", "10")
    assert again.returncode == 0, again.stderr
    assert ("1 replayed batches acknowledged" in again.stderr) == (point == "ingest-after-commit")
    assert con.execute("SELECT count(*), count(DISTINCT url), max(revision_count) FROM articles").fetchone() == (
        30, 30, 1)
    assert con.execute("SELECT attempts FROM failures").fetchall() == [(1,)]  # not counted twice
    assert client.llen("newsarchive:records") == 0 and client.llen("newsarchive:records:ingesting") == 0
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_ingest_errors_are_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    out = run_cli("ingest", "--redis", f"redis://127.0.0.1:{port}/0", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 1 and out.stderr.startswith("error: cannot use Redis") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


# -- workers ------------------------------------------------------------------------------------------

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4",
        "-s", "NEWSARCHIVE_DEAD_AFTER=5"]


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    import os
    import sys

    from conftest import ROOT

    return subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def stop_when_drained(redis_url: str, writer: subprocess.Popen[str]) -> None:
    """Wait until the writer has taken everything the workers pushed, then stop it (SIGTERM)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 60
    while client.llen("newsarchive:records") or client.llen("newsarchive:records:ingesting"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    client.close()
    writer.terminate()
    writer.communicate(timeout=60)


def comparable(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    return {r["url"]: {k: v for k, v in r.items() if k != "fetched_at"} for r in map(json.loads, out.stdout.splitlines())}


def reference(site: DemoSite, tmp_path: Path) -> dict[str, dict]:
    db = tmp_path / "ref.db"
    assert run_cli("crawl", site.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST).returncode == 0
    return comparable(db)


def article_fetches(site: DemoSite, since: int = 0) -> dict[str, int]:
    from collections import Counter

    return Counter(p.split("?")[0] for p, _ in site.requests[since:] if p.endswith(".html"))


def test_three_workers_and_one_writer_make_the_archive_one_crawl_makes(redis_url: str, tmp_path: Path) -> None:
    from newsarchive.demo.site import serve

    site = DemoSite(120)
    with serve(site):
        want = reference(site, tmp_path)
        before = len(site.requests)
        db = tmp_path / "c.db"
        writer = start("ingest", "--redis", redis_url, "--db", str(db), cwd=tmp_path)
        workers = [start("crawl", site.base, "--redis", redis_url, "--db", str(db), "--since", "2020-01-01", "-q",
                         *FAST, cwd=tmp_path)]
        workers += [start("crawl", site.base, "--redis", redis_url, "-q", *FAST, cwd=tmp_path) for _ in range(2)]
        results = [w.communicate(timeout=180) for w in workers]
        assert [w.returncode for w in workers] == [0, 0, 0], [r[1][-6000:] for r in results]
        stop_when_drained(redis_url, writer)
        assert writer.returncode == 0
        fetched = article_fetches(site, before)
        assert comparable(db) == want
        assert [u for u, n in fetched.items() if n > 1] == []  # the shared frontier: no article fetched twice
        # a second run re-checks what is archived, conditionally, as a local crawl does
        site.edit(site.order[0], paragraphs=["Bản sửa: đoạn duy nhất của bài."])
        writer = start("ingest", "--redis", redis_url, "--db", str(db), cwd=tmp_path)
        recheck = start("crawl", site.base, "--redis", redis_url, "--db", str(db), "--recheck", "-q", *FAST, cwd=tmp_path)
        assert recheck.wait(timeout=180) == 0, recheck.communicate()[1][-2000:]
        recheck.communicate()
        stop_when_drained(redis_url, writer)
        local = run_cli("crawl", site.base, "--db", str(tmp_path / "ref.db"), "--recheck", "-q", *FAST)
        assert local.returncode == 0, local.stderr
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert [(r["outcome"], r["articles_new"]) for r in runs][-1] == ("success", 120), (
        sqlite3.connect(db).execute("SELECT url, error, attempts FROM failures").fetchall())
    local_runs = json.loads(run_cli("runs", "--db", str(tmp_path / "ref.db"), "--json").stdout)
    counts = [(r["articles_new"], r["articles_revised"], r["articles_unchanged"]) for r in (runs[0], local_runs[0])]
    assert counts[0] == counts[1] and counts[0][:2] == (0, 1)  # the edit; 304s for the rest of the window
    shown = json.loads(run_cli("show", site.articles[site.order[0]].url, "--revisions", "--json", "--db", str(db)).stdout)
    assert [r["reason"] for r in shown["revisions"]] == ["first", "edit"]


def three_workers(site: DemoSite, redis_url: str, tmp_path: Path, settings: list[str]) -> None:
    """A planning worker and two more crawl ``site`` (no writer: what they push stays in Redis)."""
    from newsarchive.demo.site import serve

    with serve(site):
        db = tmp_path / "c.db"
        workers = [start("crawl", site.base, "--redis", redis_url, "--db", str(db), "--since", "2020-01-01", "-q",
                         *settings, cwd=tmp_path)]
        workers += [start("crawl", site.base, "--redis", redis_url, "-q", *settings, cwd=tmp_path) for _ in range(2)]
        for w in workers:
            w.communicate(timeout=180)


def test_site_delay_holds_across_workers(redis_url: str, tmp_path: Path) -> None:
    site = DemoSite(8)
    three_workers(site, redis_url, tmp_path,
                  ["-s", "DOWNLOAD_DELAY=0.3", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"])
    times = [t for (p, _), t in zip(site.requests, site.times, strict=True) if not p.startswith("/robots.txt")]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) > 10 and min(gaps) >= 0.28, sorted(gaps)[:5]


def test_site_concurrency_holds_across_workers(redis_url: str, tmp_path: Path) -> None:
    site = DemoSite(30)
    slow_pages(site)
    # DOWNLOAD_DELAY 0: Scrapy 2.19 itself then sends a burst past CONCURRENT_REQUESTS_PER_DOMAIN
    three_workers(site, redis_url, tmp_path,
                  ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"])
    assert len(site.requests) > 30 and site.most_active == 1


def test_killing_a_worker_and_the_writer_mid_crawl_loses_and_duplicates_nothing(redis_url: str, tmp_path: Path) -> None:
    import signal

    from newsarchive.demo.site import serve

    site = DemoSite(120)
    slow = [*FAST, "-s", "DOWNLOAD_DELAY=0.01", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
    with serve(site):
        want = reference(site, tmp_path)
        before = len(site.requests)
        db = tmp_path / "c.db"
        writer = start("ingest", "--redis", redis_url, "--db", str(db), "--batch", "5", cwd=tmp_path)
        planner = start("crawl", site.base, "--redis", redis_url, "--db", str(db), "--since", "2020-01-01", "-q", *slow,
                        cwd=tmp_path)
        doomed = start("crawl", site.base, "--redis", redis_url, "-q", *slow, cwd=tmp_path)
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while sqlite_count(db) < 30:  # well into the run
            assert time.monotonic() < deadline and planner.poll() is None
            time.sleep(0.05)
        doomed.send_signal(signal.SIGKILL)
        writer.send_signal(signal.SIGKILL)
        doomed.communicate()
        writer.communicate()
        claims_of_the_dead = sum(client.hlen(k) for k in client.keys("newsarchive:site:*:claims:*"))
        again = start("ingest", "--redis", redis_url, "--db", str(db), "--batch", "5", cwd=tmp_path)
        helper = start("crawl", site.base, "--redis", redis_url, "-q", *slow, cwd=tmp_path)
        for w in (planner, helper):
            out, err = w.communicate(timeout=180)
            assert w.returncode == 0, err[-2000:]
        client.close()
        stop_when_drained(redis_url, again)
    got = comparable(db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), count(DISTINCT url), max(revision_count) FROM articles").fetchone() == (
        120, 120, 1)
    assert got == want  # nothing lost, nothing twice
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # what the killed worker had claimed was put back and fetched again: at most what it can hold
    # at once (Scrapy's CONCURRENT_REQUESTS: downloading, or downloaded and not yet handed on)
    from newsarchive.crawl import settings as project

    twice = [u for u, n in article_fetches(site, before).items() if n > 1]
    assert len(twice) <= project.CONCURRENT_REQUESTS and len(twice) <= claims_of_the_dead, (twice, claims_of_the_dead)


def sqlite_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM articles").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_two_workers_archive_the_media_as_a_local_crawl_does(redis_url: str, tmp_path: Path) -> None:
    """Media in a cluster (docs/cluster.md): workers fetch the files and hand them to the writer,
    which alone writes the media file beside the archive; a second cluster run fetches none again."""
    from collections import Counter

    from newsarchive.demo.site import DemoMediaHost, serve, serve_media
    from newsarchive.media import media_path

    private = ["-s", "NEWSARCHIVE_ALLOW_PRIVATE=True"]  # the media host is loopback
    host = DemoMediaHost()
    with serve_media(host) as media_base:
        site = DemoSite(12, media_base=media_base)
        with serve(site):
            local = tmp_path / "local.db"
            assert run_cli("crawl", site.base, "--db", str(local), "-q", "--since", "2020-01-01", *FAST,
                           *private).returncode == 0
            local_fetches = len(host.fetched())
            db = tmp_path / "c.db"
            writer = start("ingest", "--redis", redis_url, "--db", str(db), cwd=tmp_path)
            workers = [start("crawl", site.base, "--redis", redis_url, "--db", str(db), "--since", "2020-01-01",
                             "-q", *FAST, *private, cwd=tmp_path),
                       start("crawl", site.base, "--redis", redis_url, "-q", *FAST, *private, cwd=tmp_path)]
            results = [w.communicate(timeout=180) for w in workers]
            assert [w.returncode for w in workers] == [0, 0], [r[1][-3000:] for r in results]
            stop_when_drained(redis_url, writer)
            cluster_fetches = Counter(host.fetched()[local_fetches:])
    want = sqlite3.connect(media_path(local)).execute("SELECT url, sha256 FROM media_urls ORDER BY url").fetchall()
    got = sqlite3.connect(media_path(db)).execute("SELECT url, sha256 FROM media_urls ORDER BY url").fetchall()
    assert want and got == want  # every file the local crawl holds, held by the writer, the same bytes
    assert sqlite3.connect(media_path(db)).execute("SELECT count(*) FROM media_failures").fetchone()[0] == 0
    files = [p for p in cluster_fetches if p != "/robots.txt"]
    assert files and max(cluster_fetches[p] for p in files) == 1  # no file fetched twice across the workers
    refs = sqlite3.connect(db).execute("SELECT count(*) FROM media_refs").fetchone()[0]
    assert refs == sqlite3.connect(local).execute("SELECT count(*) FROM media_refs").fetchone()[0]
    shown = json.loads(run_cli("export", "--db", str(db)).stdout.splitlines()[0])
    assert all("sha256" in i for i in shown["images"])


def test_scrapy_crawl_with_newsarchive_redis_is_a_cluster_worker(redis_url: str, tmp_path: Path) -> None:
    """``scrapy crawl onecms -a site=… -s NEWSARCHIVE_REDIS=…`` (the project's scrapy.cfg) works as
    ``newsarchive crawl --redis``: the writer's archive gets every article."""
    import os
    import sys

    from conftest import ROOT

    from newsarchive.demo.site import serve

    site = DemoSite(20)
    with serve(site):
        db = tmp_path / "c.db"
        writer = start("ingest", "--redis", redis_url, "--db", str(db), cwd=tmp_path)
        out = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "onecms", "-a", f"site={site.base}",
                              "-a", "since=2020-01-01", "-s", f"NEWSARCHIVE_REDIS={redis_url}",
                              "-s", f"NEWSARCHIVE_DB={db}", "-s", "NEWSARCHIVE_MEDIA=False", "-s", "DOWNLOAD_DELAY=0",
                              "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO"],
                             cwd=ROOT, capture_output=True, text=True, timeout=180,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr[-3000:]
        assert "newsarchive.cluster.components.PushPipeline" in out.stderr  # the worker's pipeline, enabled
        stop_when_drained(redis_url, writer)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 20
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert runs[0]["outcome"] == "success" and runs[0]["articles_new"] == 20


class CountingRedis:
    """A stand-in for a Redis client that counts round trips (a pipeline's execute is one)."""

    def __init__(self, known: set[str]) -> None:
        self.known, self.sets, self.round_trips = known, {}, 0

    def register_script(self, source: str):  # noqa: ANN201
        def run(keys: list[str], args: list) -> int:
            self.round_trips += 1
            return 1
        return run

    def sismember(self, key: str, value: str, count: bool = True) -> bool:
        self.round_trips += count
        return value in (self.known if key.endswith(":urls") else self.sets.get(key, set()))

    def sadd(self, key: str, value: str) -> int:
        self.round_trips += 1
        before = len(self.sets.setdefault(key, set()))
        self.sets[key].add(value)
        return len(self.sets[key]) - before

    def get(self, key: str) -> None:
        self.round_trips += 1

    def scard(self, key: str) -> int:
        self.round_trips += 1
        return len(self.sets.get(key, set()))

    def pipeline(self, transaction: bool = False) -> CountingRedis.Pipe:
        return CountingRedis.Pipe(self)

    class Pipe:
        def __init__(self, client: CountingRedis) -> None:
            self.client, self.calls = client, []

        def sismember(self, key: str, value: str) -> None:
            self.calls.append(("sismember", key, value))

        def sadd(self, key: str, value: str) -> None:
            self.calls.append(("sadd", key, value))

        def scard(self, key: str) -> None:
            self.calls.append(("scard", key, None))

        def execute(self) -> list:
            self.client.round_trips += 1
            out = []
            for op, key, value in self.calls:
                if op == "sismember":
                    out.append(self.client.sismember(key, value, count=False))
                elif op == "sadd":
                    self.client.round_trips -= 1  # (counted once, for the whole pipeline)
                    out.append(self.client.sadd(key, value))
                else:
                    out.append(len(self.client.sets.get(key, set())))
            return out


def test_a_workers_listing_costs_a_round_trip_per_page_not_per_link() -> None:
    """The links of a feed are looked up in Redis at once (known? requested?), not one by one."""
    from datetime import datetime, timedelta

    from newsarchive.spiders.onecms import OneCMSSpider
    from scrapy.http import Request, XmlResponse

    from newsarchive.cluster.worker import RedisFrontier
    from newsarchive.crawl.plan import CrawlPlan
    from newsarchive.urls import canonical

    base = "http://127.0.0.1/"  # an unserved demo site: its links as they are
    feed = XmlResponse(base + "rss/trang-chu.rss", body=DemoSite(40).rss(None), encoding="utf-8",
                       request=Request(base + "rss/trang-chu.rss"))
    links = feed.xpath("//item/link/text()").getall()
    assert len(links) >= 5 and all(u.startswith(base) for u in links)
    newest = datetime.fromisoformat("2099-01-01T00:00:00+07:00")
    plan = CrawlPlan(key="127.0.0.1", base=base, site="127.0.0.1", floor=newest - timedelta(days=36500),
                     window=timedelta(days=7), stop_at_known=False, newest_archived=None)
    for known in (set(), {canonical(u) for u in links}):  # a backfill of new links; all of them archived
        client = CountingRedis(known)
        spider = OneCMSSpider(site=base)
        spider.crawler = type("C", (), {"stats": type("S", (), {"inc_value": lambda *a, **k: None,
                                                                 "set_value": lambda *a, **k: None})()})()
        spider.plan = plan
        spider.frontier = RedisFrontier(plan, client, "newsarchive:site:x:", "run", seeds=False)
        requests = list(spider.parse_rss(feed))
        assert len(requests) == (len(links) if not known else 0)
        # one look-up for the whole feed (known? requested?), the newest time once; the feed's
        # claims are then confirmed at once (the ClaimAck middleware calls settle after the callback)
        assert client.round_trips <= 3, client.round_trips
        assert spider.frontier.settle() == set() and client.round_trips <= 4, client.round_trips
        assert len(client.sets.get("newsarchive:site:x:articles", ())) == len(requests)


def politeness(redis_url: str, delay: float, limit: int) -> tuple[object, object]:
    """A cluster worker's SharedSitePoliteness on a crawler of its own (settings, signals, a
    downloader that puts every request in one slot), and a Redis client to look at its places."""
    from types import SimpleNamespace

    from scrapy.settings import Settings
    from scrapy.signalmanager import SignalManager

    from newsarchive.cluster.components import SharedSitePoliteness

    settings = Settings({"NEWSARCHIVE_REDIS": redis_url, "NEWSARCHIVE_SITE_DELAY": delay,
                         "CONCURRENT_REQUESTS_PER_DOMAIN": limit, "DOWNLOAD_TIMEOUT": 180})
    downloader = SimpleNamespace(get_slot_key=lambda request: "127.0.0.1", slots={})
    crawler = SimpleNamespace(settings=settings, signals=SignalManager(), engine=SimpleNamespace(downloader=downloader))
    return SharedSitePoliteness.from_crawler(crawler), redis.Redis.from_url(redis_url)


def test_a_workers_site_places_never_outlive_its_requests(redis_url: str) -> None:
    """A place taken for a download is given back when the download ends, when the request is
    cancelled while it waits for the site's delay, and when the worker closes with requests that
    never reached the network (a stop drains the download slots: no request_left_downloader);
    before, the last two held the site "full" for every worker until DOWNLOAD_TIMEOUT + 30 s."""
    import asyncio

    from scrapy import Request, signals

    mw, client = politeness(redis_url, delay=30.0, limit=4)
    busy = "newsarchive:busy:127.0.0.1"

    async def scenario() -> list[int]:
        seen = []
        first, second, third = (Request(f"http://127.0.0.1/{i}.html") for i in range(3))
        await mw.process_request(first)  # the site's time is free: at once
        waiting = asyncio.ensure_future(mw.process_request(second))  # the site's next time is 30 s away
        await asyncio.sleep(0.3)
        seen.append(client.zcard(busy))  # 2: both hold a place
        waiting.cancel()  # the run stops while it waits
        await asyncio.gather(waiting, return_exceptions=True)
        seen.append(client.zcard(busy))  # 1
        client.delete("newsarchive:delay:127.0.0.1")
        await mw.process_request(third)
        mw.crawler.signals.send_catch_log(signals.request_left_downloader, request=third, spider=None)
        for _ in range(50):  # the release is sent without waiting for its answer
            await asyncio.sleep(0.02)
            if client.zcard(busy) == 1:
                break
        seen.append(client.zcard(busy))  # 1: the first's download never ended (drained by a stop)
        mw.crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="shutdown")
        seen.append(client.zcard(busy))  # 0
        await asyncio.sleep(0.1)  # (its Redis connections close)
        return seen

    try:
        assert asyncio.run(scenario()) == [2, 1, 1, 0]
    finally:
        client.close()


def test_a_full_site_waits_for_a_place_across_workers(redis_url: str) -> None:
    """The concurrency limit counts every worker's places: a request waits while the site is full
    and goes as soon as another worker's download ends."""
    import asyncio

    from scrapy import Request, signals

    one, client = politeness(redis_url, delay=0.0, limit=1)
    other, _ = politeness(redis_url, delay=0.0, limit=1)
    busy = "newsarchive:busy:127.0.0.1"

    async def scenario() -> tuple[bool, float]:
        first, second = Request("http://127.0.0.1/1.html"), Request("http://127.0.0.1/2.html")
        await one.process_request(first)
        waiting = asyncio.ensure_future(other.process_request(second))
        await asyncio.sleep(0.3)
        blocked = not waiting.done() and client.zcard(busy) == 1
        started = time.monotonic()
        one.crawler.signals.send_catch_log(signals.request_left_downloader, request=first, spider=None)
        await asyncio.wait_for(waiting, 5)
        after = time.monotonic() - started
        for mw in (one, other):
            mw.crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="finished")
        await asyncio.sleep(0.1)
        return blocked, after

    try:
        blocked, after = asyncio.run(scenario())
        assert blocked and after < 2, after  # (a place frees in one poll, not at its expiry)
        assert client.zcard(busy) == 0  # the second's place, given back at close
    finally:
        client.close()
