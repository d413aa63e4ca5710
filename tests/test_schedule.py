"""The scheduler's rules: due times from the archive (kill -9 and a restart lose nothing, and crawl
nothing twice), missed runs run once, one site never twice at once, a hung crawl stopped at its
timeout without delaying the others; a live archive backed up while a crawl writes it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ops_helpers import FAST, fresh_site, hang_robots, rows, run_once, schedule, settings_toml, wait_for

from newsarchive.crawl import SiteLock
from newsarchive.demo.site import serve
from newsarchive.health import failure_streak, usual_gap, verdict


def site_config(config: Path, bases: list[str], every: str = "1h", extra: str = "", site_extra: str = "") -> None:
    sites = "".join(f"""
[[sites]]
site = "{b}"
every = "{every}"
{site_extra}
{settings_toml(FAST)}
""" for b in bases)
    config.write_text(f'archive = "archive.db"\n[alarms]\ndisk_free = false\n{extra}\n{sites}', encoding="utf-8")


def test_kill_9_and_a_restart_lose_nothing_and_missed_runs_run_once(tmp_path: Path) -> None:
    site = fresh_site(10)
    db = tmp_path / "archive.db"
    config = tmp_path / "newsarchive.toml"
    with serve(site) as base:
        site_config(config, [base], every="1h")
        proc = schedule(config)
        try:
            # killed while its first crawl runs: the crawl (its own process group) finishes alone
            wait_for(lambda: rows(db, "SELECT 1 FROM schedule_log"), 30, "the first crawl started", proc)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
            again = run_once(config)  # at once: the orphan holds the lock, or its run is recorded: not due
            wait_for(lambda: rows(db, "SELECT 1 FROM runs WHERE outcome IS NOT NULL"), 60, "the orphan's run")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert again.returncode == 0, again.stderr
        assert "crawl started" not in again.stderr
        assert [r[0] for r in rows(db, "SELECT outcome FROM runs")] == ["success"]
        # an hour is not over: a restart crawls nothing
        later = run_once(config)
        assert later.returncode == 0 and "crawl started" not in later.stderr
        # three intervals missed (the machine asleep): one run, not three
        site_config(config, [base], every="1s")
        time.sleep(3.5)
        missed = run_once(config)
        assert missed.returncode == 0, missed.stderr
        assert missed.stderr.count("crawl started") == 1
    assert len(rows(db, "SELECT id FROM runs")) == 2


def test_a_site_whose_lock_another_crawl_holds_is_not_crawled_twice(tmp_path: Path) -> None:
    site = fresh_site(6)
    db = tmp_path / "archive.db"
    config = tmp_path / "newsarchive.toml"
    with serve(site) as base:
        site_config(config, [base])
        from newsarchive.sites import resolve

        lock = SiteLock(db, resolve(base).key)
        assert lock.acquire()  # a `newsarchive crawl` of the site, started by hand
        try:
            out = run_once(config)
        finally:
            lock.release()
    assert out.returncode == 0, out.stderr
    assert "another crawl of it is running" in out.stderr and "crawl started" not in out.stderr
    assert rows(db, "SELECT count(*) FROM runs") == [(0,)]
    assert not [p for p in site.fetched() if p != "/robots.txt"]


def test_a_hung_crawl_is_stopped_at_its_timeout_counts_as_failed_and_never_delays_the_others(tmp_path: Path) -> None:
    hung, healthy = fresh_site(6), fresh_site(8)
    hang_robots(hung, 120)
    hook = tmp_path / "hook.jsonl"
    db = tmp_path / "archive.db"
    config = tmp_path / "newsarchive.toml"
    with serve(hung, host="127.0.0.2") as h, serve(healthy, host="127.0.0.3") as g:
        site_config(config, [g], extra=f"""failures = 1
[schedule]
concurrency = 2
timeout = "60s"
stop_grace = "2s"
[[notify]]
type = "command"
command = ["sh", "-c", "cat >> '{hook}'; echo >> '{hook}'"]
""")
        config.write_text(config.read_text() + f"""
