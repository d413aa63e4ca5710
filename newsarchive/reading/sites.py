"""The sites pages: ``/sites`` (every site the archive holds, its articles, last run and any alarm)
and ``/sites/<site>`` (articles per day, field coverage, media coverage, sections, last runs, drift
alarms). Every figure is bounded to stay fast on a large archive: per day over the site's last
``DAYS`` days with articles, field and media coverage over its newest ``SAMPLE`` articles (the
page says so when the site has more); counts go through the (site, published_at) index."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..drift import SHARE_FIELDS, describe
from ..media import MediaStore
from ..store.sitefilter import runs_of
from . import TooSlow, archive_path, page, query_string, read

DAYS = 30
SAMPLE = 1000
RUNS = 10
FIELD_LABELS = {"authors": "Tác giả", "published_at": "Giờ đăng", "images": "Ảnh", "captions": "Chú thích ảnh",
                "tags": "Thẻ", "sapo": "Sapo"}


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None


def site_counts(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Each site's articles: kept by the archive's triggers (migration 015), or counted (a walk of
    the site index: ~1 s at 1M articles read from disk) in an archive from before them."""
    if _has(conn, "site_articles"):
        return conn.execute("SELECT site, articles FROM site_articles WHERE articles > 0").fetchall()
    return conn.execute("SELECT site, count(*) FROM articles GROUP BY site").fetchall()


def site_count(conn: sqlite3.Connection, site: str) -> int:
    if _has(conn, "site_articles"):
        row = conn.execute("SELECT articles FROM site_articles WHERE site = ?", (site,)).fetchone()
        return max(row[0], 0) if row else 0
    return conn.execute("SELECT count(*) FROM articles WHERE site = ?", (site,)).fetchone()[0]


def newest_oldest(conn: sqlite3.Connection, site: str) -> tuple[str | None, str | None]:
    """The site's newest and oldest publication times: one seek each in the (site, published_at)
    index (asked together, max and min walk the site's whole range)."""
    newest = conn.execute("SELECT max(published_at) FROM articles WHERE site = ?", (site,)).fetchone()[0]
    oldest = conn.execute("SELECT min(published_at) FROM articles WHERE site = ?", (site,)).fetchone()[0]
    return newest, oldest


def overview(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every site with articles or runs: articles, newest and oldest publication, last run, alarm."""
    sites: dict[str, dict[str, Any]] = {}
    for site, n in site_counts(conn):
        newest, oldest = newest_oldest(conn, site)
        sites[site] = {"site": site, "articles": n, "newest": newest, "oldest": oldest}
    for (key,) in conn.execute("SELECT DISTINCT site FROM runs"):
        host = key.rsplit(":", 1)[0] if key.rsplit(":", 1)[-1].isdigit() else key
        sites.setdefault(host, {"site": host, "articles": 0, "newest": None, "oldest": None})
    for info in sites.values():
        runs = last_runs(conn, info["site"], 1)
        info["last_run"] = runs[0] if runs else None
        info["alarms"] = alarms(conn, info["site"])
    return sorted(sites.values(), key=lambda s: (-s["articles"], s["site"]))


def last_runs(conn: sqlite3.Connection, site: str, limit: int = RUNS) -> list[dict[str, Any]]:
    clause, params = runs_of(site)
    rows = conn.execute(
        "SELECT id, site, started_at, finished_at, outcome, pages_fetched, articles_new, articles_revised,"
        f" articles_failed, drift FROM runs WHERE {clause} ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
    out = []
    for r in rows:
        drift = json.loads(r[9]) if r[9] else []
        out.append(dict(zip(("id", "key", "started_at", "finished_at", "outcome", "pages", "new", "revised", "failed"),
                            r[:9], strict=True), drift=describe(drift) if drift else ""))
    return out


def alarms(conn: sqlite3.Connection, site: str) -> list[dict[str, Any]]:
    """The site's drift alarms: each crawl key whose last finished run was degraded (the fields that
    dropped), and the scheduler's open alarms."""
    clause, params = runs_of(site)
    out = []
    for key, run, started, drift in conn.execute(
            f"SELECT r.site, r.id, r.started_at, r.drift FROM runs r WHERE {clause.replace('site', 'r.site')}"
            " AND r.outcome = 'degraded' AND r.id = (SELECT max(id) FROM runs WHERE site = r.site"
            " AND finished_at IS NOT NULL)", params):
        out.append({"kind": "degraded", "key": key, "run": run, "at": started,
                    "message": describe(json.loads(drift or "[]")) or "degraded"})
    if _has(conn, "alarms"):
        for kind, key, opened, message in conn.execute(
                f"SELECT kind, site, opened_at, message FROM alarms WHERE closed_at IS NULL AND {clause}"
                " ORDER BY id", params):
            if kind != "degraded" or not any(a["key"] == key for a in out):
                out.append({"kind": kind, "key": key, "run": None, "at": opened, "message": message})
    return out


