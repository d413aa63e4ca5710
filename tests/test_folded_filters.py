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


# -- site, section and kind in the index (migration 015) ---------------------------------------------

SECTIONS = [("Giáo dục", ["Xã hội", "Giáo dục"]), ("Xã hội", ["Xã hội"]), ("Kinh tế", ["Kinh tế"]), ("Y tế", []),
            (None, []), ("Bóng đá", ["Thể thao", "Bóng đá"]), ("Thể thao & Văn hóa", ["Thể thao & Văn hóa"])]
SITES = [("a.vn", "https://a.vn"), ("b.vn", "https://b.vn"), ("127.0.0.1", "http://127.0.0.1:8001"),
         ("127.0.0.1", "http://127.0.0.1:8002")]
WORDS = ["tin", "vàng", "Điện Biên", "dien bien", "mưa"]


def _mixed(n: int) -> dict:
    site, base = SITES[n % len(SITES)]
    section, crumbs = SECTIONS[n % len(SECTIONS)]
    words = " ".join(WORDS[(n * k) % len(WORDS)] for k in (1, 2, 3))
    return rec(url=f"{base}/bai-{n}.html", site=site, article_id=str(n), kind=("article", "video", "podcast")[n % 3],
               title=f"Bài {n} {WORDS[n % len(WORDS)]}", sapo=f"Sapo {words}" if n % 4 else None,
               body_text=f"Nội dung {words} số {n}.", section=section, breadcrumb=crumbs,
               authors=[("Mai Quế", "MAI QUẾ", "Hải Yến", "Lan Anh")[n % 4]] if n % 5 else [],
               tags=[("Giá vàng", "Thời tiết")[n % 2]] if n % 3 else [], images=[],
               published_at=f"2026-0{1 + n % 6}-{1 + n % 28:02d}T{n % 24:02d}:00:00+07:00")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mixed") / "m.db"
    with Archive(path) as a:
        for n in range(140):
            a.save(_mixed(n))
    return path


FILTERS = [
    fts.Filters(site="a.vn"), fts.Filters(site="127.0.0.1"), fts.Filters(site="127.0.0.1:8001"),
    fts.Filters(site="nowhere.vn"), fts.Filters(section="xa hoi"), fts.Filters(section="Thể thao"),
    fts.Filters(section="BÓNG ĐÁ"), fts.Filters(section="the thao & van hoa"), fts.Filters(section="y te"),
    fts.Filters(kind="video"), fts.Filters(kind="nothing"),
    fts.Filters(site="b.vn", section="Kinh tế", since="2026-02-01T00:00:00+07:00", until="2026-05-01T00:00:00+07:00"),
    fts.Filters(site="127.0.0.1:8002", section="xa hoi", kind="podcast"),
    fts.Filters(site="a.vn", author="mai que", tag="Giá vàng", kind="article"),
    fts.Filters(section="xa hoi", tag="Thời tiết"), fts.Filters(since="2026-03-01T00:00:00+07:00"),
]


@pytest.mark.parametrize("window", [fts.RELEVANCE_WINDOW, 6])
@pytest.mark.parametrize("text", ["tin", "Điện Biên", "vang OR mua", "tin NOT vang"])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in vars(f).items() if v))
def test_site_section_and_kind_in_the_index_give_what_the_rows_give(mixed: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    filters: fts.Filters, text: str, window: int) -> None:
    """Every filter as words of the index's filters column (migration 015) gives the results, the
    order, the count, the pages and the facets that the unindexed plan (each match checked on its
    row) gives; ``window``: a relevance window the results fill (the ranking by column tiers)."""
    monkeypatch.setattr(fts, "RELEVANCE_WINDOW", window)
    conn = sqlite3.connect(f"file:{mixed}?mode=ro", uri=True)

    def everything() -> tuple:
        out = []
        for sort in ("relevance", "newest"):
            r = fts.results(conn, text, filters=filters, sort=sort, limit=200)
            page = fts.results(conn, text, filters=filters, sort=sort, offset=4, limit=5)
            out += [r.ids, r.total, page.ids, page.next_before]
        return (*out, fts.facets(conn, text, filters).counts)

    try:
        assert fts.indexed_filters(conn) == {"author", "tag", "site", "section", "kind"}
        by_index = everything()
        monkeypatch.setattr(fts, "indexed_filters", lambda _c: frozenset())
        assert "filters :" not in fts._plan(conn, fts.parse_query(text), filters).params[0]
        by_rows = everything()
    finally:
        conn.close()
    assert by_index == by_rows


