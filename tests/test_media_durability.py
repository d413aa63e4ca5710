"""kill -9 while media are being stored: both files stay sound, nothing claims a file that is not
held, and the next run completes the media without fetching again what was held."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.demo.site import DemoMediaHost, DemoSite, serve, serve_media
from newsarchive.media import media_path

ARTICLES = 30
ARGS = ["--since", "2020-01-01", "-q", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "NEWSARCHIVE_ALLOW_PRIVATE=True"]


class SlowMediaHost(DemoMediaHost):
    """Media files take a while to answer: the run is killed with files in flight and in the queue."""

    delay = 0.15

    def route(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/robots.txt"):
            time.sleep(self.delay)
        return super().route(path)


def count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or mid-creation
        return 0


def crawl_killed_once_media_held(site: DemoSite, db: Path, files: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", site.base, "--db", str(db), *ARGS],
                            cwd=db.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if count(media_path(db), "SELECT count(*) FROM media_urls") >= files:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def held_state(db: Path) -> tuple[dict[str, str], dict[str, tuple[str, int, bytes]]]:
    """The media file's URL → SHA-256 map and its files (declared hash and size, body)."""
    with sqlite3.connect(media_path(db)) as m:
        urls = dict(m.execute("SELECT url, sha256 FROM media_urls"))
        files = {sha: (sha, size, bytes(body)) for sha, size, body in m.execute("SELECT sha256, bytes, body FROM media")}
    return urls, files


def served(host: DemoMediaHost, url: str) -> bytes:
    path = url[len(host.base) - 1:]
    return host.audio(path) if path.endswith(".mp3") else host.image(path)


@pytest.mark.reliability
def test_kill_9_while_media_are_stored_then_the_next_run_completes_them(tmp_path: Path, reliability) -> None:
    host = SlowMediaHost()
    with serve_media(host) as media_base:
        site = DemoSite(ARTICLES, media_base=media_base)
        with serve(site):
            db = tmp_path / "a.db"
            crawl_killed_once_media_held(site, db, files=6)
            first_fetches = Counter(p for p in host.fetched() if p != "/robots.txt")
            # what the kill left (the -wal files hold commits not yet in the main files) is checked on a
            # copy: any connection closing last would fold the -wal in, and the next run must find it
            left = sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("a."))
            snap = tmp_path / "snapshot"
            snap.mkdir()
            for name in left:
                shutil.copy2(tmp_path / name, snap / name)
            live, db = db, snap / db.name

            # both files sound after the kill
            integrity = {}
            for path in (db, media_path(db)):
                with sqlite3.connect(path) as con:
                    integrity[path.name] = con.execute("PRAGMA integrity_check").fetchone()[0]
            urls, files = held_state(db)
            with sqlite3.connect(db) as con:
                articles_then = con.execute("SELECT count(*) FROM articles").fetchone()[0]
                refs_then = {u for (u,) in con.execute("SELECT DISTINCT url FROM media_refs")}
            # every held file is the bytes it claims (hash and size) and what the host served for its URL
            bad_blobs = [sha for sha, (_, size, body) in files.items()
                         if hashlib.sha256(body).hexdigest() != sha or len(body) != size]
            dangling = [u for u, sha in urls.items() if sha not in files]
            wrong_bytes = [u for u, sha in urls.items() if sha in files and files[sha][2] != served(host, u)]
            # what the records say is held (export's sha256 on each image) is held, with those bytes
            out = run_cli("export", "--db", str(db))
            assert out.returncode == 0, out.stderr
            claims = [(r["url"], i) for r in map(json.loads, out.stdout.splitlines()) for i in r["images"] if "sha256" in i]
            false_claims = [(u, i["src"]) for u, i in claims
                            if i["sha256"] not in files or files[i["sha256"]][1] != i["bytes"]
                            or urls.get(i["src"]) != i["sha256"]]
            held_then = {u for u in refs_then if u in urls}

            host.requests.clear()
            db = live
            second = run_cli("crawl", site.base, "--db", str(db), *ARGS, timeout=180)
            second_fetches = Counter(p for p in host.fetched() if p != "/robots.txt")

    urls_after, files_after = held_state(db)
    with sqlite3.connect(db) as con:
        articles_after = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        refs_after = {u for (u,) in con.execute("SELECT DISTINCT url FROM media_refs")}
        integrity_after = con.execute("PRAGMA integrity_check").fetchone()[0]
    refetched_held = sorted(u for u in held_then if u[len(host.base) - 1:] in second_fetches)
    not_held_after = sorted(refs_after - set(urls_after))
    referenced_paths = {u[len(host.base) - 1:] for u in refs_after}
    reliability(1, "kill -9", f"a {ARTICLES}-article crawl with media (images, og:image, audio on 127.0.0.2, each "
                f"file answered in {SlowMediaHost.delay} s) killed with SIGKILL once {len(urls)} media URLs were "
                "stored, then the same command again",
                articles_before_the_kill=articles_then, media_referenced_then=len(refs_then),
                media_held_then=len(held_then), wal_files_left=sum(n.endswith("-wal") for n in left), integrity=", ".join(sorted(set(integrity.values()))),
                bad_blobs=len(bad_blobs), false_held_claims=len(false_claims), second_exit=second.returncode,
                held_files_fetched_again=len(refetched_held), referenced_not_held_after=len(not_held_after),
                media_fetches=f"{sum(first_fetches.values())} + {sum(second_fetches.values())}")
    assert integrity == {"a.db": "ok", "a.media.db": "ok"}
    assert "a.media.db-wal" in left  # the next run starts from the killed state, not a tidied one
    assert 0 < len(held_then) < len(refs_after), "the kill must land while media are being stored"
    assert not bad_blobs and not wrong_bytes and not dangling
    assert claims and not false_claims
    assert second.returncode == 0, second.stderr
    assert articles_after == ARTICLES and integrity_after == "ok"
    assert refetched_held == []  # what the killed run held was not asked for again
    assert not_held_after == []  # and everything referenced is held now
    assert referenced_paths == set(first_fetches) | set(second_fetches)  # nothing else was asked for
    # a file is fetched again only when the kill took it in flight (fetched, not yet stored)
    assert all(n == 1 for n in second_fetches.values()) and all(n == 1 for n in first_fetches.values())
    assert all(u[len(host.base) - 1:] in first_fetches for u in urls)
    for u, sha in urls_after.items():
        body = files_after[sha][2]
        assert hashlib.sha256(body).hexdigest() == sha and body == served(host, u)
    out = run_cli("export", "--db", str(db))
    images = [i for r in map(json.loads, out.stdout.splitlines()) for i in r["images"]]
    assert images and all("sha256" in i for i in images)