def per_day(conn: sqlite3.Connection, site: str, days: int = DAYS) -> list[dict[str, Any]]:
    """Articles per publication day (the site's own offset) over the ``days`` days up to its newest
    article, every day listed (zero included)."""
    newest = conn.execute("SELECT max(published_at) FROM articles WHERE site = ?", (site,)).fetchone()[0]
    if not newest:
        return []
    try:
        last = date.fromisoformat(newest[:10])
    except ValueError:
        return []
    try:
        first = last - timedelta(days=days - 1)
    except OverflowError:  # a newest article dated near 0001-01-01
        first = date.min
    counts = dict(conn.execute(
        "SELECT substr(published_at, 1, 10), count(*) FROM articles WHERE site = ? AND published_at >= ?"
        " GROUP BY 1", (site, first.isoformat())).fetchall())
    return [{"day": (d := first + timedelta(days=i)).isoformat(), "articles": counts.get(d.isoformat(), 0)}
            for i in range(min(days, (last - first).days + 1))]


def coverage(conn: sqlite3.Connection, site: str, sample: int = SAMPLE) -> dict[str, Any]:
    """Field coverage (the drift alarm's fields: share of articles with each) of the site's newest
    ``sample`` articles, with their median body length."""
    rows = conn.execute(
        """SELECT count(*),
           avg(EXISTS (SELECT 1 FROM article_authors x WHERE x.article = a.id)),
           avg(published_at IS NOT NULL),
           avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id)),
           avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id AND i.caption IS NOT NULL)),
           avg(EXISTS (SELECT 1 FROM article_tags t WHERE t.article = a.id)),
           avg(sapo IS NOT NULL AND sapo != '')
           FROM (SELECT * FROM articles WHERE site = ? ORDER BY published_at DESC LIMIT ?) a""",
        (site, sample)).fetchone()
    n = rows[0]
    lengths = sorted(r[0] for r in conn.execute(
        "SELECT length(body_text) FROM articles WHERE site = ? ORDER BY published_at DESC LIMIT ?", (site, sample)))
    return {"articles": n, "share": {f: (rows[i + 1] or 0.0) for i, f in enumerate(SHARE_FIELDS)},
            "body_chars": lengths[len(lengths) // 2] if lengths else 0}


def media_coverage(conn: sqlite3.Connection, store: MediaStore | None, site: str,
                   sample: int = SAMPLE) -> dict[str, Any]:
    """Of the media the site's newest ``sample`` articles reference, how many are held (images apart)."""
    if not _has(conn, "media_refs"):
        return {"refs": 0, "held": 0, "images": 0, "images_held": 0}
    refs = conn.execute(
        "SELECT r.url, r.role FROM media_refs r WHERE r.article IN (SELECT id FROM articles WHERE site = ?"
        " ORDER BY published_at DESC LIMIT ?)", (site, sample)).fetchall()
    held = store.held({u for u, _ in refs}) if store is not None else {}
    images = [u for u, role in refs if role == "image"]
    return {"refs": len(refs), "held": sum(u in held for u, _ in refs), "images": len(images),
            "images_held": sum(u in held for u in images)}


SECTION_SAMPLE = 5000


def sections(conn: sqlite3.Connection, site: str, limit: int = 20,
             sample: int = SECTION_SAMPLE) -> list[dict[str, Any]]:
    """The site's biggest sections among its newest ``sample`` articles (a section is in each row)."""
    return [{"section": name, "articles": n} for name, n in conn.execute(
        "SELECT s.name, count(*) FROM (SELECT section_id FROM articles WHERE site = ? ORDER BY published_at DESC"
        " LIMIT ?) a JOIN sections s ON s.id = a.section_id GROUP BY s.id ORDER BY 2 DESC, 1 LIMIT ?",
        (site, sample, limit))]


def site_detail(conn: sqlite3.Connection, store: MediaStore | None, site: str) -> dict[str, Any] | None:
    n = site_count(conn, site)
    newest, oldest = newest_oldest(conn, site)
    runs = last_runs(conn, site)
    if not n and not runs:
        return None
    return {"site": site, "articles": n, "newest": newest, "oldest": oldest, "days": per_day(conn, site),
            "coverage": coverage(conn, site) if n else None,
            "media": media_coverage(conn, store, site) if n else None, "sections": sections(conn, site),
            "runs": runs, "alarms": alarms(conn, site), "sample": SAMPLE,
            "section_sample": SECTION_SAMPLE}


def bars(days: list[dict[str, Any]], width: int = 600, height: int = 120) -> dict[str, Any]:
    """An inline SVG bar chart's geometry: one bar per day, scaled to the busiest."""
    top = max((d["articles"] for d in days), default=0) or 1
    step = width / max(len(days), 1)
    out = []
    for i, d in enumerate(days):
        h = round(d["articles"] / top * (height - 2), 1) if d["articles"] else 2
        out.append({"x": round(i * step + 1, 1), "w": round(max(step - 2, 1), 1), "y": round(height - h, 1), "h": h,
                    **d})
    return {"bars": out, "width": width, "height": height, "top": top}


# -- pages -----------------------------------------------------------------------------------------

_overviews: dict[str, tuple[tuple[int, ...], list[dict[str, Any]]]] = {}


def _stamp(path: Path) -> tuple[int, ...]:
    """What changes when the archive does: the file's and its -wal's size and modification time."""
    out: list[int] = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return tuple(out)


async def sites_page(request: Any, datasette: Any) -> Any:
    # The overview counts every article (a walk of the site index: ~1 s at 1M articles, read from
    # disk), so it is kept until the archive changes.
    path = archive_path(datasette)
    stamp = _stamp(path)
    cached = _overviews.get(str(path))
    try:
        if cached is not None and cached[0] == stamp:
            rows = cached[1]
        else:
            rows = await read(datasette, overview)
            _overviews[str(path)] = (stamp, rows)
    except TooSlow as exc:
        return page(datasette, "site.html", {"site": "", "slow": str(exc), "nav": "sites"}, status=503)
    return page(datasette, "sites.html", {"sites": rows, "nav": "sites"})


async def site_page(request: Any, datasette: Any) -> Any:
    site = unquote(request.url_vars["site"])  # the path as sent: a key's ? # / % come quoted (site_href)
    from .article import media_store  # the media file, kept open per thread (None: unreadable)

    path = archive_path(datasette)

    def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
        return site_detail(conn, media_store(path), site)

    try:
        data = await read(datasette, work)
    except TooSlow as exc:
        return page(datasette, "site.html", {"site": site, "slow": str(exc), "nav": "sites"}, status=503)
    if data is None:
        return page(datasette, "site.html", {"site": site, "missing": True, "nav": "sites"}, status=404)
    return page(datasette, "site.html", {**data, "chart": bars(data["days"]), "labels": FIELD_LABELS,
                                         "search_url": "/" + query_string({"site": site}), "nav": "sites"})


ROUTES = [(r"^/sites/?$", sites_page), (r"^/sites/(?P<site>[^/]{1,255})$", site_page)]
