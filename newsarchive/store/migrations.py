"""Named, transactional schema migrations. Each runs once, in order, recorded in ``_migrations``.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the migration's transaction."""
    buf = ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            conn.execute(buf)
            buf = ""
    if buf.strip():
        conn.execute(buf)


def _m001_initial(conn: sqlite3.Connection) -> None:
    _script(conn,
        """
        CREATE TABLE sections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,            -- canonical URL, tracking parameters removed
            site TEXT NOT NULL,
            article_id TEXT,                     -- the CMS's own id
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            sapo TEXT,
            dateline TEXT,
            published_at TEXT,                   -- ISO 8601 in the site's offset
            modified_at TEXT,
            section_id INTEGER REFERENCES sections(id),
            breadcrumb TEXT NOT NULL DEFAULT '[]',   -- JSON list
            body_text TEXT NOT NULL,
            source TEXT,
            language TEXT,
            extractor TEXT NOT NULL,
            extractor_version TEXT NOT NULL,
            fetched_at TEXT NOT NULL,            -- UTC: fetch that produced the current version
            first_seen TEXT NOT NULL,            -- UTC: never changes
            last_checked TEXT NOT NULL,          -- UTC: last time the page was fetched and compared
            content_hash TEXT NOT NULL,
            revision_count INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX articles_site_published ON articles(site, published_at);
        CREATE INDEX articles_published ON articles(published_at);
        CREATE INDEX articles_article_id ON articles(site, article_id);
        CREATE TABLE authors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE article_authors (
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            author INTEGER NOT NULL REFERENCES authors(id),
            position INTEGER NOT NULL,           -- byline order
            PRIMARY KEY (article, position)
        );
        CREATE INDEX article_authors_author ON article_authors(author);
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        );
        CREATE TABLE article_tags (
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            tag INTEGER NOT NULL REFERENCES tags(id),
            position INTEGER NOT NULL,
            PRIMARY KEY (article, position)
        );
        CREATE INDEX article_tags_tag ON article_tags(tag);
        CREATE TABLE images (
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            src TEXT NOT NULL,
            caption TEXT,
            PRIMARY KEY (article, position)
        );
        CREATE TABLE url_aliases (
            url TEXT PRIMARY KEY,                -- any URL the article was reached by (canonical form)
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE
        );
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            revision INTEGER NOT NULL,           -- 1 = first version
            reason TEXT NOT NULL CHECK (reason IN ('first', 'edit', 'reextract')),
            fetched_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            record TEXT NOT NULL,                -- the full record JSON of this version
            page INTEGER REFERENCES pages(id),
            UNIQUE (article, revision)
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            article INTEGER REFERENCES articles(id) ON DELETE CASCADE,
            url TEXT NOT NULL,                   -- the URL fetched (or the file read)
            status INTEGER,                      -- NULL for a local file
            headers TEXT,                        -- JSON object, NULL for a local file
            body BLOB NOT NULL,                  -- zlib-compressed raw bytes as fetched
            body_sha256 TEXT NOT NULL,
            fetched_at TEXT NOT NULL
        );
        CREATE INDEX pages_article ON pages(article, fetched_at);
        CREATE UNIQUE INDEX pages_article_sha ON pages(article, body_sha256);
        """
    )


def _m002_views(conn: sqlite3.Connection) -> None:
    _script(conn,
        """
        CREATE VIEW article_view AS
        SELECT a.id, a.url, a.site, a.article_id, a.kind, a.title, a.sapo, a.dateline,
               a.published_at, a.modified_at, s.name AS section,
               (SELECT group_concat(name, '; ') FROM (SELECT au.name FROM article_authors aa
                    JOIN authors au ON au.id = aa.author WHERE aa.article = a.id ORDER BY aa.position)) AS authors,
               (SELECT group_concat(name, '; ') FROM (SELECT t.name FROM article_tags at2
                    JOIN tags t ON t.id = at2.tag WHERE at2.article = a.id ORDER BY at2.position)) AS tags,
               (SELECT count(*) FROM images i WHERE i.article = a.id) AS image_count,
               a.body_text, a.revision_count, a.first_seen, a.last_checked
        FROM articles a LEFT JOIN sections s ON s.id = a.section_id;
        CREATE VIEW author_articles AS
        SELECT au.name AS author, aa.position, a.id, a.title, a.url, a.site, a.published_at
        FROM article_authors aa JOIN authors au ON au.id = aa.author JOIN articles a ON a.id = aa.article;
        CREATE VIEW tag_articles AS
        SELECT t.name AS tag, a.id, a.title, a.url, a.site, a.published_at
        FROM article_tags at2 JOIN tags t ON t.id = at2.tag JOIN articles a ON a.id = at2.article;
        """
    )


