"""Each configured site's health, read from the archive alone (docs/operations.md): its last run,
when it is next due, its failure streak, how much it published against its usual rate; the
alarms (degraded, failing, quiet, disk) that open, repeat and resolve; saved searches' new matches.

The archive is the scheduler's memory: the runs table (and the scheduler's own ``schedule_log``)
says when each site last started, so a scheduler killed with ``kill -9`` and started again knows
what is due; the alarms table says what is open and when it was last sent.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .config import Config, SavedSearch, SiteConfig

# outcomes of a run that reached the site and archived (or checked) its articles
OK_OUTCOMES = frozenset({"success", "partial", "degraded"})
# outcomes that are a failure of the site (or of the archive) for the failure streak
FAILED_OUTCOMES = frozenset({"failed", "robots_denied", "not_onecms", "unknown_category", "storage_error"})
# exit codes of a crawl the scheduler started that recorded no run: neither a success nor a failure
NEUTRAL_EXITS = frozenset({0, 4, 6})


def utc(text: str | None) -> datetime | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z") if dt else None


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


# -- runs and attempts -----------------------------------------------------------------------------

def last_start(conn: sqlite3.Connection, key: str) -> datetime | None:
    """When a crawl of the site last started: its last run, or the scheduler's last attempt (one
    that died before it recorded a run still counts, so a site that cannot start does not loop)."""
    starts = [r[0] for r in conn.execute("SELECT max(started_at) FROM runs WHERE site = ?", (key,))]
    if has_table(conn, "schedule_log"):
        starts += [r[0] for r in conn.execute("SELECT max(started_at) FROM schedule_log WHERE site = ?", (key,))]
    found = [utc(s) for s in starts if s]
    return max(found) if found else None  # type: ignore[type-var]


def attempts(conn: sqlite3.Connection, key: str, limit: int = 100) -> list[dict[str, Any]]:
    """The site's crawls, newest first: its runs, with what the scheduler knows of them (a run it
    stopped at its timeout), and the scheduler's attempts that recorded no run."""
    names = ("id", "started_at", "finished_at", "outcome", "errors", "drift", "articles_new", "coverage")
    runs = [dict(zip(names, r, strict=True))
            for r in conn.execute(f"SELECT {', '.join(names)} FROM runs WHERE site = ? ORDER BY id DESC LIMIT ?",
                                  (key, limit))]
    notes: dict[int, str] = {}
    extra: list[dict[str, Any]] = []
    if has_table(conn, "schedule_log"):
        for run, started, finished, code, note in conn.execute(
                "SELECT run, started_at, finished_at, exit_code, note FROM schedule_log WHERE site = ?"
                " ORDER BY id DESC LIMIT ?", (key, limit)):
            if run is not None:
                if note:
                    notes[run] = note
            elif finished is not None:
                extra.append({"id": None, "started_at": started, "finished_at": finished, "outcome": None,
                              "exit_code": code, "note": note, "errors": "[]", "drift": None, "articles_new": 0,
                              "coverage": None})
    for r in runs:
        r["note"] = notes.get(r["id"])
    out = runs + extra
    out.sort(key=lambda r: utc(r["started_at"]) or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out[:limit]


def verdict(attempt: dict[str, Any]) -> str:
    """``ok``, ``failed`` or ``neutral`` (stopped by us or by a signal, another crawl held the lock,
    still running)."""
    if attempt.get("note") == "timeout":
        return "failed"
    if attempt["id"] is None:  # the scheduler's attempt without a run: its exit code says
        if attempt.get("note") in ("stopped", "lock_held") or attempt.get("exit_code") in NEUTRAL_EXITS:
            return "neutral"
        return "failed"
    outcome = attempt.get("outcome")
    if outcome in OK_OUTCOMES:
        return "ok"
    if outcome in FAILED_OUTCOMES:
        return "failed"
    return "neutral"  # interrupted, running, or killed with the scheduler


def judged(attempt: dict[str, Any]) -> bool:
    """Whether the drift alarm could judge the run: it read enough pages (newsarchive.drift)."""
    from .drift import MIN_ARTICLES

    if attempt.get("outcome") == "degraded":
        return True
    coverage = json.loads(attempt.get("coverage") or "null") or {}
    return coverage.get("pages", coverage.get("articles", 0)) >= MIN_ARTICLES


def failure_streak(history: Iterable[dict[str, Any]]) -> int:
    streak = 0
    for a in history:
        v = verdict(a)
        if v == "ok":
            break
        if v == "failed":
            streak += 1
    return streak


def describe_attempt(a: dict[str, Any]) -> str:
    if a.get("note") == "timeout":
        return "stopped at its timeout"
    if a["id"] is None:
        return f"exit {a.get('exit_code')}" + (f" ({a['note']})" if a.get("note") else "")
    errors = json.loads(a.get("errors") or "[]")
    return f"{a.get('outcome') or 'running'}" + (f": {errors[0]}" if errors else "")


# -- publication rhythm ----------------------------------------------------------------------------

def published_times(conn: sqlite3.Connection, key: str, since: datetime) -> list[datetime]:
    from .store.sitefilter import articles_of

    clause, params = articles_of(key)
    rows = conn.execute(f"SELECT published_at FROM articles WHERE {clause} AND published_at IS NOT NULL"
                        " AND julianday(published_at) >= julianday(?)", [*params, since.isoformat()])
    out = []
    for (text,) in rows:
        try:
            out.append(datetime.fromisoformat(text))
        except ValueError:
            continue
    return sorted(out)


def usual_gap(times: list[datetime], now: datetime) -> timedelta | None:
    """The site's usual longest silence: the 90th percentile of the gaps between its publications
    (over what is given); None with fewer than 10 publications (too little to say)."""
    past = sorted(t for t in times if t <= now)
    if len(past) < 10:
        return None
    gaps = sorted(b - a for a, b in zip(past, past[1:], strict=False))
    return gaps[min(len(gaps) - 1, int(len(gaps) * 0.9))]


def quiet_check(conn: sqlite3.Connection, site: SiteConfig, config: Config, now: datetime) -> dict[str, Any] | None:
    """The quiet alarm's condition: nothing new published for much longer than the site's usual
    longest gap (``quiet_factor`` times it, at least ``quiet_min``), or than ``quiet_after``."""
    if not site.quiet:
        return None
    times = published_times(conn, site.key, now - timedelta(days=30))
    if site.quiet_after is not None:
        threshold = site.quiet_after
        if not times:
            newest = _newest(conn, site.key)
            times = [newest] if newest else []
    else:
        gap = usual_gap(times, now)
        if gap is None or config.alarms.quiet_factor <= 0:
            return None
        threshold = max(config.alarms.quiet_min, gap * config.alarms.quiet_factor)
    past = [t for t in times if t <= now]
    if not past:
        return None
    silent = now - past[-1]
    if silent <= threshold:
        return None
    return {"newest_published": past[-1].isoformat(), "silent_hours": round(silent.total_seconds() / 3600, 1),
            "threshold_hours": round(threshold.total_seconds() / 3600, 1)}


def _newest(conn: sqlite3.Connection, key: str) -> datetime | None:
    from .store.sitefilter import articles_of

    clause, params = articles_of(key)
    row = conn.execute(f"SELECT published_at FROM articles WHERE {clause} AND published_at IS NOT NULL"
                       " ORDER BY julianday(published_at) DESC LIMIT 1", params).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def disk_check(config: Config) -> dict[str, Any] | None:
    """The disk alarm's condition: free space on the archive's filesystem below ``disk_free``."""
    a = config.alarms
    if a.disk_free_bytes is None and a.disk_free_percent is None:
        return None
    # the archive's folder may not be made yet (the first crawl makes it): its nearest existing ancestor
    folder = next(p for p in (config.archive.parent, *config.archive.parent.parents) if p.exists())
    usage = shutil.disk_usage(folder)
    percent = usage.free / usage.total * 100 if usage.total else 0.0
    low = (a.disk_free_bytes is not None and usage.free < a.disk_free_bytes) or \
        (a.disk_free_percent is not None and percent < a.disk_free_percent)
    if not low:
        return None
    return {"free_bytes": usage.free, "total_bytes": usage.total, "free_percent": round(percent, 2),
            "limit": f"{a.disk_free_bytes} bytes" if a.disk_free_bytes is not None else f"{a.disk_free_percent}%"}


# -- status ----------------------------------------------------------------------------------------

def lock_held(db: Path, key: str) -> bool:
    """Whether a crawl of the site holds its lock now (without taking it)."""
    import fcntl

    from .crawl import SiteLock

    path = SiteLock(db, key).path
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def next_due(conn: sqlite3.Connection, site: SiteConfig, now: datetime) -> datetime:
    started = last_start(conn, site.key)
    return now if started is None else started + site.every


def site_status(conn: sqlite3.Connection, config: Config, site: SiteConfig, now: datetime) -> dict[str, Any]:
    from .store.sitefilter import articles_of

    history = attempts(conn, site.key, 50)
    last = next((a for a in history if a["id"] is not None), None)
    last_attempt = history[0] if history else None
    clause, params = articles_of(site.key)
    day = now - timedelta(days=1)
    published_24h = conn.execute(
        f"SELECT count(*) FROM articles WHERE {clause} AND julianday(published_at) >= julianday(?)"
        " AND julianday(published_at) <= julianday(?)", [*params, day.isoformat(), now.isoformat()]).fetchone()[0]
    before = conn.execute(
        f"SELECT count(*) FROM articles WHERE {clause} AND julianday(published_at) >= julianday(?)"
        " AND julianday(published_at) < julianday(?)",
        [*params, (day - timedelta(days=14)).isoformat(), day.isoformat()]).fetchone()[0]
    archived_24h = conn.execute(f"SELECT count(*) FROM articles WHERE {clause} AND first_seen >= ?",
                                [*params, iso(day)]).fetchone()[0]
    due = next_due(conn, site, now)
    out: dict[str, Any] = {
        "site": site.key,
        "spelling": site.spelling,
        "every_seconds": int(site.every.total_seconds()),
        "running": lock_held(config.archive, site.key),
        "last_run": None,
        "last_attempt": None,
        "next_due": iso(due),
        "due": due <= now,
        "failure_streak": failure_streak(history),
        "published_24h": published_24h,
        "usual_per_day": round(before / 14, 1),
        "archived_24h": archived_24h,
        "alarms": open_alarms(conn, site.key),
    }
    if last is not None:
        out["last_run"] = {"id": last["id"], "started_at": last["started_at"], "finished_at": last["finished_at"],
                           "outcome": last["outcome"] or ("running" if out["running"] else "killed"),
                           "articles_new": last["articles_new"], "note": last.get("note")}
    if last_attempt is not None:
        out["last_attempt"] = {"started_at": last_attempt["started_at"], "what": describe_attempt(last_attempt)}
    return out


def open_alarms(conn: sqlite3.Connection, key: str | None = None) -> list[dict[str, Any]]:
    if not has_table(conn, "alarms"):
        return []
    sql = "SELECT id, kind, site, opened_at, last_sent, notices, message, detail FROM alarms WHERE closed_at IS NULL"
    rows = conn.execute(sql + (" AND site = ?" if key is not None else "") + " ORDER BY id",
                        (key,) if key is not None else ())
    return [{"id": r[0], "kind": r[1], "site": r[2], "opened_at": r[3], "last_sent": r[4], "notices": r[5],
             "message": r[6], "detail": json.loads(r[7])} for r in rows]


def status(conn: sqlite3.Connection, config: Config, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {"archive": str(config.archive), "now": iso(now),
            "sites": [site_status(conn, config, s, now) for s in config.sites],
            "alarms": [a for a in open_alarms(conn) if a["site"] == ""]}


# -- alarms ----------------------------------------------------------------------------------------

@dataclass
class Notice:
    """One notification to send (newsarchive.notify builds the payload)."""

    event: str  # "alarm" or "search"
    state: str  # alarm: "open", "repeat", "resolved"; search: "match"
    text: str  # one line
    alarm: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    articles: list[dict[str, Any]] = field(default_factory=list)
    more: int = 0
    targets: tuple[str, ...] = ()  # notifier names; empty: every one taking the event


def conditions(conn: sqlite3.Connection, config: Config, now: datetime,
               sites: Iterable[SiteConfig] | None = None) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """What is wrong now: ``(kind, site) -> (message, detail)``."""
    from .drift import describe

    out: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for site in sites if sites is not None else config.sites:
        history = attempts(conn, site.key, 50)
        # the last run that reached the site and read enough pages to judge says whether its pages
        # are degraded (a failed run, or one that only got 304s, says nothing either way)
        finished = next((a for a in history if verdict(a) == "ok" and judged(a)), None)
        if finished is not None and finished["outcome"] == "degraded":
            drops = json.loads(finished["drift"] or "[]")
            out[("degraded", site.key)] = (
                f"{site.key}: run #{finished['id']} degraded: {describe(drops) or 'fields dropped'}",
                {"run": finished["id"], "started_at": finished["started_at"], "drift": drops})
        streak = failure_streak(history)
        if config.alarms.failures and streak >= config.alarms.failures:
            last = next(a for a in history if verdict(a) == "failed")
            out[("failing", site.key)] = (
                f"{site.key}: {streak} failed runs in a row; the last: {describe_attempt(last)}",
                {"streak": streak, "last": describe_attempt(last), "last_started_at": last["started_at"]})
        quiet = quiet_check(conn, site, config, now)
        if quiet is not None:
            out[("quiet", site.key)] = (
                f"{site.key}: nothing new published for {quiet['silent_hours']} h (usually at most"
                f" {quiet['threshold_hours']} h): the site is quiet, or blocking us", quiet)
    if sites is None:
        disk = disk_check(config)
        if disk is not None:
            out[("disk", "")] = (f"the archive's disk has {disk['free_bytes'] / 2**30:.2f} GiB free"
                                 f" ({disk['free_percent']}%), below {disk['limit']}", disk)
    return out


def reconcile(conn: sqlite3.Connection, config: Config, now: datetime,
              sites: Iterable[SiteConfig] | None = None) -> list[Notice]:
    """Open, repeat and close alarms against what is wrong now; the notices to send. Alarms of
    the sites (and kinds) not judged this time are left as they are."""
    sites = list(sites) if sites is not None else None
    judged_sites = {s.key for s in (sites if sites is not None else config.sites)}
    judged_kinds = {"degraded", "failing", "quiet"} | ({"disk"} if sites is None else set())
    wrong = conditions(conn, config, now, sites)
    notices: list[Notice] = []
    stamp = iso(now)
    conn.execute("BEGIN IMMEDIATE")
    try:
        open_now = {(a["kind"], a["site"]): a for a in open_alarms(conn)}
        for (kind, site), (message, detail) in wrong.items():
            current = open_now.get((kind, site))
            if current is None:
                cur = conn.execute("INSERT INTO alarms(kind, site, opened_at, last_sent, notices, message, detail)"
                                   " VALUES (?, ?, ?, ?, 1, ?, ?)",
                                   (kind, site, stamp, stamp, message, json.dumps(detail, ensure_ascii=False)))
                alarm = {"id": cur.lastrowid, "kind": kind, "site": site, "opened_at": stamp, "closed_at": None,
                         "message": message, "detail": detail}
                notices.append(Notice("alarm", "open", f"ALARM {kind}: {message}", alarm=alarm))
                continue
            repeat = config.alarms.repeat
            last = utc(current["last_sent"])
            if repeat is not None and last is not None and now - last >= repeat:
                conn.execute("UPDATE alarms SET last_sent = ?, notices = notices + 1, message = ?, detail = ?"
                             " WHERE id = ?", (stamp, message, json.dumps(detail, ensure_ascii=False), current["id"]))
                alarm = {**current, "message": message, "detail": detail, "closed_at": None}
                alarm.pop("last_sent", None)
                alarm.pop("notices", None)
                notices.append(Notice("alarm", "repeat", f"STILL {kind}: {message} (since {current['opened_at']})",
                                      alarm=alarm))
        for (kind, site), current in open_now.items():
            if (kind, site) in wrong or kind not in judged_kinds or (site and site not in judged_sites):
                continue
            conn.execute("UPDATE alarms SET closed_at = ? WHERE id = ?", (stamp, current["id"]))
            alarm = {k: current[k] for k in ("id", "kind", "site", "opened_at", "message", "detail")}
            alarm["closed_at"] = stamp
            notices.append(Notice("alarm", "resolved", f"RESOLVED {kind}: {current['message']}", alarm=alarm))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return notices


# -- saved searches --------------------------------------------------------------------------------

def search_matches(conn: sqlite3.Connection, search: SavedSearch) -> Notice | None:
    """New articles (archived since the search was first looked at) that match it and were never
    notified: one notice listing them (titles and links), each article at most once ever."""
    from .store import search as fts

    stamp = iso(datetime.now(UTC))
    row = conn.execute("SELECT last_article FROM saved_searches WHERE name = ?", (search.name,)).fetchone()
    newest = conn.execute("SELECT coalesce(max(id), 0) FROM articles").fetchone()[0]
    if row is None:  # first sight: what is archived already is not news
        conn.execute("INSERT OR IGNORE INTO saved_searches(name, last_article, created_at) VALUES (?, ?, ?)",
                     (search.name, newest, stamp))
        return None
    mark = row[0]
    if newest <= mark:
        return None
    # article ids grow in commit order (one writer at a time): everything above the mark is new.
    # Which of them match is the library's search (the same words, filters and plan as the search
    # page and `newsarchive search`), asked about a batch of these articles' index keys at a time.
    filters = fts.Filters(search.site, search.section, search.author)
    ids: list[int] = []
    low = mark
    while low < newest:
        batch = dict(conn.execute(
            "SELECT search_key, id FROM articles WHERE id > ? AND id <= ? AND search_key IS NOT NULL"
            " AND id NOT IN (SELECT article FROM notified_articles WHERE search = ?)",
            (low, min(low + fts.PROBED, newest), search.name)).fetchall())
        ids += sorted(batch[k] for k in fts.matches_among(conn, search.query, batch, filters))
        low += fts.PROBED
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR IGNORE INTO notified_articles(search, article, notified_at) VALUES (?, ?, ?)",
                         [(search.name, a, stamp) for a in ids])
        conn.execute("UPDATE saved_searches SET last_article = ? WHERE name = ?", (newest, search.name))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if not ids:
        return None
    articles = []
    for aid in ids[: search.max_listed]:
        title, url, site, published = conn.execute(
            "SELECT title, url, site, published_at FROM articles WHERE id = ?", (aid,)).fetchone()
        articles.append({"id": aid, "title": title, "url": url, "site": site, "published_at": published})
    more = len(ids) - len(articles)
    text = f"{len(ids)} new article(s) match the saved search {search.name!r}"
    return Notice("search", "match", text, search={"name": search.name, "query": search.query, "site": search.site,
                                                   "section": search.section, "author": search.author},
                  articles=articles, more=more, targets=search.notify)
