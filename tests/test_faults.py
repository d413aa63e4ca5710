"""Faults the web and the machine throw at a crawl: oversized and compressed-bomb bodies, slow and
dead servers, names that do not resolve, a full disk. Every server is on loopback."""

from __future__ import annotations

import codecs
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from conftest import ROBOTS_OK, ROOT, run_cli
from test_decode import cp1258
from test_variants import article as variant_article

from newsarchive.demo.site import DemoSite, bomb, serve
from newsarchive.demo.templates import expected, render
from newsarchive.store import Archive

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]


# the CLI, reporting its own peak resident memory as its last line of stderr
_SHIM = ("import atexit, sys\n"
         "from newsarchive.crawl.worker import peak_rss_mib\n"
         "atexit.register(lambda: sys.stderr.write(f'\\npeak-rss-kib {int(peak_rss_mib() * 1024)}\\n'))\n"
         "from newsarchive.cli import main\n"
         "sys.argv[0] = 'newsarchive'\n"
         "main()\n")


def run_measured(*args: str, cwd: Path, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run the CLI; return the result, its peak resident memory (MiB) and its wall time (s)."""
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", _SHIM, *args], cwd=cwd, text=True, capture_output=True,
                         timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.monotonic() - started
    lines = out.stderr.rstrip().splitlines()
    assert lines and lines[-1].startswith("peak-rss-kib "), out.stderr
    out.stderr = "\n".join(lines[:-1])
    return out, int(lines[-1].split()[1]) / 1024, wall


def crawl(site: DemoSite, db: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    return run_measured("crawl", site.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST, *args,
                        cwd=db.parent)


def failed_paths(db: Path) -> dict[str, str]:
    con = sqlite3.connect(db)
    try:
        return {url.split("/", 3)[3]: error for url, error in con.execute("SELECT url, error FROM failures")}
    finally:
        con.close()


@pytest.mark.reliability
def test_size_limit_stops_bombs_huge_and_endless_bodies(tmp_path: Path, reliability) -> None:
    names = ("gzip-bomb", "deflate-bomb", "br-bomb", "huge-length", "huge-chunked")
    plain_site = DemoSite(6)
    with serve(plain_site):
        _, plain_peak, _ = crawl(plain_site, tmp_path / "plain.db")
    site = DemoSite(6)
    paths = {name: site.add_fault(name).lstrip("/") for name in names}
    with serve(site):
        out, peak, wall = crawl(site, tmp_path / "a.db")
    failed = failed_paths(tmp_path / "a.db")
    con = sqlite3.connect(tmp_path / "a.db")
    rows = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    sent = {name: len(bomb(name.split("-")[0])) for name in names if name.endswith("bomb")}
    reliability(4, "size limits", "a crawl of 6 articles plus a gzip, a deflate and a brotli bomb (each 1 GiB "
                "inflated), a 2 GiB Content-Length and a 200 MiB chunked body, DOWNLOAD_MAXSIZE 16 MiB",
                compressed_bytes=sent, peak_memory_MiB=round(peak), same_crawl_without_them_MiB=round(plain_peak),
                rows_from_them=rows - 6, articles_archived=rows, wall_s=round(wall, 1), exit_code=out.returncode)
    assert out.returncode == 5, out.stderr  # partial: the rest of the crawl went on
    assert set(failed) == set(paths.values())
    for name in names:
        assert "max size" in failed[paths[name]] or "MAXSIZE" in failed[paths[name]], failed[paths[name]]
    assert rows == 6  # the real articles, no row from a bomb
    assert peak < plain_peak + 100, f"peak memory {peak:.0f} MiB"  # 1 GiB inflated would show here
    assert wall < 120


@pytest.mark.reliability
def test_disk_full_stops_the_crawl_cleanly_and_the_next_run_completes(tmp_path: Path, reliability) -> None:
    site = DemoSite(40)
    db = tmp_path / "a.db"
    with Archive(db) as empty:
        size = empty.conn.execute("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size").fetchone()[0]
    quota = (size + 64 * 1024) / 2**20  # room for a few articles past the empty archive's size
    with serve(site):
        # the archive may not grow past the quota: a full disk as SQLite sees it (SQLITE_FULL)
        full, _, _ = crawl(site, db, "-s", f"NEWSARCHIVE_MAX_DB_MB={quota}")
        con = sqlite3.connect(db)
        kept = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        partial = con.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM revisions r"
                              " WHERE r.article = a.id) OR NOT EXISTS (SELECT 1 FROM pages p WHERE p.article = a.id)"
                              ).fetchone()[0]
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        again, _, _ = crawl(site, db)
    con = sqlite3.connect(db)
    total, urls, ids = con.execute("SELECT count(*), count(DISTINCT url), count(DISTINCT article_id) FROM articles"
                                   ).fetchone()
    lines = full.stderr.strip().splitlines()
    reliability(12, "disk full", "a 40-article crawl into an archive that may not grow past its empty size + 64 KiB "
                "(-s NEWSARCHIVE_MAX_DB_MB, i.e. PRAGMA max_page_count: SQLITE_FULL as on a full disk), then the "
                "same crawl without the limit", exit_code=full.returncode, message=lines[-1] if lines else "",
                articles_kept=kept, partial_articles=partial, integrity=integrity, next_run_exit=again.returncode,
                after_next_run=f"{total} articles, {total - urls} duplicates")
    assert full.returncode == 7, full.stderr
    assert len(lines) == 1 and "full" in lines[0] and "Traceback" not in full.stderr, full.stderr
    assert 0 < kept < 40 and partial == 0 and integrity == "ok"
    assert again.returncode == 0, again.stderr
    assert (total, urls, ids) == (40, 40, 40)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.reliability
def test_slow_dead_and_unresolvable_servers_are_bounded(tmp_path: Path, reliability) -> None:
    site = DemoSite(6)
    paths = {name: site.add_fault(name).lstrip("/") for name in ("drip", "redirect-chain", "redirect-chain-long")}
    timeout, retries = 3, 1
    with serve(site):
        out, _, wall = crawl(site, tmp_path / "a.db", "-s", f"DOWNLOAD_TIMEOUT={timeout}", "-s", f"RETRY_TIMES={retries}")
    hits = {name: site.fault_hits["/" + path] for name, path in paths.items()}
    failed = failed_paths(tmp_path / "a.db")
    chain_requests = sum(1 for p, _ in site.requests if p.startswith("/" + paths["redirect-chain-long"]))
    # nothing listens on a port just closed; a name outside the stub table fails without a DNS query
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused, _, refused_wall = run_measured("crawl", f"http://127.0.0.1:{port}/", "--db", str(tmp_path / "b.db"), "-q",
                                            cwd=tmp_path)
    unresolved, _, dns_wall = run_measured("crawl", f"http://gone.test:{port}/", "--db", str(tmp_path / "c.db"), "-q",
                                           "-s", "NEWSARCHIVE_HOSTS_ONLY=true", cwd=tmp_path)
    reliability(5, "HTTP faults", f"a crawl of 6 articles plus a server that drips one byte a second, a chain of 8 "
                f"redirects to an article and an endless one (DOWNLOAD_TIMEOUT {timeout} s, RETRY_TIMES {retries}, "
                "REDIRECT_MAX_TIMES 10); crawls of a closed port and of a name that does not resolve (stub)",
                drip_requests=hits["drip"], drip_outcome=failed.get(paths["drip"], "archived?"),
                redirect_chain_outcome="followed" if paths["redirect-chain"] not in failed else "failed",
                endless_chain_requests=chain_requests, crawl_wall_s=round(wall, 1), crawl_exit=out.returncode,
                connection_refused=f"exit {refused.returncode} in {refused_wall:.1f} s",
                dns_failure=f"exit {unresolved.returncode} in {dns_wall:.1f} s")
    assert out.returncode == 5, out.stderr
    assert hits["drip"] == retries + 1 and "took longer than 3.0 seconds" in failed[paths["drip"]], failed
    assert paths["redirect-chain"] not in failed  # followed to the article
    assert failed[paths["redirect-chain-long"]] == "max redirections reached"  # recorded under the URL asked for
    assert chain_requests == 11  # the first request and 10 redirects (REDIRECT_MAX_TIMES)
    assert wall < (retries + 1) * timeout + 30
    assert sqlite3.connect(tmp_path / "a.db").execute("SELECT count(*) FROM articles").fetchone()[0] == 6
    for result in (refused, unresolved):
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def _ways(html: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    """One page, seven ways of sending its text."""
    bare = html.replace('<meta charset="utf-8" />', "")
    typ = "text/html"
    return {
        "charset in the header": (bare.encode(), {"Content-Type": f"{typ}; charset=utf-8"}),
        "charset only in a meta tag": (html.encode(), {"Content-Type": typ}),
        "charset nowhere": (bare.encode(), {"Content-Type": typ}),
        "UTF-8 declared as latin-1": (bare.encode(), {"Content-Type": f"{typ}; charset=iso-8859-1"}),
        "NFD text": (unicodedata.normalize("NFD", html).encode(), {"Content-Type": typ}),
        "a BOM": (codecs.BOM_UTF8 + bare.encode(), {"Content-Type": typ}),
        "windows-1258": (cp1258(html.replace('charset="utf-8"', 'charset="windows-1258"')), {"Content-Type": typ}),
    }


@pytest.mark.reliability
def test_one_article_served_seven_ways(site, tmp_path: Path, reliability) -> None:
    routes: dict = {"/robots.txt": ROBOTS_OK}
    s = site(routes)
    articles = {}
    for n, name in enumerate(_ways("")):
        a = variant_article(base=s.base + "/", id=3318952 + n, authors=["Thu Phương", "Đức Anh"])
        body, headers = _ways(render(a))[name]
        routes[f"/{a.slug}-{a.id}.html"] = (200, headers, body)
        articles[name] = a
    db = tmp_path / "a.db"
    codes = {name: run_cli("scrape", "--allow-private", a.url, "--db", str(db), "--json").returncode
             for name, a in articles.items()}
    with Archive(db) as archive:
        got = {name: archive.record(archive.resolve(a.url) or 0) for name, a in articles.items()}
    want = expected(next(iter(articles.values())))  # every field but the URL-derived ones
    wrong = {name: sorted(k for k, v in want.items() if (rec or {}).get(k) != v) for name, rec in got.items()}
    text = json.dumps(got, ensure_ascii=False)
    mojibake = sum(text.count(m) for m in ("Ã", "Ä", "áº", "Æ°"))
    found = json.loads(run_cli("search", "xe buyt dien noi san bay", "--db", str(db), "--json").stdout or "[]")
    reliability(3, "encodings", "the same article scraped over HTTP seven ways: " + ", ".join(articles)
                + "; then an accent-free search", scraped=sum(c == 0 for c in codes.values()),
                fields_differing=sum(map(len, wrong.values())), replacement_chars=text.count("\ufffd"),
                mojibake=mojibake, all_NFC=unicodedata.is_normalized("NFC", text),
                found_by_accent_free_search=f"{len(found)} of {len(articles)}")
    assert set(codes.values()) == {0}, codes
    assert all(not w for w in wrong.values()), wrong
    assert "\ufffd" not in text and mojibake == 0 and unicodedata.is_normalized("NFC", text)
    assert len(found) == len(articles)