def _m003_crawls(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        ALTER TABLE articles ADD COLUMN etag TEXT;            -- validators of the last fetch, for
        ALTER TABLE articles ADD COLUMN last_modified TEXT;   -- conditional re-checks
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,                  -- the crawl key: registry key or host[:port]
            base_url TEXT NOT NULL,
            started_at TEXT NOT NULL,            -- UTC
            finished_at TEXT,                    -- NULL while running (or when killed)
            outcome TEXT,                        -- success, partial, failed, interrupted, ...
            since_bound TEXT,                    -- the oldest publication time the run reaches back to
            pid INTEGER,
            pages_fetched INTEGER NOT NULL DEFAULT 0,
            articles_new INTEGER NOT NULL DEFAULT 0,
            articles_revised INTEGER NOT NULL DEFAULT 0,
            articles_unchanged INTEGER NOT NULL DEFAULT 0,
            articles_failed INTEGER NOT NULL DEFAULT 0,
            errors TEXT NOT NULL DEFAULT '[]'    -- JSON list of messages
        );
        CREATE INDEX runs_site ON runs(site, id);
        CREATE TABLE failures (
            url TEXT PRIMARY KEY,                -- an article page that could not be archived
            site TEXT NOT NULL,
            first_failed TEXT NOT NULL,
            last_failed TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            error TEXT
        );
        CREATE INDEX failures_site ON failures(site);
        """,
    )


def _m004_search(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        ALTER TABLE articles ADD COLUMN search_key INTEGER;  -- the search indexes' rowid (time-ordered)
        CREATE UNIQUE INDEX articles_search_key ON articles(search_key);
        CREATE VIRTUAL TABLE search_folded USING fts5(
            title, sapo, body, captions, content='', tokenize='unicode61 remove_diacritics 0');
        CREATE VIRTUAL TABLE search_exact USING fts5(
            title, sapo, body, captions, content='', tokenize='unicode61 remove_diacritics 0');
        """,
    )
    _reindex(conn)


def _reindex(conn: sqlite3.Connection) -> None:
    """Put every article in the (empty) search index, under its search key (given one if it
    has none yet; a key it has is kept, since it may have been bumped past a collision)."""
    from .search import index_folded, search_key

    rows = conn.execute(
        "SELECT a.id, a.search_key, a.published_at, a.first_seen, a.title, a.sapo, a.body_text,"
        " (SELECT group_concat(caption, ' ') FROM images i WHERE i.article = a.id) FROM articles a"
    )
    for article, key, published, first_seen, title, sapo, body, captions in rows.fetchall():
        if key is None:
            key = search_key(article, published, first_seen)
            conn.execute("UPDATE articles SET search_key = ? WHERE id = ?", (key, article))
        index_folded(conn, key, {"title": title, "sapo": sapo, "body_text": body, "images": [{"caption": captions}]})


def _m005_search_cheaper_writes(conn: sqlite3.Connection) -> None:
    """The folded index folds in its tokenizer (level 2, ``đ`` replaced before) and the exact index
    is gone (exact matches are checked on the candidates' text): ingest was bound by folding bodies
    in Python and tokenizing every article twice."""
    _script(
        conn,
        """
        DROP TABLE search_folded;
        DROP TABLE search_exact;
        CREATE VIRTUAL TABLE search_folded USING fts5(
            title, sapo, body, captions, content='', tokenize='unicode61 remove_diacritics 2');
        """,
    )
    _reindex(conn)


def _m006_ingested_batches(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE ingested_batches (
            id TEXT PRIMARY KEY,                 -- a cluster writer's batch, stored in the same transaction
            items INTEGER NOT NULL,
            ingested_at TEXT NOT NULL            -- UTC
        );
        """,
    )


def _m007_cluster_runs(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        ALTER TABLE runs ADD COLUMN cluster_run TEXT;  -- a cluster run's id (its workers' items carry it)
        CREATE UNIQUE INDEX runs_cluster_run ON runs(cluster_run) WHERE cluster_run IS NOT NULL;
        """,
    )


