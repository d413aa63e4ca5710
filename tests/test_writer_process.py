"""The writer process (newsarchive/crawl/worker.py): extraction and storage beside the reactor.
Its failure modes: the writer killed mid-run, Ctrl-C with items in flight, and the single writer."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.demo.site import DemoSite, serve
from newsarchive.urls import canonical


@pytest.fixture
def demo() -> Iterator[DemoSite]:
    site = DemoSite(300)
    with serve(site):
        yield site


def start_crawl(site: DemoSite, db: Path, *settings: str) -> subprocess.Popen[str]:
    neutral = tempfile.mkdtemp()  # not the checkout: the installed package, as users run it
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    args = [a for s in settings for a in ("-s", s)]
    return subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", site.base, "--db", str(db), "-q",
                             "--since", "2020-01-01", "-s", "AUTOTHROTTLE_ENABLED=False", *args],
                            cwd=neutral, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def writer_of(pid: int, timeout: float = 30) -> int:
    """The pid of the crawl's writer process (its child running newsarchive.crawl.worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"newsarchive.crawl.worker" in cmdline:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError("no writer process")


def archived(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return {u for (u,) in con.execute("SELECT url FROM articles")}
    except sqlite3.OperationalError:
        return set()


def wait_for(db: Path, n: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(archived(db)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the crawl archived nothing"
        time.sleep(0.05)


def runs(db: Path) -> list[dict]:
    return json.loads(run_cli("runs", "--db", str(db), "--json").stdout)


def test_a_killed_writer_fails_the_run_loudly_and_leaves_the_archive_whole(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    proc = start_crawl(demo, db, "DOWNLOAD_DELAY=0.02")
    writer = writer_of(proc.pid)
    wait_for(db, 10, proc)
    os.kill(writer, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)  # not a hang
    assert proc.returncode == 7, err  # the archive cannot be written: a storage error, not a success
    assert "writer process" in err and "died" in err and "Traceback" not in err, err
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert 10 <= stored < len(demo.order)
    run = runs(db)[0]
    assert run["outcome"] == "storage_error"
    assert any("writer process" in e and "died" in e for e in run["errors"]), run
    # the next run finishes the job
    again = run_cli("crawl", demo.base, "--db", str(db), "-q", "-s", "DOWNLOAD_DELAY=0", "-s",
                    "AUTOTHROTTLE_ENABLED=False")
    assert again.returncode == 0, again.stderr
    assert archived(db) == {canonical(demo.url(a)) for a in demo.order}


def test_ctrl_c_stores_the_items_in_flight(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    proc = start_crawl(demo, db, "DOWNLOAD_DELAY=0.05")
    writer = writer_of(proc.pid)
    wait_for(db, 5, proc)
    os.kill(writer, signal.SIGSTOP)  # the writer holds still: what is fetched now waits in the pipeline
    try:
        time.sleep(1.5)
        served = {canonical(demo.base.rstrip("/") + p.split("?")[0]) for p, _ in list(demo.requests)
                  if p.split("?")[0].endswith(".html")}
        before = archived(db)
        time.sleep(1.0)  # every page served by now has reached the pipeline (loopback)
        in_flight = served & {canonical(demo.url(a)) for a in demo.order}
        in_flight -= before
        assert in_flight, "nothing was in flight"
        os.kill(proc.pid, signal.SIGINT)
    finally:
        os.kill(writer, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 6, err  # interrupted
    assert "stopping" in err
    after = archived(db)
    assert in_flight <= after, sorted(in_flight - after)[:5]
    assert runs(db)[0]["outcome"] == "interrupted"


SINGLE_WRITER = """
import json, os, sys
from pathlib import Path
from newsarchive.store import crawlstate
from newsarchive import media

def refuse(*args, **kwargs):
    raise AssertionError(f"the crawl process wrote the archive (pid {os.getpid()})")

# every write path of the ArchiveWriter, refused in this (the reactor's) process
for name in ("keep", "record_failure", "touch"):
    setattr(crawlstate.CrawlState, name, refuse)
media.MediaStore.store = refuse
media.MediaStore.fail = refuse
from newsarchive.crawl import run_crawl
outcome, stats = run_crawl(sys.argv[1], Path(sys.argv[2]), since="2020-01-01", quiet=True,
                           settings={"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False})
print(json.dumps({"outcome": outcome, "new": stats.get("newsarchive/new", 0), "pid": os.getpid(),
                  "writer": stats.get("newsarchive/writer_pid")}))
"""


def test_only_the_writer_process_writes_the_archive(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    out = subprocess.run([sys.executable, "-c", SINGLE_WRITER, demo.base, str(db)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "success" and result["new"] == len(demo.order), (result, out.stderr[-2000:])
    assert result["writer"] and result["writer"] != result["pid"]
    assert archived(db) == {canonical(demo.url(a)) for a in demo.order}


def test_kill_9_of_the_crawl_takes_the_writer_with_it(demo: DemoSite, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    proc = start_crawl(demo, db, "DOWNLOAD_DELAY=0.02")
    writer = writer_of(proc.pid)
    wait_for(db, 5, proc)
    os.kill(writer, signal.SIGSTOP)  # it cannot read the end of its socket: only the kernel can stop it now
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{writer}").exists() and time.monotonic() < deadline:
        state = (Path(f"/proc/{writer}") / "stat").read_text().rsplit(")", 1)[1].split()[0] \
            if Path(f"/proc/{writer}/stat").exists() else "X"
        if state in ("Z", "X"):  # dead, not yet reaped by init
            break
        time.sleep(0.02)
    else:
        if Path(f"/proc/{writer}").exists():
            os.kill(writer, signal.SIGKILL)
            raise AssertionError("the writer outlived the crawl")
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_slow_writer_holds_the_fetching_back(demo: DemoSite, tmp_path: Path) -> None:
    """Items fetched and not stored are bounded by NEWSARCHIVE_WRITER_BACKLOG (plus the requests
    already downloading), not by Scrapy's 5 MB of bodies (all 300 small demo pages)."""
    db = tmp_path / "a.db"
    proc = start_crawl(demo, db, "DOWNLOAD_DELAY=0", "CONCURRENT_REQUESTS=8", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
                       "NEWSARCHIVE_WRITER_BACKLOG=16")
    writer = writer_of(proc.pid)
    wait_for(db, 5, proc)
    articles = {canonical(demo.url(a)) for a in demo.order}

    def served() -> set[str]:
        return {canonical(demo.base.rstrip("/") + p.split("?")[0]) for p, _ in list(demo.requests)} & articles

    os.kill(writer, signal.SIGSTOP)
    try:
        time.sleep(3)
        stored = archived(db)
        waiting = served() - stored
        assert len(waiting) <= 16 + 8, len(waiting)
        time.sleep(1)
        assert served() - stored == waiting  # nothing more is fetched while the writer is stuck
    finally:
        os.kill(writer, signal.SIGCONT)
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert archived(db) == articles


def test_a_child_process_reports_its_own_peak_memory_not_its_parents() -> None:
    """The writer (and every benchmark child) reports peak_rss_mib(): ru_maxrss would report the
    high-water mark of the process that forked it (the crawl's, or pytest's)."""
    import subprocess
    import sys

    ballast = bytearray(300 * 2**20)
    for i in range(0, len(ballast), 4096):  # resident, not just reserved
        ballast[i] = 1
    code = "from newsarchive.crawl.worker import peak_rss_mib; print(peak_rss_mib())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    del ballast
    assert 5 < float(out.stdout) < 150