def test_the_index_plan_finds_what_the_filters_ask(mixed: Path) -> None:
    """Not two empty lists: the filters above find articles, and only the ones they name."""
    with Archive(mixed, readonly=True) as a:
        def found(**kw: str) -> list[dict]:
            return [a.record(i) for i in fts.results(a.conn, "tin OR vang OR mua OR dien", filters=fts.Filters(**kw),
                                                     sort="newest", limit=500).ids]
        port = found(site="127.0.0.1:8001")
        assert port and all(r["url"].startswith("http://127.0.0.1:8001/") for r in port)
        assert len(found(site="127.0.0.1")) > len(port)
        parent = found(section="the thao")
        assert {r["section"] for r in parent} == {"Bóng đá"}  # a child; "Thể thao & Văn hóa" is another section
        assert {r["section"] for r in found(section="the thao & van hoa")} == {"Thể thao & Văn hóa"}
        assert {r["section"] for r in found(section="xa hoi")} == {"Xã hội", "Giáo dục"}
        assert {r["kind"] for r in found(kind="video")} == {"video"}
        assert found(site="nowhere.vn") == [] and found(kind="nothing") == []
        mixed_hits = found(site="b.vn", section="kinh te", since="2026-02-01T00:00:00+07:00")
        assert mixed_hits and all(r["site"] == "b.vn" and r["section"] == "Kinh tế"
                                  and r["published_at"] >= "2026-02" for r in mixed_hits)


def test_site_section_and_kind_words_follow_revisions(tmp_path: Path) -> None:
    """A new version in another section (or of another kind) is indexed under it, the old words
    forgotten (the contentless index told exactly what it held: its integrity check passes); the
    indexed text of a record differs when only its section does (a re-extraction indexes it again)."""
    with Archive(tmp_path / "r.db") as a:
        first = a.save(rec(url="https://a.vn/1.html", site="a.vn", article_id="1", title="Tin một", section="Giáo dục",
                           breadcrumb=["Xã hội", "Giáo dục"], kind="video")).id
        a.save(rec(url="https://a.vn/1.html", site="a.vn", article_id="1", title="Tin một", section="Bóng đá",
                   breadcrumb=["Thể thao", "Bóng đá"], kind="article", fetched_at="2026-11-28T10:00:00Z"))

        def found(**kw: str) -> list[int]:
            return fts.results(a.conn, "tin", filters=fts.Filters(**kw), sort="newest").ids

        assert found(section="xa hoi") == [] and found(section="giao duc") == [] and found(kind="video") == []
        assert found(section="the thao") == [first] == found(kind="article") == found(site="a.vn")
        a.conn.execute("INSERT INTO search_folded(search_folded, rank) VALUES ('integrity-check', 1)")
        words = "SELECT count(*) FROM search_folded WHERE search_folded MATCH ?"
        assert a.conn.execute(words, [fts.filter_phrase(fts.SECTION_MARK, "Xã hội")]).fetchone()[0] == 0
        assert a.conn.execute(words, [fts.filter_phrase(fts.SECTION_MARK, "Thể thao")]).fetchone()[0] == 1
    one = rec()
    assert fts.indexed_text(one) != fts.indexed_text({**one, "section": "Kinh tế", "breadcrumb": ["Kinh tế"]})
    assert fts.indexed_text(one) != fts.indexed_text({**one, "kind": "video"})