# The registry keys runs and failures were recorded under before 008, and each one's site identity
# (frozen here: a migration never reads code that may change later).
_KEYS_008 = {
    "baonghean": "baonghean.vn", "baohaiphong": "baohaiphong.vn", "baodanang": "baodanang.vn",
    "congly": "congly.vn", "diendandoanhnghiep": "diendandoanhnghiep.vn", "hanoimoi": "hanoimoi.vn",
    "nguoiquansat": "nguoiquansat.vn", "daibieunhandan": "daibieunhandan.vn", "markettimes": "markettimes.vn",
    "ictvietnam": "ictvietnam.vn", "thitruongtaichinhtiente": "thitruongtaichinhtiente.vn",
    "baotainguyenmoitruong": "baotainguyenmoitruong.vn",
}


def _m008_one_site_identity(conn: sqlite3.Connection) -> None:
    """One site, one name: runs and failures were keyed by the spelling a crawl was given (a registry
    key, or host:port with a default port written out); now by the site's identity, so a run of
    ``baonghean`` resumes and retries what a run of ``https://baonghean.vn/`` left."""
    for table in ("runs", "failures"):
        conn.executemany(f"UPDATE {table} SET site = ? WHERE site = ?", [(v, k) for k, v in _KEYS_008.items()])
        conn.execute(f"UPDATE {table} SET site = substr(site, 1, length(site) - 3) WHERE site LIKE '%:80'")
        conn.execute(f"UPDATE {table} SET site = substr(site, 1, length(site) - 4) WHERE site LIKE '%:443'")
        conn.execute(f"UPDATE {table} SET site = substr(site, 5) WHERE site LIKE 'www.%'")


def _m009_folded_names(conn: sqlite3.Connection) -> None:
    """Authors and sections are filtered and grouped the way search folds text: ``authors.key`` and
    ``sections.key`` are the folded names ("mai que"), ``authors.display`` the normal form shown and
    grouped on ("Mai Quế"; ``name`` stays the byline as printed). The sections table also names
    every breadcrumb level, so that a parent section finds its children. ``articles_fts`` is a
    second full-text index, keyed by article id, for the tools that look for ``<table>_fts``
    (sqlite-utils search, Datasette's table search)."""
    from .search import ECOSYSTEM_FTS_SQL, author_display, ecosystem_reindex, name_key, preferred_display

    _script(
        conn,
        """
        ALTER TABLE authors ADD COLUMN display TEXT;   -- the normal form (display case), one per key
        ALTER TABLE authors ADD COLUMN key TEXT;       -- folded: lower case, no diacritics
        CREATE INDEX authors_key ON authors(key);
        ALTER TABLE sections ADD COLUMN key TEXT;
        CREATE INDEX sections_key ON sections(key);
        DROP VIEW author_articles;
        CREATE VIEW author_articles AS
        SELECT au.display AS author, au.name AS byline, au.key AS author_key, aa.position, a.id, a.title, a.url,
               a.site, a.published_at
        FROM article_authors aa JOIN authors au ON au.id = aa.author JOIN articles a ON a.id = aa.article;
        """,
    )
    conn.execute(ECOSYSTEM_FTS_SQL)
    displays: dict[str, str] = {}
    authors = conn.execute("SELECT id, name FROM authors ORDER BY id").fetchall()
    for _, name in authors:
        key = name_key(name)
        displays[key] = preferred_display(displays.get(key, author_display(name)), author_display(name))
    for author_id, name in authors:
        key = name_key(name)
        conn.execute("UPDATE authors SET display = ?, key = ? WHERE id = ?", (displays[key], key, author_id))
    names = {r[0] for r in conn.execute("SELECT name FROM sections")}
    crumbs = {r[0] for r in conn.execute(
        "SELECT DISTINCT j.value FROM articles a, json_each(a.breadcrumb) j WHERE j.type = 'text'")}
    conn.executemany("INSERT INTO sections(name) VALUES (?)", [(n,) for n in sorted(crumbs - names) if n])
    for section_id, name in conn.execute("SELECT id, name FROM sections").fetchall():
        conn.execute("UPDATE sections SET key = ? WHERE id = ?", (name_key(name), section_id))
    ecosystem_reindex(conn)