[[sites]]
site = "{h}"
timeout = "6s"
media = false
""", encoding="utf-8")
        started = time.monotonic()
        out = run_once(config)
        took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert "still running after its timeout" in out.stderr, out.stderr
    assert took < 30, took
    key_h, key_g = h.split("//")[1].rstrip("/"), g.split("//")[1].rstrip("/")
    (h_note, h_end), = rows(db, "SELECT note, finished_at FROM schedule_log WHERE site = ?", (key_h,))
    assert h_note == "timeout"
    (g_outcome, g_start), = rows(db, "SELECT outcome, started_at FROM runs WHERE site = ?", (key_g,))
    # the healthy site ran beside the hung one, not after it (when it ends depends on the machine's load)
    assert g_outcome == "success" and g_start < h_end
    notices = [json.loads(line) for line in hook.read_text().splitlines() if line.strip()]
    assert [(n["state"], n["alarm"]["kind"], n["alarm"]["site"]) for n in notices] == [("open", "failing", key_h)]
    assert "timeout" in notices[0]["alarm"]["message"]


def test_failure_streak_counts_failures_not_stops_nor_held_locks() -> None:
    def run(outcome: str | None, note: str | None = None) -> dict:
        return {"id": 1, "outcome": outcome, "note": note}

    def attempt(code: int, note: str | None = None) -> dict:
        return {"id": None, "exit_code": code, "note": note}

    assert verdict(run("degraded")) == "ok" and verdict(run("robots_denied")) == "failed"
    assert verdict(run("interrupted")) == "neutral" and verdict(run("interrupted", "timeout")) == "failed"
    assert verdict(attempt(7)) == "failed" and verdict(attempt(4, "lock_held")) == "neutral"
    history = [run("failed"), run("interrupted"), attempt(4, "lock_held"), run(None, "timeout"), run("partial"),
               run("failed")]
    assert failure_streak(history) == 2


def test_usual_gap_is_the_sites_usual_longest_silence() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 20, tzinfo=UTC)
    hourly = [now - timedelta(hours=h) for h in range(48)]
    assert usual_gap(hourly, now) == timedelta(hours=1)
    assert usual_gap(hourly[:5], now) is None  # too little to say
    with_nights = sorted(hourly + [now - timedelta(days=3, hours=h * 8) for h in range(3)])
    assert usual_gap(with_nights, now) == timedelta(hours=1)  # a few long nights do not make the rule


BACKUP = """
import sqlite3, sys
src = sqlite3.connect(sys.argv[1], timeout=60)
src.execute("VACUUM INTO ?", (sys.argv[2],))
dst = sqlite3.connect(sys.argv[3])
src.backup(dst)
dst.close()
"""


def test_a_live_archive_is_backed_up_whole_while_a_crawl_writes_it(tmp_path: Path) -> None:
    """docs/operations.md: VACUUM INTO and SQLite's backup API copy a consistent archive while a
    crawl is writing it; each copy passes integrity_check and reads as an archive."""
    site = fresh_site(150, hours_ago=1, spacing_minutes=10)
    db = tmp_path / "archive.db"
    with serve(site) as base:
        crawl = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "crawl", base, "--db", str(db), "-q",
                                  "--since", "2020-01-01", "--no-media", *sum((["-s", f"{k}={v}"] for k, v in FAST.items()), [])],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: (rows(db, "SELECT count(*) FROM articles") or [(0,)])[0][0] >= 10, 60, "articles")
            copies = subprocess.run([sys.executable, "-c", BACKUP, str(db), str(tmp_path / "vacuum.db"),
                                     str(tmp_path / "backup.db")], capture_output=True, text=True, timeout=120)
            still_running = crawl.poll() is None
            _, err = crawl.communicate(timeout=120)
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.communicate()
    assert copies.returncode == 0, copies.stderr
    assert crawl.returncode == 0, err
    assert still_running, "the crawl ended before the backups: the test proves nothing (a bigger site is needed)"
    final = rows(db, "SELECT count(*) FROM articles")[0][0]
    for name in ("vacuum.db", "backup.db"):
        con = sqlite3.connect(tmp_path / name)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert 10 <= count <= final
        # a whole article: its revision, search row and raw page are in the copy too
        assert con.execute("SELECT count(*) FROM revisions").fetchone()[0] >= count
        con.close()
    from conftest import run_cli

    shown = run_cli("search", "tin", "--db", str(tmp_path / "vacuum.db"), "--limit", "1", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)


def test_an_archive_folder_not_made_yet_is_made_by_the_first_run(tmp_path: Path) -> None:
    """`config example > newsarchive.toml`, `config check`, `schedule`: the archive's folder (data/)
    does not exist yet; checking accepts it, the disk alarm measures its nearest existing folder, and
    the first crawl makes it."""
    site = fresh_site(4)
    config = tmp_path / "newsarchive.toml"
    with serve(site) as base:
        site_config(config, [base])
        config.write_text(config.read_text().replace('archive = "archive.db"', 'archive = "data/archive.db"')
                          .replace("disk_free = false", 'disk_free = "1%"'), encoding="utf-8")
        checked = subprocess.run([sys.executable, "-m", "newsarchive.cli", "config", "check", "--config", str(config)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0 and not (tmp_path / "data").exists(), checked.stderr
        out = run_once(config)
    assert out.returncode == 0, out.stderr
    assert rows(tmp_path / "data" / "archive.db", "SELECT count(*) FROM articles") == [(4,)]
