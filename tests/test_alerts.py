"""Alarms and notifications end to end: three demo sites on 127.0.0.1, 127.0.0.2 and 127.0.0.3
with different intervals (one healthy, one failing, one redesigned while it is scheduled), a
local webhook receiver and a local SMTP server that receive exactly the expected notices."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from ops_helpers import (
    FAST,
    SmtpReceiver,
    WebhookReceiver,
    break_robots,
    fresh_site,
    rows,
    run_once,
    schedule,
    settings_toml,
    wait_for,
)

from newsarchive.demo.site import serve
from newsarchive.store import Archive
from newsarchive.store import search as fts


def outcomes(db: Path, key: str) -> list[str]:
    return [r[0] or "" for r in rows(db, "SELECT outcome FROM runs WHERE site = ? ORDER BY id", (key,))]


def test_three_sites_scheduled_alarms_open_and_resolve_and_a_saved_search_notifies_once(tmp_path: Path) -> None:
    healthy, failing, redesigned = fresh_site(12), fresh_site(8), fresh_site(12)
    robots = break_robots(failing)
    hook = WebhookReceiver(fail_first=1)  # the first POST answers 503: the notice is retried, not lost
    smtp = SmtpReceiver("archivist", "s3cret")
    db = tmp_path / "archive.db"
    try:
        with serve(healthy, host="127.0.0.1") as a, serve(failing, host="127.0.0.2") as b, \
                serve(redesigned, host="127.0.0.3") as c:
            key_a, key_b, key_c = (u.split("//")[1].rstrip("/") for u in (a, b, c))
            config = tmp_path / "newsarchive.toml"
            config.write_text(f"""
archive = "archive.db"
[schedule]
concurrency = 3
stop_grace = "3s"
[alarms]
failures = 2
repeat = "1h"
disk_free = false

[[sites]]
site = "{a}"
every = "2s"
{settings_toml(FAST)}

[[sites]]
site = "{b}"
every = "1s"
{settings_toml(FAST)}

[[sites]]
site = "{c}"
every = "3s"
recheck = true          # every run looks at the same articles again (the redesign shows at once)
{settings_toml(FAST)}

[[notify]]
type = "webhook"
name = "hook"
url = "{hook.url}"
backoff = "0.2s"

[[notify]]
type = "email"
name = "mail"
host = "127.0.0.1"
port = {smtp.port}
starttls = false
user = "archivist"
password_env = "TEST_SMTP_PASSWORD"
from = "newsarchive@example.org"
to = ["desk@example.org"]

