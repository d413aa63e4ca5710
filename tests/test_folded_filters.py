"""Filters that fit the language (--author, --section folded; a parent section includes its children;
one normal form per author) and the full-text index that other tools find (sqlite-utils, Datasette,
`newsarchive sql`)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.store import Archive
from newsarchive.store import search as fts
from newsarchive.store.migrations import MIGRATIONS, migrate
from newsarchive.store.queries import read_only_query, stats

ROWS = [
    # n, title, body, section, breadcrumb, authors
    (1, "Điện Biên đón khách", "Tỉnh Điện Biên đón nhiều khách.", "Y tế", ["Xã hội", "Y tế"], ["MAI QUẾ"]),
    (2, "Đà Nẵng mở tuyến xe buýt", "Xe buýt điện ở Đà Nẵng.", "Xã hội", ["Xã hội"], ["Mai Quế", "TTXVN"]),
    (3, "Giá vàng hôm nay", "Giá vàng tăng.", "Kinh tế", ["Kinh tế"], ["mai  quế"]),
    (4, "Dien bien gia vang", "Dien bien, khong dau.", "Giáo dục", [], ["Hải Yến"]),
]


def fill(a: Archive) -> None:
    for n, title, body, section, crumbs, authors in ROWS:
        a.save(rec(url=f"https://a.vn/bai-{n}.html", site="a.vn", article_id=str(n), title=title, body_text=body,
                   sapo=None, section=section, breadcrumb=crumbs, authors=authors, tags=[], images=[],
                   published_at=f"2026-0{n}-01T08:00:00+07:00"))


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    a = Archive(tmp_path / "f.db")
    fill(a)
    return a


def titles(a: Archive, **filters: str) -> set[str]:
    return {a.record(i)["title"] for i in a.article_ids(**filters)}


@pytest.mark.parametrize(("name", "display"), [
    ("MAI QUẾ", "Mai Quế"), ("mai quế", "Mai Quế"), ("Mai  Quế", "Mai Quế"), ("ĐỖ HÙNG", "Đỗ Hùng"),
    ("TTXVN", "TTXVN"), ("PGS.TS NGUYỄN VĂN A", "PGS.TS Nguyễn Văn A"), ("McNeil", "McNeil"),
    ("LÊ THỊ-HOA", "Lê Thị-Hoa"), ("Mai Que\u0302\u0301", "Mai Quế"),
])
def test_author_normal_form(name: str, display: str) -> None:
    assert fts.author_display(name) == display
    assert fts.name_key(name) == fts.fold(display)


def test_author_filter_folds_and_keeps_the_byline(archive: Archive) -> None:
    mai = {"Điện Biên đón khách", "Đà Nẵng mở tuyến xe buýt", "Giá vàng hôm nay"}
    assert titles(archive, author="mai que") == mai
    assert titles(archive, author="MAI QUẾ") == mai
    assert titles(archive, author="Hai Yen") == {"Dien bien gia vang"}
    assert titles(archive, author="mai") == set()  # a whole name, not a part of one
    # the record gives the byline back as the page printed it
    assert [archive.record(i)["authors"] for i in archive.article_ids(author="mai que")] == [
        ["MAI QUẾ"], ["Mai Quế", "TTXVN"], ["mai  quế"]]
    # one normal form, grouped on
    rows = archive.conn.execute("SELECT DISTINCT author FROM author_articles ORDER BY author").fetchall()
    assert [r[0] for r in rows] == ["Hải Yến", "Mai Quế", "TTXVN"]
    assert stats(archive.conn)["authors"][0] == {"author": "Mai Quế", "articles": 3}


def test_the_display_form_keeps_the_diacritics_of_any_spelling(tmp_path: Path) -> None:
    a = Archive(tmp_path / "d.db")
    a.save(rec(url="https://a.vn/1.html", article_id="1", authors=["MAI QUE"]))
    a.save(rec(url="https://a.vn/2.html", article_id="2", authors=["Mai Quế"]))
    assert {r[0] for r in a.conn.execute("SELECT display FROM authors WHERE key = 'mai que'")} == {"Mai Quế"}


def test_section_filter_folds_and_includes_children(archive: Archive) -> None:
    assert titles(archive, section="Xã hội") == {"Điện Biên đón khách", "Đà Nẵng mở tuyến xe buýt"}
    assert titles(archive, section="xa hoi") == {"Điện Biên đón khách", "Đà Nẵng mở tuyến xe buýt"}
    assert titles(archive, section="y te") == {"Điện Biên đón khách"}
    assert titles(archive, section="GIÁO DỤC") == {"Dien bien gia vang"}  # no breadcrumb: its section
    assert titles(archive, section="Thể thao") == set()
    # the search filters are the same
    hits = fts.search(archive.conn, "xe buyt OR dien bien", filters=fts.Filters(section="xa hoi", author="mai que"))
    assert {archive.record(i)["title"] for i in hits} == {"Điện Biên đón khách", "Đà Nẵng mở tuyến xe buýt"}


def test_search_and_export_commands_fold_filters(archive: Archive) -> None:
    db = str(archive.path)
    archive.close()
    out = run_cli("search", "dien bien", "--json", "--db", db, "--author", "mai que", "--section", "xa hoi")
    assert out.returncode == 0, out.stderr
    assert [h["title"] for h in json.loads(out.stdout)] == ["Điện Biên đón khách"]
    out = run_cli("export", "--db", db, "--author", "MAI QUE", "--section", "Xã hội")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["title"] for r in lines} == {"Điện Biên đón khách", "Đà Nẵng mở tuyến xe buýt"}


def test_an_older_archive_gets_keys_sections_and_the_tools_index(tmp_path: Path) -> None:
    """Migration 009 on an archive written before it: authors keyed, breadcrumb levels named as
    sections, articles_fts filled."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    old = [m for m in MIGRATIONS if m[0] < "009"]
    import newsarchive.store.migrations as mig

    saved = mig.MIGRATIONS
    mig.MIGRATIONS = old
    try:
        migrate(conn)
    finally:
        mig.MIGRATIONS = saved
    conn.execute("INSERT INTO sections(name) VALUES ('Y tế')")
    conn.execute("INSERT INTO authors(name) VALUES ('MAI QUẾ')")
    conn.execute(
        "INSERT INTO articles(id, url, site, kind, title, body_text, extractor, extractor_version, fetched_at,"
        " first_seen, last_checked, content_hash, section_id, breadcrumb, search_key, published_at)"
        " VALUES (1, 'https://a.vn/1.html', 'a.vn', 'article', 'Điện Biên', 'Thân bài', 'onecms', '1', 'x', 'x', 'x',"
        " 'h', 1, '[\"Xã hội\", \"Y tế\"]', 5, '2026-01-01T00:00:00+07:00')")
    conn.execute("INSERT INTO article_authors VALUES (1, 1, 0)")
    conn.close()
    a = Archive(path)
    assert titles(a, author="mai que") == {"Điện Biên"} == titles(a, section="xa hoi")
    assert a.conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'dien bien'").fetchall() == [(1,)]