def _as_before_015(a: Archive) -> None:
    """Put an archive back as migration 014 left it: the filters column with authors and tags only,
    no site counts."""
    with a.transaction():
        a.conn.execute("DROP TABLE search_folded")
        a.conn.execute("CREATE VIRTUAL TABLE search_folded USING fts5(title, sapo, body, captions, filters,"
                       " content='', tokenize='unicode61 remove_diacritics 2')")
        for key, article in a.conn.execute("SELECT search_key, id FROM articles").fetchall():
            r = a.record(article)
            a.conn.execute("INSERT INTO search_folded(rowid, title, sapo, body, captions, filters) VALUES (?, ?, ?, ?, ?, ?)",
                           (key, *[fts._pre_fold(c) for c in fts._columns(r)], fts.filter_text(r["authors"], r["tags"])))
        for trigger in ("delete", "update"):
            a.conn.execute(f"DROP TRIGGER site_articles_{trigger}")
        a.conn.execute("DROP TABLE site_articles")
        a.conn.execute("DELETE FROM _migrations WHERE name = ?", (fts.SITE_WORDS_MIGRATION,))


def test_migration_015_builds_the_words_and_the_site_counts(tmp_path: Path) -> None:
    """An archive from before 015 is searched by the rows (the index holds no site words), and once
    migrated by the index, with the same results; the sites' counts are the articles'."""
    path = tmp_path / "m.db"
    with Archive(path) as a:
        for n in range(40):
            a.save(_mixed(n))
        _as_before_015(a)
        assert fts.indexed_filters(a.conn) == {"author", "tag"}
        asks = [fts.Filters(site="a.vn", section="xa hoi"), fts.Filters(kind="video"), fts.Filters(section="the thao")]
        def found() -> list[tuple]:
            # (bm25 counts every column's words in an article's length: the relevance order may move a
            # little with the new words, the results not)
            return [(fts.results(a.conn, "tin OR mua", filters=f, sort="newest").ids,
                     set(fts.results(a.conn, "tin OR mua", filters=f).ids)) for f in asks]

        before = found()
        assert all(ids for ids, _ in before)
    with Archive(path) as a:  # opened for writing: migrated
        assert fts.indexed_filters(a.conn) == {"author", "tag", "site", "section", "kind"}
        assert found() == before
        assert "zzst" in fts._plan(a.conn, fts.parse_query("tin"), asks[0]).params[0]
        a.conn.execute("INSERT INTO search_folded(search_folded, rank) VALUES ('integrity-check', 1)")
        assert dict(a.conn.execute("SELECT site, articles FROM site_articles")) == dict(
            a.conn.execute("SELECT site, count(*) FROM articles GROUP BY site"))


def test_migration_015_drops_the_insert_trigger_of_its_first_version(tmp_path: Path) -> None:
    """015 as first written counted new articles by an INSERT trigger; the store now counts them
    itself, so an archive migrated by that version would count each new article twice."""
    path = tmp_path / "t.db"
    with Archive(path) as a:
        for n in range(5):
            a.save(_mixed(n))
        _as_before_015(a)
        a.conn.execute("CREATE TABLE site_articles (site TEXT PRIMARY KEY, articles INTEGER NOT NULL) WITHOUT ROWID")
        a.conn.execute("CREATE TRIGGER site_articles_insert AFTER INSERT ON articles BEGIN"
                       " INSERT INTO site_articles(site, articles) VALUES (NEW.site, 1)"
                       " ON CONFLICT(site) DO UPDATE SET articles = articles + 1; END")
    with Archive(path) as a:  # opened for writing: migrated
        for n in range(5, 12):
            a.save(_mixed(n))
        assert dict(a.conn.execute("SELECT site, articles FROM site_articles")) == dict(
            a.conn.execute("SELECT site, count(*) FROM articles GROUP BY site"))