[[searches]]
name = "dien-bien"
query = "dien bien"
site = "{a}"
""", encoding="utf-8")
            proc = schedule(config, env={"TEST_SMTP_PASSWORD": "s3cret"})
            try:
                # the failing site fails twice (its alarm opens); the others archive
                wait_for(lambda: outcomes(db, key_b).count("robots_denied") >= 2 and "success" in outcomes(db, key_c)
                         and "success" in outcomes(db, key_a), 90, "two failures of B, a success of A and C", proc)
                redesigned.redesign = True
                wait_for(lambda: "degraded" in outcomes(db, key_c), 60, "a degraded run of C", proc)
                robots["broken"] = False
                wait_for(lambda: rows(db, "SELECT 1 FROM alarms WHERE kind = 'failing' AND closed_at IS NOT NULL"),
                         60, "the failing alarm resolved", proc)
                expected = 4  # at least: failing opened and resolved, degraded opened, one saved-search notice
                wait_for(lambda: len(hook.delivered()) >= expected and len(smtp.messages) >= expected, 30,
                         "every notice delivered", proc)
                time.sleep(1.5)  # nothing more is coming
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                _, log = proc.communicate(timeout=30)
                code = proc.returncode
                took = time.monotonic() - started
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.communicate()
    finally:
        hook.close()
        smtp.close()

    assert code == 6, log
    assert took < 10, f"stopped in {took:.1f} s"
    with Archive(db) as archive:  # every article of A matching the query: all archived after the search started
        matching = fts.search(archive.conn, "dien bien", limit=1000, sort="newest", filters=fts.Filters(site=key_a))
        urls = {archive.record(i)["url"] for i in matching}  # type: ignore[index]
    assert urls, "the demo site has articles about Điện Biên"

    notices = hook.delivered()
    alarms = sorted((n["state"], n["alarm"]["kind"], n["alarm"]["site"]) for n in notices if n["event"] == "alarm")
    assert alarms == sorted([("open", "failing", key_b), ("open", "degraded", key_c), ("resolved", "failing", key_b)]), \
        [(n["text"], n["sent_at"]) for n in notices]
    # the saved search: every matching article of A, each in exactly one notice (a crawl that brings
    # more matches later sends another), with its title and link
    searches = [n for n in notices if n["event"] == "search"]
    listed = [a["url"] for n in searches for a in n["articles"]]
    assert searches and sorted(listed) == sorted(urls) and all(n["more"] == 0 for n in searches)
    assert all(a["title"] for n in searches for a in n["articles"]) and searches[0]["search"]["site"] == key_a
    # the 503 was retried with the same notice (same id), and only delivered once
    assert len(hook.posts) == len(notices) + 1 and hook.posts[0][0] == 503
    assert hook.posts[0][1]["id"] == hook.posts[1][1]["id"]
    assert len({n["id"] for n in notices}) == len(notices)
    degraded = next(n for n in notices if (n["alarm"] or {}).get("kind") == "degraded")
    assert "authors" in {d["field"] for d in degraded["alarm"]["detail"]["drift"]}
    failing_open = next(n for n in notices if n["state"] == "open" and n["alarm"]["kind"] == "failing")
    assert failing_open["alarm"]["detail"]["streak"] == 2 and "robots.txt" in failing_open["alarm"]["message"]
    assert all(n["version"] == 1 and n["source"] == "newsarchive" for n in notices)

    # the same notices by e-mail, after logging in with the password from the environment
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert len(smtp.messages) == len(notices) and ("archivist", "s3cret") in smtp.logins
    assert sum("ALARM failing" in s for s in subjects) == 1 and sum("RESOLVED failing" in s for s in subjects) == 1
    assert sum("ALARM degraded" in s for s in subjects) == 1 and sum("saved search" in s for s in subjects) == len(searches)
    mailed = "".join(m.get_content() for m in smtp.messages if "saved search" in m["Subject"])
    assert all(u in mailed for u in urls) and all(m["To"] == "desk@example.org" for m in smtp.messages)

    # the runs: B failed, then succeeded; C degraded; the scheduler's stop left no run "running"
    assert outcomes(db, key_b)[-1] in ("success", "interrupted")
    assert not rows(db, "SELECT 1 FROM runs WHERE finished_at IS NULL AND outcome IS NULL")
    # status: the degraded alarm is still open; B's streak is back to 0
    from conftest import run_cli

    shown = json.loads(run_cli("status", "--config", str(config), "--json").stdout)
    by_site = {s["site"]: s for s in shown["sites"]}
    assert [a["kind"] for a in by_site[key_c]["alarms"]] == ["degraded"]
    assert by_site[key_b]["failure_streak"] == 0 and by_site[key_b]["alarms"] == []
    assert by_site[key_a]["last_run"]["outcome"] in ("success", "interrupted")
    assert by_site[key_a]["published_24h"] == 12


def test_quiet_site_and_low_disk_open_once_then_resolve(tmp_path: Path) -> None:
    """A site whose newest article is three days old while it usually publishes hourly is quiet;
    the archive's disk below disk_free is an alarm; each opens once (a second pass repeats
    nothing within repeat) and resolves with a notice when its condition ends."""
    old = fresh_site(12, hours_ago=72, spacing_minutes=60)
    hook_file = tmp_path / "hook.jsonl"
    db = tmp_path / "archive.db"
    with serve(old, host="127.0.0.1") as base:
        config = tmp_path / "newsarchive.toml"

        def write(disk: str, quiet: str) -> None:
            config.write_text(f"""
archive = "archive.db"
[alarms]
disk_free = {disk}
repeat = "1h"
[[sites]]
site = "{base}"
every = "1h"
{quiet}
{settings_toml(FAST)}
[[notify]]
type = "command"
command = ["sh", "-c", "cat >> '{hook_file}'; echo >> '{hook_file}'"]
events = ["alarm"]
""", encoding="utf-8")

        write('"100%"', "")
        first = run_once(config)
        second = run_once(config)  # nothing due (every 1h), the alarms stay open: no second notice
        write("false", "quiet_after = false")
        third = run_once(config)
    for r in (first, second, third):
        assert r.returncode == 0, r.stderr
    notices = [json.loads(line) for line in hook_file.read_text().splitlines() if line.strip()]
    got = [(n["state"], n["alarm"]["kind"]) for n in notices]
    assert sorted(got[:2]) == [("open", "disk"), ("open", "quiet")], got
    assert sorted(got[2:]) == [("resolved", "disk"), ("resolved", "quiet")], got
    quiet = next(n for n in notices if n["alarm"]["kind"] == "quiet")
    assert quiet["alarm"]["detail"]["silent_hours"] >= 71 and quiet["alarm"]["detail"]["threshold_hours"] == 6.0
    assert len(rows(db, "SELECT id FROM runs")) == 1  # the second and third passes crawled nothing
