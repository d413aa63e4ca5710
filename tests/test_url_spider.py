"""`scrapy crawl url -a url=…` as a Scrapy user runs it (from the project root): the article is
archived as `newsarchive scrape` archives it, the item is its record, and Scrapy's INFO log shows."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import ROBOTS_OK, html_route
from test_cli import SEED

ROOT = Path(__file__).resolve().parent.parent


def scrapy_crawl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NEWSARCHIVE_DB", "SCRAPY_SETTINGS_MODULE")}
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "url", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_scrapy_crawl_url_archives_like_scrape(site, tmp_path: Path) -> None:
    s = site({"/robots.txt": ROBOTS_OK, "/a-384142.html": html_route(SEED), "/home": html_route("<p>hi</p>")})
    db, feed = tmp_path / "a.db", tmp_path / "out.jsonl"
    out = scrapy_crawl("-a", f"url={s.url('/a-384142.html?utm_source=x')}", "-s", f"NEWSARCHIVE_DB={db}",
                       "-O", str(feed))
    assert out.returncode == 0, out.stderr
    assert "INFO: Spider opened" in out.stderr and "INFO: Spider closed (finished)" in out.stderr  # Scrapy's log
    assert f"archived {s.url('/a-384142.html')} as id 1 (new, 1 revision(s))" in out.stderr
    record = json.loads(feed.read_text(encoding="utf-8"))
    assert record["url"] == s.url("/a-384142.html") and record["title"] and record["extractor"] == "onecms"
    con = sqlite3.connect(db)
    assert json.loads(con.execute("SELECT record FROM revisions").fetchone()[0])["title"] == record["title"]
    assert con.execute("SELECT status FROM pages").fetchone() == (200,)
    # a page that is not an article: one ERROR line, nothing stored
    out = scrapy_crawl("-a", f"url={s.url('/home')}", "-s", f"NEWSARCHIVE_DB={db}")
    assert "ERROR: not an article" in out.stderr and "Traceback" not in out.stderr
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
