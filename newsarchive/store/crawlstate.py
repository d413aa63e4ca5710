"""What crawls need from the archive: known URLs, revisit schedule, run records, failures.

Kept beside the article store (same database, same connection), apart from it in code."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..dates import utc_now
from ..drift import MIN_ARTICLES
from . import Archive, RawPage, SaveResult
from .sitefilter import articles_of, runs_of

DEFAULT_SCHEDULE = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(days=7))


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's first value, whatever the case of its name and the shape of its values."""
    for key, values in headers.items():
        if str(key).lower() == name.lower() and values:
            value = values[0] if isinstance(values, list | tuple) else values
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


class CrawlState:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.conn = archive.conn

    # -- known articles ----------------------------------------------------------------------------

    # ``site`` below is a site's one identity (host, or host:port: sites.SiteRef.key)

    def known_urls(self, site: str) -> set[str]:
        clause, params = articles_of(site, "a.")
        rows = self.conn.execute(
            f"SELECT a.url FROM articles a WHERE {clause} UNION "
            f"SELECT u.url FROM url_aliases u JOIN articles a ON a.id = u.article WHERE {clause}",
            [*params, *params],
        )
        return {r[0] for r in rows}

    def known_ids(self, site: str) -> set[str]:
        clause, params = articles_of(site)
        rows = self.conn.execute(
            f"SELECT article_id FROM articles WHERE {clause} AND article_id IS NOT NULL AND extractor = 'onecms'",
            params,
        )
        return {r[0] for r in rows}

    def known(self, site: str, url: str, article_id: str | None, before: str) -> bool:
        """Archived before ``before`` (UTC, as ``first_seen``): by canonical URL or alias, or by CMS id
        on the same site. Looked up as a crawl meets each link (indexed: articles.url, url_aliases.url,
        articles(site, article_id)), instead of loading every known URL at the start of a run."""
        # fetchall: a statement left unfinished would hold its read transaction (and WAL snapshot) open
        clause, params = articles_of(site, "a.")
        if self.conn.execute(
            f"SELECT 1 FROM articles a WHERE a.url = ? AND a.first_seen < ? AND {clause} UNION ALL "
            f"SELECT 1 FROM url_aliases u JOIN articles a ON a.id = u.article WHERE u.url = ? AND a.first_seen < ?"
            f" AND {clause} LIMIT 1", [url, before, *params, url, before, *params]).fetchall():
            return True
        if article_id is None:
            return False
        clause, params = articles_of(site)
        return bool(self.conn.execute(
            f"SELECT 1 FROM articles WHERE {clause} AND article_id = ? AND extractor = 'onecms' AND first_seen < ?"
            " LIMIT 1", [*params, article_id, before]).fetchall())

    def known_many(self, site: str, pairs: Iterable[tuple[str, str | None]], before: str,
                   ) -> set[tuple[str, str | None]]:
        """Of ``(url, CMS id)`` pairs, those ``known`` would answer True for: a page's links in a few
        indexed queries (IN lists of up to 500) instead of two per link."""
        pairs = set(pairs)
        urls, ids = sorted({u for u, _ in pairs}), sorted({i for _, i in pairs if i is not None})
        found_urls: set[str] = set()
        found_ids: set[str] = set()
        clause, params = articles_of(site, "a.")
        clause = clause.replace("a.site", "+a.site")  # (unary +: look up by URL, not walk the site's index)
        for i in range(0, len(urls), 500):
            chunk = urls[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found_urls.update(r[0] for r in self.conn.execute(
                f"SELECT a.url FROM articles a WHERE a.url IN ({marks}) AND a.first_seen < ? AND {clause} UNION ALL "
                f"SELECT u.url FROM url_aliases u JOIN articles a ON a.id = u.article WHERE u.url IN ({marks})"
                f" AND a.first_seen < ? AND {clause}", [*chunk, before, *params, *chunk, before, *params]).fetchall())
        clause, params = articles_of(site)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found_ids.update(r[0] for r in self.conn.execute(
                f"SELECT article_id FROM articles WHERE {clause} AND article_id IN ({marks}) AND extractor = 'onecms'"
                " AND first_seen < ?", [*params, *chunk, before]).fetchall())
        return {(u, a) for u, a in pairs if u in found_urls or (a is not None and a in found_ids)}

    def known_after(self, site: str, article_after: int, alias_after: int,
                    ) -> Iterable[tuple[str, str, int]]:
        """What a shared frontier adds to its copy of "known" since it last looked: ("url", URL,
        rowid), ("alias", URL, rowid) and ("id", CMS id, rowid) of this site's articles past the
        given rowids (the rowid only grows), oldest first."""
        clause, params = articles_of(site, "a.")
        yield from self.conn.execute(
            f"SELECT 'url', a.url, a.id FROM articles a WHERE a.id > ? AND {clause} UNION ALL "
            f"SELECT 'id', a.article_id, a.id FROM articles a WHERE a.id > ? AND {clause}"
            " AND a.article_id IS NOT NULL AND a.extractor = 'onecms' UNION ALL "
            f"SELECT 'alias', u.url, u.rowid FROM url_aliases u JOIN articles a ON a.id = u.article"
            f" WHERE u.rowid > ? AND {clause}", [article_after, *params, article_after, *params, alias_after, *params])

    def newest_published(self, site: str) -> str | None:
        clause, params = articles_of(site)
        row = self.conn.execute(
            f"SELECT published_at FROM articles WHERE {clause} AND published_at IS NOT NULL"
            " ORDER BY julianday(published_at) DESC LIMIT 1",
            params,
        ).fetchone()
        return row[0] if row else None

    def due_for_revisit(
        self, site: str, schedule: Iterable[timedelta] = DEFAULT_SCHEDULE, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Articles whose next re-check after publication has come: a check is due at each step of
        ``schedule`` after ``published_at`` that the last check came before."""
        now = now or datetime.now(UTC)
        steps = sorted(schedule)
        if not steps:
            return []
        oldest = (now - steps[-1] - timedelta(days=1)).isoformat()
        out = []
        clause, params = articles_of(site)
        for url, published, checked, etag, modified in self.conn.execute(
            "SELECT url, published_at, last_checked, etag, last_modified FROM articles"
            f" WHERE {clause} AND julianday(published_at) >= julianday(?)",
            [*params, oldest],
        ):
            pub = datetime.fromisoformat(published)
            last = datetime.fromisoformat(checked.replace("Z", "+00:00"))
            if any(pub + step <= now and last < pub + step for step in steps):
                out.append({"url": url, "etag": etag, "last_modified": modified})
        return out

    def articles_since(self, site: str, floor: datetime | None) -> list[dict[str, Any]]:
        """Every archived article of a site published since ``floor`` (all when None)."""
        clause, params = articles_of(site)
        rows = self.conn.execute(
            f"SELECT url, etag, last_modified FROM articles WHERE {clause}"
            " AND (? IS NULL OR julianday(published_at) >= julianday(?))",
            [*params, floor.isoformat() if floor else None, floor.isoformat() if floor else None],
        )
        return [{"url": u, "etag": e, "last_modified": m} for u, e, m in rows]

    def touch(self, url: str, fetched_at: str, etag: str | None = None, last_modified: str | None = None) -> bool:
        """A re-check that found the article unchanged (HTTP 304): only ``last_checked`` moves."""
        article = self.archive.resolve(url)
        if article is None:
            return False
        self.conn.execute(
            "UPDATE articles SET last_checked = max(last_checked, ?), etag = coalesce(?, etag),"
            " last_modified = coalesce(?, last_modified) WHERE id = ?",
            (fetched_at, etag, last_modified, article),
        )
        return True

    def keep(self, record: dict[str, Any], raw: RawPage, request_url: str | None = None) -> SaveResult:
        """Archive a fetched article page inside the caller's transaction: its record and raw page,
        the validators for conditional re-checks; an earlier failure of its URLs is forgotten."""
        result = self.archive.save_one(record, raw)
        headers = raw.headers or {}
        self.set_validators(result.id, header(headers, "ETag"), header(headers, "Last-Modified"))
        for url in {raw.url, request_url or raw.url, record["url"]}:
            self.clear_failure(url)
        return result

    def set_validators(self, article: int, etag: str | None, last_modified: str | None) -> None:
        self.conn.execute(
            "UPDATE articles SET etag = ?, last_modified = ? WHERE id = ?", (etag, last_modified, article)
        )

    # -- failures: a failed article is retried by a later run, not forgotten ---------------------------

    def record_failure(self, url: str, site: str, error: str, page: RawPage | None = None) -> None:
        """A failed article, asked for again by the next runs; ``page``: what was fetched, kept when
        the extractor failed on it (``reparse`` reads it again)."""
        now = utc_now()
        body = zlib.compress(page.body, 6) if page is not None else None
        headers = json.dumps(dict(page.headers or {}), ensure_ascii=False) if page is not None else None
        self.conn.execute(
            "INSERT INTO failures(url, site, first_failed, last_failed, attempts, error, page, page_headers,"
            " page_fetched_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)"
            " ON CONFLICT(url) DO UPDATE SET last_failed = excluded.last_failed, attempts = attempts + 1,"
            " error = excluded.error, page = excluded.page, page_headers = excluded.page_headers,"
            " page_fetched_at = excluded.page_fetched_at",
            (url, site, now, now, error[:500], body, headers, page.fetched_at if page is not None else None),
        )

    def kept_pages(self, site: str | None = None) -> list[tuple[str, RawPage]]:
        """(url, page) of the failures whose page was kept (extractor errors), oldest first."""
        clause, params = runs_of(site) if site else ("1", [])
        rows = self.conn.execute(
            f"SELECT url, page, page_headers, page_fetched_at FROM failures WHERE page IS NOT NULL AND {clause}"
            " ORDER BY first_failed", params)
        return [(url, RawPage(url, zlib.decompress(body), 200, json.loads(headers) if headers else None, fetched))
                for url, body, headers, fetched in rows]

    def clear_failure(self, url: str) -> None:
        self.conn.execute("DELETE FROM failures WHERE url = ?", (url,))

    def failures(self, site: str, max_attempts: int = 10) -> list[str]:
        rows = self.conn.execute(
            "SELECT url FROM failures WHERE site = ? AND attempts < ? ORDER BY last_failed", (site, max_attempts)
        )
        return [r[0] for r in rows]

    # -- runs ----------------------------------------------------------------------------------------

    def start_run(self, key: str, base: str, since_bound: str | None, pid: int) -> int:
        # the lock is held: any unfinished run of this site was killed
        self.conn.execute(
            "UPDATE runs SET outcome = 'interrupted' WHERE site = ? AND finished_at IS NULL AND outcome IS NULL", (key,)
        )
        cur = self.conn.execute(
            "INSERT INTO runs(site, base_url, started_at, since_bound, pid) VALUES (?, ?, ?, ?, ?)",
            (key, base, utc_now(), since_bound, pid),
        )
        return int(cur.lastrowid)

    def start_cluster_run(self, run: str, key: str, base: str, since_bound: str | None, started_at: str) -> None:
        """A cluster run, as its planning worker announced it (once, whatever the replays)."""
        if self.conn.execute("SELECT 1 FROM runs WHERE cluster_run = ?", (run,)).fetchone():
            return
        self.conn.execute(
            "UPDATE runs SET outcome = 'interrupted' WHERE site = ? AND finished_at IS NULL AND outcome IS NULL", (key,)
        )
        self.conn.execute(
            "INSERT INTO runs(site, base_url, started_at, since_bound, cluster_run) VALUES (?, ?, ?, ?, ?)",
            (key, base, started_at, since_bound, run),
        )

    def count_in_run(self, run: str | None, column: str) -> None:
        if run and column in ("articles_new", "articles_revised", "articles_unchanged", "articles_failed"):
            self.conn.execute(f"UPDATE runs SET {column} = {column} + 1 WHERE cluster_run = ?", (run,))

    def finish_cluster_run(self, run: str, finished_at: str, pages: int, errors: list[str]) -> None:
        row = self.conn.execute("SELECT articles_failed FROM runs WHERE cluster_run = ?", (run,)).fetchone()
        if row is None:
            return
        outcome = "failed" if pages == 0 else "partial" if row[0] or errors else "success"
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, outcome = ?, pages_fetched = ?, errors = ? WHERE cluster_run = ?",
            (finished_at, outcome, pages, json.dumps(errors[:50], ensure_ascii=False), run),
        )

    def interrupted_run(self, key: str) -> dict[str, Any] | None:
        """The last run of a site if it never finished (killed): the next run resumes its window."""
        row = self.conn.execute(
            "SELECT id, since_bound, outcome, finished_at FROM runs WHERE site = ? ORDER BY id DESC LIMIT 1", (key,)
        ).fetchone()
        # killed (never finished), stopped by a signal or by a full disk: its window was not
        # walked to the end
        if row and (row[2] is None or row[2] in ("interrupted", "storage_error")):
            return {"id": row[0], "since_bound": row[1]}
        return None

    def set_coverage(self, run: int, coverage: Mapping[str, Any], drift: Any) -> None:
        self.conn.execute("UPDATE runs SET coverage = ?, drift = ? WHERE id = ?",
                          (json.dumps(coverage), json.dumps(drift, ensure_ascii=False) if drift else None, run))

    def baseline(self, key: str, before: int, runs: int = 5) -> list[dict[str, Any]]:
        """The coverage of a site's last finished runs before run ``before`` that read enough pages
        to say something (small scheduled runs must not push the baseline out) and were not
        degraded: what its pages normally carry."""
        clause, params = runs_of(key)
        rows = self.conn.execute(
            f"SELECT coverage FROM runs WHERE {clause} AND id < ? AND coverage IS NOT NULL"
            " AND outcome IN ('success', 'partial') AND json_extract(coverage, '$.pages') >= ?"
            " ORDER BY id DESC LIMIT ?", [*params, before, MIN_ARTICLES, runs])
        return [json.loads(r[0]) for r in rows]

    def set_bound(self, run: int, since_bound: str) -> None:
        self.conn.execute("UPDATE runs SET since_bound = ? WHERE id = ?", (since_bound, run))

    def finish_run(self, run: int, outcome: str, counts: dict[str, int], errors: list[str]) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, outcome = ?, pages_fetched = ?, articles_new = ?, articles_revised = ?,"
            " articles_unchanged = ?, articles_failed = ?, errors = ? WHERE id = ?",
            (utc_now(), outcome, counts.get("pages", 0), counts.get("new", 0), counts.get("revised", 0),
             counts.get("unchanged", 0), counts.get("failed", 0), json.dumps(errors[:50], ensure_ascii=False), run),
        )

    def runs(self, limit: int = 20, site: str | None = None) -> list[dict[str, Any]]:
        """The last runs, newest first; ``site`` is a site's one identity (host, or host:port)."""
        clause, params = runs_of(site) if site else ("1", [])
        cur = self.conn.execute(f"SELECT * FROM runs WHERE {clause} ORDER BY id DESC LIMIT ?", [*params, limit])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]
