"""The archive: one SQLite file, normalised tables, revisions, raw pages. Stores and queries only.

One article is one row (found by canonical URL, by any URL it was reached by, or by its CMS id
on the same site). Every write of an article is one transaction: it is never partly visible.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ..record import content_hash, ordered, same_record
from ..urls import canonical, origin_site
from . import search
from .migrations import migrate
from .sitefilter import articles_of

DEFAULT_DB = Path("data") / "archive.db"


def read_only_uri(path: Path) -> str:
    """A read-only URI: immutable (no locks, no side files) where no one can be writing, a file or
    folder this process may not write to and no -wal beside it; else a plain read-only WAL reader,
    which sees each commit of a crawl that starts while it reads (and may leave SQLite's -wal and
    -shm files: :func:`connect_reader` does not)."""
    from urllib.parse import quote

    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if path.with_name(path.name + "-wal").exists() or _writable(path):
        return uri
    return uri + "&immutable=1"


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.resolve().parent, os.W_OK)


def _read_only_fs(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def connect_reader(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that only reads an existing database. Where this process may write the file, an
    ordinary connection with ``query_only``: it sees each commit of a writer that starts after it
    opened (an immutable open read stale, then torn pages: "database disk image is malformed" on a
    sound archive), and, closing last, removes the -wal and -shm files it made. Elsewhere no one
    (with our rights) can be writing, and :func:`read_only_uri` opens it immutable."""
    if _writable(path):
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        conn.execute("PRAGMA query_only = ON")
        return conn
    return sqlite3.connect(read_only_uri(path), uri=True, isolation_level=None, timeout=timeout)


def busy_timeout() -> float:
    """Seconds a connection waits for another one's write lock: ``$NEWSARCHIVE_BUSY_TIMEOUT``, or 60."""
    value = os.environ.get("NEWSARCHIVE_BUSY_TIMEOUT", "").strip()
    try:
        seconds = float(value) if value else 60.0
    except ValueError:
        raise StorageError(f"NEWSARCHIVE_BUSY_TIMEOUT={value!r} is not a number of seconds") from None
    if not 0 <= seconds < 10**6:
        raise StorageError(f"NEWSARCHIVE_BUSY_TIMEOUT={value!r} is not a number of seconds") from None
    return seconds


def default_db_path() -> Path:
    env = os.environ.get("NEWSARCHIVE_DB")
    return Path(env) if env else DEFAULT_DB


@dataclass(frozen=True)
class RawPage:
    """What was fetched: kept compressed so that any article can be re-extracted later."""

    url: str
    body: bytes
    status: int | None = None
    headers: Mapping[str, Any] | None = None
    fetched_at: str | None = None


@dataclass(frozen=True)
class SaveResult:
    id: int
    status: str  # "new", "revised" or "unchanged"
    revision_count: int


class StorageError(Exception):
    """The archive cannot be written (disk full, read-only file, not a database)."""


class ProvenanceError(ValueError):
    """A record that claims a site other than the one its page was fetched from: never stored."""


def check_provenance(record: Mapping[str, Any], page: RawPage | None) -> None:
    """A record is believed only about the site its page came from (www.-variants, http and https
    alike): the extractor already holds a page's claims to that site; the store refuses anything
    else, whichever path (crawl, scrape, import, reparse, cluster) brought it."""
    if page is None or not page.url.startswith(("http://", "https://")):
        return
    if origin_site(record["url"]) != origin_site(page.url):
        raise ProvenanceError(f"{page.url} was fetched from {origin_site(page.url)}: its record of "
                              f"{record['url']} ({origin_site(record['url']) or 'no site'}) is refused")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _headers_json(headers: Mapping[str, Any] | None) -> str | None:
    if headers is None:
        return None
    out: dict[str, str] = {}
    for k, v in headers.items():
        key = k.decode("latin-1") if isinstance(k, bytes) else str(k)
        vals = v if isinstance(v, list | tuple) else [v]
        out[key] = ", ".join(x.decode("latin-1") if isinstance(x, bytes) else str(x) for x in vals)
    return _json(out)