def _m010_drift_and_kept_pages(conn: sqlite3.Connection) -> None:
    """A page the extractor failed on (a parser bug) is kept with its failure, for ``reparse``;
    a run records the field coverage of what it archived and, against the site's baseline, the
    fields that dropped (the drift alarm)."""
    _script(
        conn,
        """
        ALTER TABLE failures ADD COLUMN page BLOB;             -- zlib, only for extractor errors
        ALTER TABLE failures ADD COLUMN page_headers TEXT;     -- JSON
        ALTER TABLE failures ADD COLUMN page_fetched_at TEXT;  -- UTC
        ALTER TABLE runs ADD COLUMN coverage TEXT;             -- JSON: articles, share per field, body length
        ALTER TABLE runs ADD COLUMN drift TEXT;                -- JSON: fields that dropped, with example URLs
        """,
    )


def _m011_operations(conn: sqlite3.Connection) -> None:
    """The scheduler's own records (newsarchive/schedule.py, docs/operations.md): each crawl it
    started (a timeout is a failure the run record alone cannot tell from a stop), the alarms it
    opened and closed, and what saved searches have notified (at most once per article)."""
    _script(
        conn,
        """
        CREATE TABLE schedule_log (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,                  -- the site's one identity (sites.SiteRef.key)
            started_at TEXT NOT NULL,            -- UTC
            finished_at TEXT,                    -- NULL while running (or when the scheduler was killed)
            exit_code INTEGER,                   -- the crawl's exit code (the last of its categories)
            run INTEGER,                         -- runs.id of the crawl, when it recorded one
            note TEXT                            -- 'timeout', 'stopped', 'lock_held', 'error: ...'
        );
        CREATE INDEX schedule_log_site ON schedule_log(site, id);
        CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,                  -- degraded, failing, quiet, disk
            site TEXT NOT NULL,                  -- the site's one identity; '' for the archive (disk)
            opened_at TEXT NOT NULL,             -- UTC
            last_sent TEXT,                      -- UTC: the last notice (open or repeat)
            notices INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT,                      -- UTC: resolved
            message TEXT NOT NULL,               -- one line
            detail TEXT NOT NULL DEFAULT '{}'    -- JSON
        );
        CREATE UNIQUE INDEX alarms_open ON alarms(kind, site) WHERE closed_at IS NULL;
        CREATE TABLE saved_searches (
            name TEXT PRIMARY KEY,               -- [[searches]] name
            last_article INTEGER NOT NULL,       -- articles.id up to which new matches were looked for
            created_at TEXT NOT NULL
        );
        CREATE TABLE notified_articles (
            search TEXT NOT NULL,
            article INTEGER NOT NULL,
            notified_at TEXT NOT NULL,
            PRIMARY KEY (search, article)
        );
        """,
    )


def _m012_media_refs(conn: sqlite3.Connection) -> None:
    """The media each article references (newsarchive/media.py): written in the article's own
    transaction; the files themselves are in the media file beside the archive."""
    _script(
        conn,
        """
        CREATE TABLE media_refs (
            article INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,           -- page order
            role TEXT NOT NULL,                  -- image, thumbnail (og:image), poster, audio, video
            url TEXT NOT NULL,
            PRIMARY KEY (article, position)
        );
        CREATE INDEX media_refs_url ON media_refs(url);
        """,
    )


def _m013_search_filters_index(conn: sqlite3.Connection) -> None:
    """The reading room's filtered search walks the search index newest first and checks each
    match's site, kind and section: this index, in search-key order, answers that without reading
    the article's row (a common word with a site filter: 67 ms → 16 ms at 1M articles)."""
    conn.execute("CREATE INDEX IF NOT EXISTS articles_search_filters ON articles(search_key, site, kind, section_id)")


def _m014_search_filter_columns(conn: sqlite3.Connection) -> None:
    """The folded index gained a ``filters`` column (each author's and tag's folded name between
    marker words, ``search.filter_text``), so that an author or tag filter is intersected with the
    query by FTS5 itself (a common word with one of 500 authors at 1M articles: the whole index was
    walked). Migration 015 rebuilds the same index with the site, section and kind words too and
    always runs right after this one, so the rebuild is left to it: an archive from before 014 is
    rebuilt once, not twice (205 s + 245 s at 1M articles)."""


