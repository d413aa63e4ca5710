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
from conftest import run_cli

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