def test_site_counts_follow_inserts_deletes_and_moves(tmp_path: Path) -> None:
    with Archive(tmp_path / "c.db") as a:
        for n in range(12):
            a.save(_mixed(n))
        a.save({**_mixed(3), "title": "Bài ba, sửa", "fetched_at": "2026-11-28T10:00:00Z"})  # a revision: no new row

        def counts() -> tuple[dict, dict]:
            return (dict(a.conn.execute("SELECT site, articles FROM site_articles WHERE articles > 0")),
                    dict(a.conn.execute("SELECT site, count(*) FROM articles GROUP BY site")))

        assert counts()[0] == counts()[1] == {"a.vn": 3, "b.vn": 3, "127.0.0.1": 6}
        with a.transaction():
            a.conn.execute("DELETE FROM articles WHERE id IN (SELECT id FROM articles WHERE site = 'a.vn' LIMIT 2)")
            a.conn.execute("UPDATE articles SET site = 'c.vn' WHERE id = (SELECT min(id) FROM articles WHERE site = 'b.vn')")
            a.conn.execute("UPDATE articles SET title = 'x' WHERE site = '127.0.0.1'")  # not a move
        assert counts()[0] == counts()[1] == {"a.vn": 1, "b.vn": 2, "c.vn": 1, "127.0.0.1": 6}


@pytest.mark.parametrize(("probed", "dense"), [(fts.PROBED, fts.DENSE), (3, fts.DENSE), (fts.PROBED, 0), (7, 0)])
def test_a_saved_search_finds_new_articles_as_the_search_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               probed: int, dense: int) -> None:
    """A saved search's new matches are the search's own results among the new articles (the same
    filters: a port, a parent section, the folded author), each notified once; in batches of
    ``probed`` new articles, their key range walked (``dense`` > 0: the articles' dates are close)
    or each key looked up (``dense`` 0)."""
    from newsarchive.config import SavedSearch
    from newsarchive.health import search_matches

    monkeypatch.setattr(fts, "PROBED", probed)
    monkeypatch.setattr(fts, "DENSE", dense)
    with Archive(tmp_path / "s.db") as a:
        a.save(_mixed(0))
        saved = [SavedSearch("port", "tin OR mua", site="127.0.0.1:8002", section="xa hoi"),
                 SavedSearch("parent", "Điện Biên OR vang", section="the thao"),
                 SavedSearch("author", "tin OR vang OR mua OR dien", author="mai que")]
        for s in saved:
            assert search_matches(a.conn, s) is None  # first sight: the archive as it is is not news
        for n in range(1, 60):
            a.save(_mixed(n))
        for s in saved:
            f = fts.Filters(site=s.site, section=s.section, author=s.author)
            expected = sorted(i for i in fts.results(a.conn, s.query, filters=f, sort="newest", limit=500).ids
                              if i != 1)
            notice = search_matches(a.conn, s)
            assert expected and notice is not None
            assert sorted(x["id"] for x in notice.articles) == expected[:s.max_listed]
            assert len(notice.articles) + notice.more == len(expected)
            assert search_matches(a.conn, s) is None  # each once


def test_a_blank_filter_name_is_left_to_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name of spaces has no word in the index (nothing to fold): such a filter is checked on the
    rows alone, with what the rows give (a section "  " is a section row, keyed "")."""
    with Archive(tmp_path / "b.db") as a:
        a.save(rec(url="https://a.vn/1.html", site="a.vn", article_id="1", title="Tin một", section="  ", breadcrumb=[]))
        a.save(rec(url="https://a.vn/2.html", site="a.vn", article_id="2", title="Tin hai", section="Y tế"))
        by_index = [fts.results(a.conn, "tin", filters=fts.Filters(section=s)).ids for s in ("  ", " ")]
        monkeypatch.setattr(fts, "indexed_filters", lambda _c: frozenset())
        assert [fts.results(a.conn, "tin", filters=fts.Filters(section=s)).ids for s in ("  ", " ")] == by_index
        assert by_index[0] == [1]
