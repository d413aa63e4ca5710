"""One site, one name: every spelling of a site (registry key, host, host:port, base URL) is the
same site for the crawl lock, the plan, failures, runs and every --site filter."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import LoopbackSite, html_route, run_cli, slow_pages

from newsarchive.demo.site import DemoSite, serve
from newsarchive.sites import resolve
from newsarchive.store import Archive
from newsarchive.store.migrations import MIGRATIONS

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def test_every_spelling_of_a_site_is_one_identity() -> None:
    spellings = ["baonghean", "BAONGHEAN", "baonghean.vn", "www.baonghean.vn", "https://baonghean.vn/",
                 "http://www.baonghean.vn", "https://baonghean.vn:443/"]
    assert {resolve(s).key for s in spellings} == {"baonghean.vn"}
    assert resolve("baonghean").name == "Báo Nghệ An" and resolve("baonghean").host == "baonghean.vn"
    local = ["127.0.0.1:8123", "http://127.0.0.1:8123", "http://127.0.0.1:8123/"]
    assert {resolve(s).key for s in local} == {"127.0.0.1:8123"}
    assert resolve("127.0.0.1:8123").host == "127.0.0.1"
    assert resolve("http://127.0.0.1:8123/xa-hoi/y-te/").path == "/xa-hoi/y-te"
    for bad in ("", "khongco", "htp://baonghean.vn", "baonghean.vn:http"):
        with pytest.raises(ValueError):
            resolve(bad)


def test_runs_and_failures_of_old_spellings_are_moved_to_the_identity(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, fn in MIGRATIONS:
        if name.startswith("008"):
            break
        conn.execute("BEGIN")
        fn(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, 'x')", (name,))
        conn.execute("COMMIT")
    for key in ("baonghean", "congly.vn:443", "www.hanoimoi.vn", "127.0.0.1:8123"):
        conn.execute("INSERT INTO runs(site, base_url, started_at) VALUES (?, 'x', '2026-01-01T00:00:00Z')", (key,))
    conn.execute("INSERT INTO failures(url, site, first_failed, last_failed, attempts, error)"
                 " VALUES ('https://baonghean.vn/a-1.html', 'baonghean', 'x', 'x', 1, 'HTTP 500')")
    conn.close()
    with Archive(db) as archive:  # migrates
        sites = [r[0] for r in archive.conn.execute("SELECT site FROM runs ORDER BY id")]
        failed = archive.conn.execute("SELECT site FROM failures").fetchone()[0]
    assert sites == ["baonghean.vn", "congly.vn", "hanoimoi.vn", "127.0.0.1:8123"]
    assert failed == "baonghean.vn"


def test_every_command_takes_any_spelling_of_a_site(tmp_path: Path) -> None:
    site = DemoSite(6)
    db = tmp_path / "a.db"
    with serve(site) as base:
        key = base.split("//")[1].rstrip("/")
        out = run_cli("crawl", key, "--db", str(db), "--since", "2020-01-01", *FAST)  # host:port spelling
        assert out.returncode == 0, out.stderr
        assert f"crawling {key} at {base}" in out.stderr
    for spelling in (key, base, base.rstrip("/"), "127.0.0.1"):
        runs = json.loads(run_cli("runs", "--db", str(db), "--site", spelling, "--json").stdout)
        assert [r["site"] for r in runs] == [key], spelling
        hits = json.loads(run_cli("search", "tin", "--db", str(db), "--site", spelling, "--json", "--limit", "50").stdout)
        assert len(hits) == 6, spelling
        exported = run_cli("export", "--db", str(db), "--site", spelling).stdout.splitlines()
        assert len(exported) == 6, spelling
    other_port = "127.0.0.1:1"
    assert run_cli("export", "--db", str(db), "--site", other_port).stdout == ""
    assert json.loads(run_cli("runs", "--db", str(db), "--site", other_port, "--json").stdout) == []
    said = run_cli("export", "--db", str(db), "--site", base)
    assert f"site: {key}" in said.stderr  # says what it resolved to
    bad = run_cli("search", "tin", "--db", str(db), "--site", "khongco")
    assert bad.returncode == 2 and "khongco" in bad.stderr


def test_two_spellings_of_one_site_cannot_crawl_it_at_once(tmp_path: Path) -> None:
    site = DemoSite(40)
    slow_pages(site, 0.2)
    db = tmp_path / "a.db"
    with serve(site) as base, tempfile.TemporaryDirectory() as neutral:
        env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
        first = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", base, "--db", str(db), "-q",
                                  "--since", "2020-01-01", *FAST], cwd=neutral, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lock = db.with_name(f"{db.name}-crawl-{base.split('//')[1].rstrip('/').replace(':', '_')}.lock")
        deadline = time.monotonic() + 30
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_cli("crawl", base.split("//")[1].rstrip("/"), "--db", str(db), "-q", *FAST)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert second.returncode == 4, second.stderr
    assert "lock held" in second.stderr
    assert not lock.exists()  # removed when its crawl ended
    assert sorted(p.name for p in tmp_path.iterdir() if "lock" in p.name) == []


def test_a_base_url_with_a_path_crawls_that_category_or_refuses(tmp_path: Path) -> None:
    site = DemoSite(30)
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = run_cli("crawl", base + "xa-hoi/y-te/", "--db", str(db), "--since", "2020-01-01", *FAST)
        article = run_cli("crawl", site.url(site.order[0]), "--db", str(db), *FAST)
        unknown = run_cli("crawl", base, "--category", "khong-co", "--db", str(db), *FAST)
    assert out.returncode == 0, out.stderr
    assert "category /xa-hoi/y-te" in out.stderr
    paths = [p for p, _ in site.requests]
    assert "/xa-hoi/y-te" in paths and "/" not in paths and "/tin-moi-nhat" not in paths
    with sqlite3.connect(db) as con:
        sections = {r[0] for r in con.execute("SELECT s.name FROM articles a JOIN sections s ON s.id = a.section_id")}
    assert sections == {"Y tế"}
    assert article.returncode == 2 and "newsarchive scrape" in article.stderr
    assert len(article.stderr.strip().splitlines()) == 1 or "Usage" in article.stderr
    assert unknown.returncode == 2, unknown.stderr
    assert "no category /khong-co" in unknown.stderr


def test_a_crawl_that_finds_no_onecms_site_is_not_a_success(site, tmp_path: Path) -> None:
    s: LoopbackSite = site({"/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\n"),
                            "/": html_route("<html><body><h1>Xin chào</h1><p>Trang cá nhân.</p></body></html>")})
    db = tmp_path / "a.db"
    out = run_cli("crawl", s.base, "--db", str(db), *FAST)
    assert out.returncode == 1, out.stderr
    assert "no OneCMS site at" in out.stderr and len(out.stderr.strip().splitlines()) == 2  # the start line + error
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert runs[0]["outcome"] == "not_onecms"


def test_two_sites_on_one_host_are_two_sites(tmp_path: Path) -> None:
    """Two demo sites on two ports of 127.0.0.1 carry the same OneCMS ids: neither may see the other's
    articles as its own (known, or a revision of the same id)."""
    db = tmp_path / "a.db"
    one, two = DemoSite(5), DemoSite(5)
    with serve(one) as base_one, serve(two) as base_two:
        two.edit(two.order[0], title="Một tiêu đề khác")
        first = run_cli("crawl", base_one, "--db", str(db), "-q", "--since", "2020-01-01", *FAST)
        second = run_cli("crawl", base_two, "--db", str(db), "-q", "--since", "2020-01-01", *FAST)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT url, revision_count FROM articles").fetchall()
    assert len(rows) == 10 and all(count == 1 for _, count in rows)
    assert sum(url.startswith(base_two) for url, _ in rows) == 5


def test_a_second_demo_into_the_same_archive_is_the_same_site(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"NEWSARCHIVE_DEMO_PORT": str(port)}  # the demo's fixed port, as 8123 is by default
    db = tmp_path / "a.db"
    first = run_cli("demo", "--articles", "12", "--db", str(db), env=env)
    second = run_cli("demo", "--articles", "12", "--db", str(db), env=env)
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "crawl success: 12 new" in first.stdout
    assert "crawl success: 0 new" in second.stdout and "the archive holds 12" in second.stdout
    with sqlite3.connect(db) as con:
        urls = [r[0] for r in con.execute("SELECT url FROM articles")]
    assert len(urls) == 12 and all(u.startswith(f"http://127.0.0.1:{port}/") for u in urls)
    # the port taken: the demo says so and runs on another, as another site
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        third = run_cli("demo", "--articles", "12", "--db", str(db), env=env)
    assert third.returncode == 0 and f"port {port} is taken" in third.stderr
    assert "crawl success: 12 new" in third.stdout
