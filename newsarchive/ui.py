"""The browsable UI: the archive in Datasette (the optional ``ui`` extra): the reading room
(``newsarchive.reading``, at ``/``) and Datasette's own pages under ``/<archive name>``, searching the
way ``newsarchive search`` does (diacritics folded), with facets and canned queries. Read-only: the
archive is opened ``mode=ro`` (immutable when no one can be writing it, see :func:`_unwritable`).

The canned **search** query goes through the command line's query parser, folded index and
ranking. Datasette's own table search (``?_search=`` on ``articles`` and ``article_view``) uses
``articles_fts``, with the query folded by the plugin's ``escape_fts``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SEARCH_SQL = """
SELECT a.id, a.published_at, a.site, a.title,
       newsarchive_snippet(coalesce(a.body_text, '') || ' ' || coalesce(a.sapo, ''), :q) AS snippet,
       a.url
FROM search_folded f JOIN articles a ON a.search_key = f.rowid
WHERE search_folded MATCH newsarchive_query(:q)
ORDER BY bm25(search_folded, 10.0, 4.0, 1.0, 2.0)
LIMIT 100
"""


def metadata(db_name: str) -> dict[str, Any]:
    return {
        "title": "newsarchive",
        "description": "Archived news articles. Search works with or without Vietnamese diacritics.",
        "databases": {
            db_name: {
                "tables": {
                    "article_view": {
                        "facets": ["site", "section", "kind", {"date": "published_at"}],
                        "sort_desc": "published_at",
                        "label_column": "title",
                        "fts_table": "articles_fts",
                        "fts_pk": "id",
                    },
                    # author: the normal form ("Mai Quế" for every spelling of it); byline: as printed
                    "author_articles": {"facets": ["author", "site"], "sort_desc": "published_at"},
                    "tag_articles": {"facets": ["tag", "site"], "sort_desc": "published_at"},
                    # ?_search= goes through articles_fts (keyed by article id), folded by the plugin
                    "articles": {"sort_desc": "published_at", "label_column": "title", "fts_table": "articles_fts"},
                },
                "queries": {
                    "search": {
                        "title": "Search articles (with or without diacritics)",
                        "description": 'e.g. "dien bien" finds "Điện Biên"; phrases in quotes, AND / OR / NOT, prefix*',
                        "sql": SEARCH_SQL,
                    },
                    "latest": {
                        "title": "Latest articles",
                        "sql": "SELECT id, published_at, site, section, authors, title, url FROM article_view"
                               " ORDER BY published_at DESC LIMIT 200",
                    },
                    "author": {
                        "title": "Articles of an author",
                        "sql": "SELECT id, published_at, site, author, byline, title, url FROM author_articles"
                               " WHERE author_key = fold(:author) ORDER BY published_at DESC",
                    },
                    "revised": {
                        "title": "Revised articles",
                        "sql": "SELECT a.id, a.site, a.title, a.revision_count, max(r.fetched_at) AS last_revision"
                               " FROM articles a JOIN revisions r ON r.article = a.id WHERE a.revision_count > 1"
                               " GROUP BY a.id ORDER BY last_revision DESC",
                    },
                    "coverage": {
                        "title": "Field coverage per site",
                        "sql": """SELECT site, count(*) AS articles,
  round(avg(EXISTS (SELECT 1 FROM article_authors x WHERE x.article = a.id)), 3) AS authors,
  round(avg(published_at IS NOT NULL), 3) AS published_at,
  round(avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id)), 3) AS images,
  round(avg(EXISTS (SELECT 1 FROM images i WHERE i.article = a.id AND i.caption IS NOT NULL)), 3) AS captions,
  round(avg(EXISTS (SELECT 1 FROM article_tags t WHERE t.article = a.id)), 3) AS tags
FROM articles a GROUP BY site ORDER BY articles DESC""",
                    },
                },
            }
        },
    }


def make_datasette(db: Path) -> Any:
    """A Datasette instance over the archive, read-only, with newsarchive's search and facets."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import datasette_plugin

    if pm.get_plugin("newsarchive") is None:  # installed, the entry point has registered it already
        pm.register(datasette_plugin, name="newsarchive")
    # the plugin's prepare_connection bounds every value a query makes (queries.VALUE_LIMIT); with
    # the time limit and Datasette's row limit, no query can build a response of gigabytes
    # allow_download off: the whole archive file (gigabytes) is not one click away on a served page
    settings = {"truncate_cells_html": 0, "default_page_size": 50, "sql_time_limit_ms": 3000,
                "max_returned_rows": 1000, "allow_download": False}
    if _unwritable(db):
        return Datasette(immutables=[str(db)], metadata=metadata(db.stem), settings=settings)
    return Datasette([str(db)], metadata=metadata(db.stem), settings=settings)


def is_local(host: str) -> bool:
    """Whether a listening address serves this machine only (a loopback address or localhost)."""
    import ipaddress

    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unwritable(db: Path) -> bool:
    """A WAL archive that this process cannot write, and that no one is writing now (no -wal):
    read as immutable. Datasette's usual read-only mode goes through the WAL index, which fails
    in a read-only directory and leaves -wal and -shm files beside a read-only file."""
    if db.with_name(db.name + "-wal").exists():
        return False
    try:
        os.close(os.open(db, os.O_RDWR))
    except OSError:
        return True
    return not os.access(db.parent, os.W_OK)


def serve(db: Path, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(make_datasette(db).app(), host=host, port=port, log_level="warning")