def _rebuild_folded(conn: sqlite3.Connection) -> None:
    """The folded index made again from the articles, a batch of ids at a time (a contentless index
    cannot gain a column): memory stays bounded; the whole rebuild is its migration's one
    transaction, as every migration's."""
    import json

    from .search import _columns, _pre_fold, filter_text

    _script(conn, """
        DROP TABLE search_folded;
        CREATE VIRTUAL TABLE search_folded USING fts5(
            title, sapo, body, captions, filters, content='', tokenize='unicode61 remove_diacritics 2');
        """)
    last = 0
    while True:
        rows = conn.execute(
            "SELECT a.id, a.search_key, a.title, a.sapo, a.body_text,"
            " (SELECT group_concat(caption, ' ') FROM images i WHERE i.article = a.id),"
            " (SELECT json_group_array(au.name) FROM article_authors x JOIN authors au ON au.id = x.author"
            "  WHERE x.article = a.id),"
            " (SELECT json_group_array(t.name) FROM article_tags y JOIN tags t ON t.id = y.tag WHERE y.article = a.id),"
            " a.site, (SELECT name FROM sections s WHERE s.id = a.section_id), a.breadcrumb, a.kind"
            " FROM articles a WHERE a.id > ? AND a.search_key IS NOT NULL ORDER BY a.id LIMIT 2000", (last,)).fetchall()
        if not rows:
            break
        for _, key, title, sapo, body, captions, authors, tags, site, section, crumbs, kind in rows:
            record = {"title": title, "sapo": sapo, "body_text": body, "images": [{"caption": captions}]}
            try:
                crumbs = json.loads(crumbs or "[]")
            except ValueError:
                crumbs = []
            filters = filter_text(json.loads(authors or "[]"), json.loads(tags or "[]"), site=site,
                                  sections=[section, *(crumbs if isinstance(crumbs, list) else [])], kind=kind)
            conn.execute("INSERT INTO search_folded(rowid, title, sapo, body, captions, filters)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (key, *[_pre_fold(c) for c in _columns(record)], filters))
        last = rows[-1][0]


def _m015_search_filter_sites(conn: sqlite3.Connection) -> None:
    """The folded index's filters column gains each article's site, section (its own and every
    breadcrumb level) and kind as words (``search.filter_text``), so that a common word with a site
    and a section is an intersection of the three lists FTS5 reads together, within the date
    range's keys, instead of a walk of the word's matches checked row by row (0.4 s at 1M
    articles). Rebuilt a batch of ids at a time (``_rebuild_folded``). ``site_articles`` holds each
    site's article count for the sites page (a count walked 1M index entries): the store adds each
    new article (``Archive._insert_article``; an INSERT trigger would make every insert of an
    article keep a statement journal of the pages it touches, ~40% of the ingest's time), triggers
    take deletions and changes of site into account (an INSERT trigger that an early version of
    this migration made is dropped: with the store's count it counted every new article twice)."""
    _rebuild_folded(conn)
    _script(conn, """
        DROP TRIGGER IF EXISTS site_articles_insert;
        DROP TABLE IF EXISTS site_articles;
        CREATE TABLE site_articles (
            site TEXT PRIMARY KEY,
            articles INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO site_articles SELECT site, count(*) FROM articles GROUP BY site;
        CREATE TRIGGER IF NOT EXISTS site_articles_delete AFTER DELETE ON articles BEGIN
            UPDATE site_articles SET articles = articles - 1 WHERE site = OLD.site;
        END;
        CREATE TRIGGER IF NOT EXISTS site_articles_update AFTER UPDATE OF site ON articles
        WHEN OLD.site IS NOT NEW.site BEGIN
            UPDATE site_articles SET articles = articles - 1 WHERE site = OLD.site;
            INSERT INTO site_articles(site, articles) VALUES (NEW.site, 1)
                ON CONFLICT(site) DO UPDATE SET articles = articles + 1;
        END;
        """)


MIGRATIONS: list[Migration] = [
    ("001_initial", _m001_initial),
    ("002_views", _m002_views),
    ("003_crawls", _m003_crawls),
    ("004_search", _m004_search),
    ("005_search_cheaper_writes", _m005_search_cheaper_writes),
    ("006_ingested_batches", _m006_ingested_batches),
    ("007_cluster_runs", _m007_cluster_runs),
    ("008_one_site_identity", _m008_one_site_identity),
    ("009_folded_names", _m009_folded_names),
    ("010_drift_and_kept_pages", _m010_drift_and_kept_pages),
    ("011_operations", _m011_operations),
    ("012_media_refs", _m012_media_refs),
    ("013_search_filters_index", _m013_search_filters_index),
    ("014_search_filter_columns", _m014_search_filter_columns),
    ("015_search_filter_sites", _m015_search_filter_sites),
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the names applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-check inside the write lock: another process may have just applied it
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                conn.execute("COMMIT")
                continue
            fn(conn)
            conn.execute(
                "INSERT INTO _migrations VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", (name,)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