class Archive:
    """``Archive(path)`` opens (creating and migrating) the archive database."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, readonly: bool = False,
                 max_bytes: int | None = None) -> None:
        """``max_bytes``: a size the file may not grow past (a quota; writes past it fail as on a
        full disk, with :class:`StorageError`, and nothing half-written)."""
        self.path = Path(path) if path is not None else default_db_path()
        timeout = busy_timeout()
        self.conn = None  # type: ignore[assignment]
        try:
            if readonly:
                if not self.path.exists():
                    raise StorageError(f"no archive at {self.path}")
                self.conn = connect_reader(self.path, timeout)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                new = not self.path.exists() or self.path.stat().st_size == 0
                # SQLite would open a read-only file read-only without a word (and leave -wal and -shm
                # files beside it). Asked with access(), never by opening the file: closing any
                # descriptor of it drops every POSIX lock this process holds on it, the SQLite
                # connections' too, and another process closing the archive then deletes the WAL
                # under them ("disk I/O error", commits lost).
                if not new and not os.access(self.path, os.W_OK):
                    raise OSError(errno.EROFS if _read_only_fs(self.path) else errno.EACCES,
                                  "Read-only file system" if _read_only_fs(self.path) else "Permission denied")
                self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=timeout)
                if new:  # rows hold whole bodies: 16 KiB pages cut overflow chains (7% faster ingest)
                    self.conn.execute("PRAGMA page_size = 16384")
                else:  # read before anything writes: a damaged or foreign file is left as it is
                    self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
                migrate(self.conn)
                if max_bytes:
                    page = self.conn.execute("PRAGMA page_size").fetchone()[0]
                    self.conn.execute(f"PRAGMA max_page_count = {max(1, int(max_bytes) // page)}")
                # fail here, not at the first article: a read-only file (which SQLite silently opens
                # read-only) or a lock held past the busy timeout; nothing is written
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute("DELETE FROM _migrations WHERE 0")
                finally:
                    self.conn.execute("ROLLBACK")
            else:
                self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlite3.DatabaseError, OSError) as exc:
            if self.conn is not None:
                self.conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StorageError(f"cannot open archive {self.path}: {reason}") from exc
        except StorageError:
            if self.conn is not None:
                self.conn.close()
            raise
        self.db = sqlite_utils.Database(self.conn)
        self._names: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def _find(self, record: Mapping[str, Any], fetched_url: str | None) -> sqlite3.Row | None:
        c = self.conn
        urls = [record["url"]] + ([canonical(fetched_url)] if fetched_url else [])
        for url in urls:
            row = c.execute(
                "SELECT id, content_hash, revision_count FROM articles WHERE url = ?1 UNION ALL"
                " SELECT a.id, a.content_hash, a.revision_count FROM url_aliases u JOIN articles a ON a.id = u.article"
                " WHERE u.url = ?1 LIMIT 1",
                (url,),
            ).fetchone()
            if row:
                return row
        if record.get("article_id") and record.get("extractor") == "onecms":
            # OneCMS ids are unique per site (its port included): an edited slug is the same article
            clause, params = articles_of(origin_site(record["url"]) or record["site"])
            return c.execute(
                f"SELECT id, content_hash, revision_count FROM articles WHERE {clause} AND article_id = ?"
                " AND extractor = 'onecms'",
                [*params, record["article_id"]],
            ).fetchone()
        return None

    def _named(self, table: str, name: str) -> int:
        """The id of an author, tag or section, created if new. Cached: most articles share them
        (the cache is dropped with a rolled-back transaction, whose new ids are gone)."""
        key = (table, name)
        found = self._names.get(key)
        if found is not None:
            return found
        row = self.conn.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)).fetchone()
        found = row[0] if row else int(self.conn.execute(f"INSERT INTO {table}(name) VALUES (?)", (name,)).lastrowid)
        if len(self._names) > 100_000:
            self._names.clear()
        self._names[key] = found
        return found

    def _write_children(self, article: int, record: Mapping[str, Any], new: bool) -> None:
        c = self.conn
        if not new:
            for table in ("article_authors", "article_tags", "images"):
                c.execute(f"DELETE FROM {table} WHERE article = ?", (article,))
        if authors := record.get("authors"):
            c.executemany("INSERT INTO article_authors VALUES (?, ?, ?)",
                          [(article, self._author(name), pos) for pos, name in enumerate(authors)])
        for name in [record.get("section"), *(record.get("breadcrumb") or [])]:
            if isinstance(name, str) and name and ("sections+key", name) not in self._names:
                # every level of the breadcrumb is a section, with its folded key (for --section)
                c.execute("INSERT INTO sections(name, key) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                          " SET key = excluded.key WHERE key IS NULL", (name, search.name_key(name)))
                self._names[("sections+key", name)] = 0
        if tags := record.get("tags"):
            c.executemany("INSERT INTO article_tags VALUES (?, ?, ?)",
                          [(article, self._named("tags", name), pos) for pos, name in enumerate(tags)])
        if images := record.get("images"):
            c.executemany("INSERT INTO images VALUES (?, ?, ?, ?)",
                          [(article, pos, img["src"], img.get("caption")) for pos, img in enumerate(images)])

    def _author(self, name: str) -> int:
        """The id of an author as printed (``name``, what the record gives back), created if new with
        its folded ``key`` and the ``display`` form shared by every spelling of that key."""
        found = self._names.get(("authors", name))
        if found is not None:
            return found
        row = self.conn.execute("SELECT id FROM authors WHERE name = ?", (name,)).fetchone()
        if row is None:
            key, display = search.name_key(name), search.author_display(name)
            same = self.conn.execute("SELECT display FROM authors WHERE key = ? LIMIT 1", (key,)).fetchone()
            if same and search.preferred_display(same[0], display) != same[0]:
                self.conn.execute("UPDATE authors SET display = ? WHERE key = ?", (display, key))
            elif same:
                display = same[0]
            row = (self.conn.execute("INSERT INTO authors(name, display, key) VALUES (?, ?, ?)",
                                     (name, display, key)).lastrowid,)
        if len(self._names) > 100_000:
            self._names.clear()
        self._names[("authors", name)] = int(row[0])
        return int(row[0])

    def _columns(self, record: Mapping[str, Any]) -> dict[str, Any]:
        section = record.get("section")
        return {
            "site": record["site"],
            "article_id": record.get("article_id"),
            "kind": record["kind"],
            "title": record["title"],
            "sapo": record.get("sapo"),
            "dateline": record.get("dateline"),
            "published_at": record.get("published_at"),
            "modified_at": record.get("modified_at"),
            "section_id": self._named("sections", section) if section else None,
            "breadcrumb": _json(record.get("breadcrumb") or []),
            "body_text": record.get("body_text") or "",
            "source": record.get("source"),
            "language": record.get("language"),
            "extractor": record["extractor"],
            "extractor_version": record["extractor_version"],
            "fetched_at": record["fetched_at"],
        }

    def _write_version(self, article: int, record: Mapping[str, Any], page: RawPage | None, revision: int,
                       reason: str, digest: str, key: int | None) -> None:
        """What a new version writes besides the article row: children, index (unless ``key`` is
        None: the indexed text did not change), raw page, revision."""
        fetched = record["fetched_at"]
        self._write_children(article, record, new=revision == 1)
        if key is not None:
            search.index(self.conn, key, record)
        page_id = self._store_page(article, page, fetched) if page else None
        self.conn.execute(
            "INSERT INTO revisions(article, revision, reason, fetched_at, content_hash, record, page)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (article, revision, reason, fetched, digest, _json(record), page_id),
        )

    def _insert_article(self, cols: dict[str, Any]) -> tuple[int, int]:
        """Insert the article row under the next id and its search key (unique: on a rare collision,
        the same second and id bits as another article, bumped a second later, order kept)."""
        article = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM articles").fetchone()[0]
        key = search.search_key(article, cols["published_at"], cols["fetched_at"])
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        while True:
            try:
                self.conn.execute(f"INSERT INTO articles(id, search_key, {names}) VALUES (?, ?, {marks})",
                                  [article, key, *cols.values()])
                # each site's count, for the sites pages (migration 015; here, not in a trigger, which
                # would make each insert keep a statement journal: ~40% of the ingest's time)
                self.conn.execute("INSERT INTO site_articles(site, articles) VALUES (?, 1)"
                                  " ON CONFLICT(site) DO UPDATE SET articles = articles + 1", (cols["site"],))
                return article, key
            except sqlite3.IntegrityError as exc:
                if "search_key" not in str(exc):
                    raise
                key += 1 << 20

    def _rekey(self, article: int, record: Mapping[str, Any]) -> int:
        """A revised article's key follows its (possibly corrected) publication time."""
        key = search.search_key(article, record.get("published_at"), record["fetched_at"])
        while True:
            try:
                self.conn.execute("UPDATE articles SET search_key = ? WHERE id = ?", (key, article))
                return key
            except sqlite3.IntegrityError:
                key += 1 << 20

    def _store_page(self, article: int, page: RawPage, fetched_at: str) -> int:
        sha = hashlib.sha256(page.body).hexdigest()
        row = self.conn.execute("SELECT id FROM pages WHERE article = ? AND body_sha256 = ?", (article, sha)).fetchone()
        if row:  # already kept (a re-extraction, or the same bytes again): not compressed twice
            return int(row[0])
        return int(self.conn.execute(
            "INSERT INTO pages(article, url, status, headers, body, body_sha256, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (article, page.url, page.status, _headers_json(page.headers), zlib.compress(page.body, 6), sha,
             page.fetched_at or fetched_at),
        ).lastrowid)

    def save(self, record: Mapping[str, Any], page: RawPage | None = None, reason: str = "edit") -> SaveResult:
        """Archive one record (and the raw page it came from) in one transaction.

        New content makes a new version (``reason``: "edit", or "reextract" for re-extraction);
        the same content only moves ``last_checked``. ``first_seen`` never changes."""
        return self.save_many([(record, page)], reason)[0]

    def save_many(
        self, items: Iterable[tuple[Mapping[str, Any], RawPage | None]], reason: str = "edit"
    ) -> list[SaveResult]:
        """Archive many records in one transaction (bulk imports): all or none."""
        with self.transaction():
            return [self._save_one(record, page, reason) for record, page in items]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (taken at once: BEGIN IMMEDIATE), committed at the end of the block
        or rolled back whole on any error; a write SQLite refuses (disk full, read-only file)
        becomes :class:`StorageError`."""
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield
                c.execute("COMMIT")
            except BaseException:
                self._names.clear()  # ids created in the rolled-back transaction are gone
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StorageError(f"cannot write to archive {self.path}: {exc}") from exc

    def save_one(self, record: Mapping[str, Any], page: RawPage | None = None, reason: str = "edit") -> SaveResult:
        """:meth:`save` inside the caller's :meth:`transaction` (a batch that also writes other rows)."""
        if not self.conn.in_transaction:
            raise RuntimeError("save_one belongs inside Archive.transaction()")
        return self._save_one(record, page, reason)

    def _save_one(self, record: Mapping[str, Any], page: RawPage | None, reason: str) -> SaveResult:
        check_provenance(record, page)
        record = ordered(dict(record))
        digest = content_hash(record)
        fetched = record["fetched_at"]
        c = self.conn
        row = self._find(record, page.url if page else None)
        if row is None:
            cols = self._columns(record)
            cols.update(url=record["url"], first_seen=fetched, last_checked=fetched,
                        content_hash=digest, revision_count=1)
            article, key = self._insert_article(cols)
            status, count = "new", 1
            self._write_version(article, record, page, 1, "first", digest, key)
        else:
            article, old_digest, count = row
            if old_digest == digest:
                c.execute(
                    "UPDATE articles SET last_checked = max(last_checked, ?) WHERE id = ?", (fetched, article)
                )
                status = "unchanged"
            else:
                count += 1
                old = self.record(article)
                old_key = c.execute("SELECT search_key FROM articles WHERE id = ?", (article,)).fetchone()[0]
                if old is not None and old_key is not None:
                    search.unindex(c, old_key, old)
                cols = self._columns(record)
                cols.update(last_checked=fetched, content_hash=digest, revision_count=count)
                sets = ", ".join(f"{k} = ?" for k in cols)
                c.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*cols.values(), article])
                self._write_version(article, record, page, count, reason, digest, self._rekey(article, record))
                status = "revised"
        urls = {record["url"], canonical(page.url) if page else record["url"]}
        c.executemany("INSERT OR IGNORE INTO url_aliases VALUES (?, ?)", [(url, article) for url in urls])
        return SaveResult(article, status, count)

    def reextract_many(self, items: Iterable[tuple[int, Mapping[str, Any], RawPage]]) -> list[bool]:
        """Store records re-derived from articles' stored pages by the current extractor, in one
        transaction. A record that differs from the current one (its fetch time and extractor
        version aside) becomes a new version marked ``reextract``: not a publisher's edit, so
        ``first_seen`` and ``last_checked`` stay as they are. Returns, per item, whether it did."""
        with self.transaction():
            return [self._reextract_one(article, ordered(dict(record)), page) for article, record, page in items]

    def _reextract_one(self, article: int, record: dict[str, Any], page: RawPage) -> bool:
        c = self.conn
        check_provenance(record, page)
        current = self.record(article)
        if current is None or same_record(current, record) or origin_site(current["url"]) != origin_site(page.url):
            return False  # (a page of another site may not rewrite an article: reparse says so)
        count, old_key = c.execute(
            "SELECT revision_count, search_key FROM articles WHERE id = ?", (article,)).fetchone()
        # an extractor that only gained tags leaves the indexed text and its key as they were
        same_text = (old_key is not None and search.indexed_text(current) == search.indexed_text(record)
                     and current["published_at"] == record["published_at"])
        if old_key is not None and not same_text:
            search.unindex(c, old_key, current)
        cols = self._columns(record)
        cols.update(content_hash=content_hash(record), revision_count=count + 1)
        taken = c.execute("SELECT 1 FROM articles WHERE url = ? AND id != ?", (record["url"], article)).fetchone()
        if not taken:  # a canonical URL read differently now; one another article holds stays as it was
            cols["url"] = record["url"]
            c.execute("INSERT OR IGNORE INTO url_aliases VALUES (?, ?)", (current["url"], article))
        sets = ", ".join(f"{k} = ?" for k in cols)
        c.execute(f"UPDATE articles SET {sets} WHERE id = ?", [*cols.values(), article])
        self._write_version(article, record, page, count + 1, "reextract", cols["content_hash"],
                            None if same_text else self._rekey(article, record))
        return True

    def record_batch(self, batch_id: str, items: int) -> None:
        """Inside a transaction: a cluster writer's batch is stored (so a replay is recognised)."""
        self.conn.execute("INSERT INTO ingested_batches(id, items, ingested_at) VALUES (?, ?, ?)",
                          (batch_id, items, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))

    def batch_stored(self, batch_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM ingested_batches WHERE id = ?", (batch_id,)).fetchone() is not None

    # -- reading -------------------------------------------------------------------------------

    def resolve(self, url_or_id: str | int) -> int | None:
        """The archive's row id for an id, a URL the article is known by, or None."""
        text = str(url_or_id).strip()
        if text.isdigit():
            row = self.conn.execute("SELECT id FROM articles WHERE id = ?", (int(text),)).fetchone()
            return row[0] if row else None
        url = canonical(text)
        row = self.conn.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone() or self.conn.execute(
            "SELECT article FROM url_aliases WHERE url = ?", (url,)
        ).fetchone()
        return row[0] if row else None

    def record(self, article: int) -> dict[str, Any] | None:
        """The current record of an article, exactly as in the record spec."""
        c = self.conn
        row = c.execute(
            "SELECT a.url, a.site, a.article_id, a.kind, a.title, a.sapo, a.dateline, a.published_at,"
            " a.modified_at, s.name, a.breadcrumb, a.body_text, a.source, a.language, a.extractor,"
            " a.extractor_version, a.fetched_at FROM articles a LEFT JOIN sections s ON s.id = a.section_id"
            " WHERE a.id = ?",
            (article,),
        ).fetchone()
        if row is None:
            return None
        (url, site, aid, kind, title, sapo, dateline, pub, mod, section, crumbs, body, source, lang, ext, ver,
         fetched) = row
        authors = [r[0] for r in c.execute(
            "SELECT au.name FROM article_authors aa JOIN authors au ON au.id = aa.author"
            " WHERE aa.article = ? ORDER BY aa.position", (article,))]
        tags = [r[0] for r in c.execute(
            "SELECT t.name FROM article_tags at2 JOIN tags t ON t.id = at2.tag WHERE at2.article = ?"
            " ORDER BY at2.position", (article,))]
        images = [{"src": r[0], "caption": r[1]} for r in c.execute(
            "SELECT src, caption FROM images WHERE article = ? ORDER BY position", (article,))]
        return ordered({
            "url": url, "site": site, "article_id": aid, "kind": kind, "title": title, "sapo": sapo,
            "dateline": dateline, "authors": authors, "published_at": pub, "modified_at": mod,
            "section": section, "breadcrumb": json.loads(crumbs), "tags": tags, "body_text": body,
            "images": images, "source": source, "language": lang, "extractor": ext,
            "extractor_version": ver, "fetched_at": fetched,
        })

    def revisions(self, article: int) -> list[dict[str, Any]]:
        return [
            {"revision": rev, "fetched_at": fetched, "reason": reason, "record": json.loads(rec)}
            for rev, fetched, reason, rec in self.conn.execute(
                "SELECT revision, fetched_at, reason, record FROM revisions WHERE article = ? ORDER BY revision",
                (article,),
            )
        ]

    @staticmethod
    def _filters(since: str | None = None, until: str | None = None, site: str | None = None,
                 section: str | None = None, author: str | None = None) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if section:  # folded as search folds, and a parent section includes its children
            where.append(search.section_filter("articles"))
            params.extend([search.name_key(section)] * 2)
        if author:  # folded: "mai que" finds "MAI QUẾ"
            where.append(search.author_filter("articles"))
            params.append(search.name_key(author))
        if since:
            where.append("julianday(published_at) >= julianday(?)")
            params.append(since)
        if until:
            where.append("julianday(published_at) < julianday(?)")
            params.append(until)
        if site:  # the site's one identity (host, or host:port)
            clause, values = articles_of(site)
            where.append(clause)
            params.extend(values)
        return where, params

    def article_ids(
        self, *, since: str | None = None, until: str | None = None, site: str | None = None,
        section: str | None = None, author: str | None = None,
    ) -> Iterator[int]:
        """Row ids, oldest publication first, filtered on ``published_at``, site, section, author."""
        where, params = self._filters(since, until, site, section, author)
        sql = "SELECT id FROM articles" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY published_at IS NULL, published_at, id"
        for (article,) in self.conn.execute(sql, params).fetchall():
            yield article

    def id_batches(self, size: int = 200, **filters: Any) -> Iterator[list[int]]:
        """The same filters, in row-id order, ``size`` ids at a time (keyset paging: memory stays
        bounded, and rows written meanwhile do not shift the pages)."""
        where, params = self._filters(**filters)
        last = 0
        while True:
            sql = "SELECT id FROM articles WHERE " + " AND ".join(["id > ?", *where]) + " ORDER BY id LIMIT ?"
            ids = [r[0] for r in self.conn.execute(sql, [last, *params, size])]
            if not ids:
                return
            yield ids
            last = ids[-1]

    def records(self, **filters: Any) -> Iterator[tuple[int, dict[str, Any]]]:
        for article in self.article_ids(**filters):
            rec = self.record(article)
            if rec is not None:
                yield article, rec

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def pages(self, article: int) -> Iterator[RawPage]:
        """Every stored raw page of an article, oldest fetch first (one per version that had one)."""
        for (page_id,) in self.conn.execute(
                "SELECT id FROM pages WHERE article = ? ORDER BY fetched_at, id", (article,)).fetchall():
            url, status, headers, body, fetched = self.conn.execute(
                "SELECT url, status, headers, body, fetched_at FROM pages WHERE id = ?", (page_id,)).fetchone()
            yield RawPage(url, zlib.decompress(body), status, json.loads(headers) if headers else None, fetched)

    def raw_page(self, article: int) -> RawPage | None:
        row = self.conn.execute(
            "SELECT url, status, headers, body, fetched_at FROM pages WHERE article = ?"
            " ORDER BY fetched_at DESC, id DESC",
            (article,),
        ).fetchone()
        if row is None:
            return None
        url, status, headers, body, fetched = row
        return RawPage(url, zlib.decompress(body), status, json.loads(headers) if headers else None, fetched)


__all__ = ["Archive", "ProvenanceError", "RawPage", "SaveResult", "StorageError", "check_provenance",
           "connect_reader", "default_db_path", "read_only_uri"]