# -- the index other tools find ----------------------------------------------------------------

def test_sqlite_utils_search(archive: Archive) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(archive.path)
    assert db["articles"].detect_fts() == "articles_fts"
    found = {r["title"] for r in db["articles"].search("dien bien")}
    assert found == {"Điện Biên đón khách", "Dien bien gia vang"}
    assert [r["id"] for r in db["articles"].search("xe buyt")] == [2]
    # the command line, as a sqlite-utils user types it
    from click.testing import CliRunner
    from sqlite_utils.cli import cli

    out = CliRunner().invoke(cli, ["search", str(archive.path), "articles", "dien bien", "-c", "title"])
    assert out.exit_code == 0, out.output
    assert {r["title"] for r in json.loads(out.output)} == {"Điện Biên đón khách", "Dien bien gia vang"}


def test_the_tools_index_follows_revisions(archive: Archive) -> None:
    archive.save(rec(url="https://a.vn/bai-2.html", site="a.vn", article_id="2", title="Huế mưa to",
                     body_text="Mưa.", sapo=None, section="Xã hội", breadcrumb=["Xã hội"], authors=[], tags=[],
                     images=[{"src": "https://a.vn/x.jpg", "caption": "Cầu Trường Tiền"}],
                     published_at="2026-02-01T08:00:00+07:00", fetched_at="2026-11-27T00:00:00Z"))
    match = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
    assert archive.conn.execute(match, ("xe buyt",)).fetchall() == []
    assert archive.conn.execute(match, ("hue",)).fetchall() == [(2,)]
    assert archive.conn.execute(match, ("truong tien",)).fetchall() == [(2,)]  # captions too
    assert archive.conn.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 0)"
                                " RETURNING 1").fetchall() is not None


def test_sql_command_matches_with_fold(archive: Archive) -> None:
    db = archive.path
    archive.close()
    columns, rows = read_only_query(
        db, "SELECT a.title FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
            " WHERE articles_fts MATCH fold(:q) ORDER BY a.id", {"q": "Điện Biên"})
    assert rows == [("Điện Biên đón khách",), ("Dien bien gia vang",)]
    out = run_cli("sql", "SELECT count(*) AS n FROM search_folded WHERE search_folded MATCH fold('Đà Nẵng')",
                  "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"n": 1}]


def test_datasette_table_search_folds(archive: Archive) -> None:
    pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")
    from newsarchive.ui import make_datasette

    archive.close()
    ds = make_datasette(archive.path)

    def titles_of(path: str) -> set[str]:
        response = asyncio.run(ds.client.get(path))
        assert response.status_code == 200, response.text
        return {r["title"] for r in response.json()}

    both = {"Điện Biên đón khách", "Dien bien gia vang"}
    assert titles_of("/f/articles.json?_search=%C4%90i%E1%BB%87n+Bi%C3%AAn&_shape=array") == both  # Điện Biên
    assert titles_of("/f/articles.json?_search=dien+bien&_shape=array") == both
    assert titles_of("/f/article_view.json?_search=da+nang&_shape=array") == {"Đà Nẵng mở tuyến xe buýt"}
    assert len(titles_of("/f/author.json?author=mai+que&_shape=array")) == 3


def test_datasette_leaves_other_databases_search_alone(tmp_path: Path) -> None:
    pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")
    from datasette.app import Datasette

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.executescript("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
                       "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content=\"notes\", content_rowid='id');"
                       "INSERT INTO notes VALUES (1, 'Đà Nẵng');"
                       "INSERT INTO notes_fts(rowid, body) VALUES (1, 'Đà Nẵng');")
    conn.commit()
    conn.close()
    ds = Datasette([str(other)])
    response = asyncio.run(ds.client.get("/other/notes.json?_search=%C4%90%C3%A0&_shape=array"))  # Đà
    assert response.status_code == 200 and [r["id"] for r in response.json()] == [1]
