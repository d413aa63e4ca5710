"""The commands as a user runs them (subprocesses), against pages served on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
from importlib import resources
from pathlib import Path

from conftest import ROBOTS_OK, html_route, run_cli

from newsarchive.record import FIELDS

SEED = resources.files("newsarchive.demo").joinpath("article.html").read_bytes()
SEED_URL = "https://baotainguyenmoitruong.vn/dien-bien-so-thong-tin-va-truyen-thong-trien-khai-nhiem-vu-2024-384142.html"
NO_CANONICAL = SEED.replace(b'<link rel="canonical"', b'<link rel="x-none"').replace(b'property="og:url"', b'property="x"')


def test_scrape_url_prints_record_and_stores_it(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": html_route(SEED)})
    db = tmp_path / "a.db"
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html?utm_source=x"), "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert list(record) == list(FIELDS)
    # the page's canonical link names another site (the seed's): a page is believed only about the
    # site it came from, so the record is of the fetched address, tracking parameters removed
    assert record["url"] == s.url("/a-384142.html") and record["fetched_at"].endswith("Z")
    assert record["site"] == "127.0.0.1" and record["title"] and record["body_text"]
    assert "/robots.txt" in s.requests  # robots.txt was asked first
    assert "User-agent" not in out.stdout
    shown = json.loads(run_cli("show", s.url("/a-384142.html?utm_source=x"), "--json", "--db", str(db)).stdout)
    assert shown == record
    assert run_cli("show", SEED_URL, "--db", str(db)).returncode == 1  # nothing of the other site was made
    con = sqlite3.connect(db)
    assert con.execute("SELECT status, url FROM pages").fetchone() == (200, s.url("/a-384142.html?utm_source=x"))


def test_scrape_again_is_unchanged_and_no_store_stores_nothing(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": html_route(SEED)})
    db = tmp_path / "a.db"
    assert run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--db", str(db)).returncode == 0
    again = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--db", str(db))
    assert "unchanged" in again.stderr
    nostore = tmp_path / "n.db"
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--no-store", "--db", str(nostore))
    assert out.returncode == 0 and "Điện Biên" in out.stdout and not nostore.exists()


def test_scrape_failures_are_one_line_and_store_nothing(site, tmp_path: Path) -> None:
    listing = b"<html><body><ul class='onecms__loading'><li pid='1'>x</li></ul></body></html>"
    s = site({
        "/robots.txt": ROBOTS_OK,
        "/home": html_route(listing),
        "/gone-1.html": html_route(b"gone", status=410),
    })
    db = tmp_path / "a.db"
    for args in (
        ["--allow-private", s.url("/missing-2.html")],
        ["--allow-private", s.url("/gone-1.html")],
        ["--allow-private", s.url("/home")],
        ["--allow-private", "http://127.0.0.1:9/refused-3.html"],
        [str(tmp_path / "no-such-file.html")],
        ["ftp://127.0.0.1/a-1.html"],
        ["file:///etc/passwd"],
        ["data:text/html,<p>x</p>"],
    ):
        out = run_cli("scrape", *args, "--db", str(db))
        # another scheme than http(s) is bad usage (2); the rest are failures (1)
        assert out.returncode == (1 if args[0].startswith(("--", "/")) else 2), (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not db.exists() or sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0] == 0


def test_identifying_user_agent_and_size_limit(site, tmp_path: Path) -> None:
    huge = (200, {"Content-Type": "text/html", "Content-Length": str(2 * 1024**3)}, b"<html>")
    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": html_route(SEED), "/huge-1.html": huge})
    assert run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--no-store").returncode == 0
    assert s.user_agents and all(ua.startswith("newsarchive/") and "+http" in ua for ua in s.user_agents)
    out = run_cli("scrape", "--allow-private", s.url("/huge-1.html"), "--db", str(tmp_path / "a.db"))
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert s.requests.count("/huge-1.html") == 1  # a size refusal is not retried


def test_robots_denial_has_its_own_exit_code(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": (200, {}, b"User-agent: *\nDisallow: /\n"), "/a-384142.html": html_route(SEED)})
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--db", str(tmp_path / "a.db"))
    assert out.returncode == 3 and "robots.txt" in out.stderr
    assert "/a-384142.html" not in s.requests


def test_unreadable_robots_means_disallow(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": (500, {}, b"oops"), "/a-384142.html": html_route(SEED)})
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--db", str(tmp_path / "a.db"))
    assert out.returncode == 3
    assert "/a-384142.html" not in s.requests


def test_missing_robots_means_allow(site, tmp_path: Path) -> None:
    s = site({"/a-384142.html": html_route(SEED)})  # robots.txt is a 404
    out = run_cli("scrape", "--allow-private", s.url("/a-384142.html"), "--db", str(tmp_path / "a.db"))
    assert out.returncode == 0, out.stderr


def test_scrape_local_file_needs_canonical_or_url(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(NO_CANONICAL)
    db = tmp_path / "a.db"
    refused = run_cli("scrape", str(page), "--db", str(db))
    assert refused.returncode == 1 and "--url" in refused.stderr
    ok = run_cli("scrape", str(page), "--url", "https://baotainguyenmoitruong.vn/bai-384142.html", "--json",
                 "--db", str(db))
    assert ok.returncode == 0, ok.stderr
    record = json.loads(ok.stdout)
    assert record["url"] == "https://baotainguyenmoitruong.vn/bai-384142.html"
    con = sqlite3.connect(db)
    assert con.execute("SELECT status, headers FROM pages").fetchone() == (None, None)
    with_canonical = tmp_path / "seed.html"
    with_canonical.write_bytes(SEED)
    assert run_cli("scrape", str(with_canonical), "--no-store").returncode == 0


def test_bad_usage_exits_2(tmp_path: Path) -> None:
    out = run_cli("scrape", "x.html", "--bogus")
    assert out.returncode == 2
    out = run_cli("export", "--since", "last week", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    page = tmp_path / "seed.html"
    page.write_bytes(SEED)
    db = tmp_path / "a.db"
    assert run_cli("scrape", str(page), "--db", str(db)).returncode == 0
    lines = run_cli("export", "--db", str(db)).stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["url"] == SEED_URL
    csv_out = run_cli("export", "--format", "csv", "--db", str(db), "--since", "2024-01-23").stdout
    assert csv_out.startswith("id,url,") and "Hoàng Châu" in csv_out and "a1.jpg" in csv_out
    none = run_cli("export", "--db", str(db), "--since", "2024-01-24").stdout
    assert none == ""


def test_db_from_environment_and_default_location(tmp_path: Path) -> None:
    page = tmp_path / "seed.html"
    page.write_bytes(SEED)
    env_db = tmp_path / "env.db"
    assert run_cli("scrape", str(page), env={"NEWSARCHIVE_DB": str(env_db)}).returncode == 0
    assert env_db.exists()
    assert run_cli("scrape", str(page), cwd=tmp_path).returncode == 0
    assert (tmp_path / "data" / "archive.db").exists()


def test_show_unknown_and_missing_archive(tmp_path: Path) -> None:
    out = run_cli("show", "42", "--db", str(tmp_path / "none.db"))
    assert out.returncode == 1 and "no archive" in out.stderr


def test_demo_runs_offline(tmp_path: Path) -> None:
    out = run_cli("demo", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # the demo backfills its whole site: every one of its 60 articles
    assert "crawl success: 60 new articles" in out.stdout
    con = sqlite3.connect(tmp_path / "data" / "archive.db")
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 60
