"""The reading room's search and sites pages (newsarchive.reading), through Datasette's own test
client over an archive built through the library."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_store import rec

from newsarchive.media import MediaStore, Ref, measure_image, media_path, write_refs
from newsarchive.store import Archive
from newsarchive.store import search as fts

pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")

# a 1x1 JPEG (SOI, APP0, SOF0 1x1, EOI): enough for the media store's measurement
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc0000b080001000101011100ffd9")
FILLER = 70  # articles that all match "tin" (paging)


def _articles() -> list[dict[str, Any]]:
    out = [
        rec(url="https://a.vn/dien-bien-1.html", site="a.vn", article_id="1", title="Điện Biên đón khách du lịch",
            sapo="Tỉnh Điện Biên đón nhiều khách trong dịp lễ.", body_text="Du khách tới Điện Biên Phủ.",
            section="Du lịch", breadcrumb=["Du lịch"], authors=["Lan Anh"], tags=["Du lịch"],
            published_at="2026-01-05T23:30:00+07:00", images=[{"src": "https://img.a.vn/1.jpg", "caption": "Đồi A1"}]),
        rec(url="https://a.vn/truong-2.html", site="a.vn", article_id="2", title="Trường học vùng cao khai giảng",
            sapo="Học sinh Điện Biên vào năm học mới.", body_text="Năm học mới ở vùng cao.", section="Giáo dục",
            breadcrumb=["Xã hội", "Giáo dục"], authors=["MAI QUẾ"], tags=["Giáo dục", "Vùng cao"],
            published_at="2026-01-06T00:30:00+07:00", images=[]),
        rec(url="https://b.vn/gia-vang-3.html", site="b.vn", article_id="3", title="Dien bien gia vang hom nay",
            sapo=None, body_text="Dien bien: gia vang (khong dau).", section="Kinh tế", breadcrumb=["Kinh tế"],
            authors=["Hải Yến"], tags=[], kind="video", published_at="2026-03-01T08:00:00+07:00", images=[]),
        rec(url="https://b.vn/cong-thuc-4.html", site="b.vn", article_id="4", title="=HYPERLINK(\"x\") công thức",
            sapo="Một tiêu đề bắt đầu bằng dấu bằng.", body_text="Không có gì.", section="Kinh tế",
            breadcrumb=["Kinh tế"], authors=["Mai Quế"], tags=[], published_at="2026-03-02T08:00:00+07:00",
            images=[]),
    ]
    for n in range(FILLER):
        site = "a.vn" if n % 3 else "b.vn"
        out.append(rec(url=f"https://{site}/tin-{n}.html", site=site, article_id=str(100 + n),
                       title=f"Tin ngắn số {n}" + (" tin tin" if n % 7 == 0 else ""), sapo=f"Bản tin thứ {n}.",
                       body_text="Nội dung bản tin.", section="Thời sự", breadcrumb=["Thời sự"],
                       authors=["Phóng viên"], tags=["Tin ngắn"],
                       published_at=f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+07:00", images=[]))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reading") / "archive.db"
    a = Archive(path)
    for record in _articles():
        a.save(record)
    first = a.conn.execute("SELECT id FROM articles WHERE article_id = '1'").fetchone()[0]
    with a.transaction():  # what the media pipeline writes with the article: its references
        write_refs(a.conn, first, [Ref("https://img.a.vn/1.jpg", "image")])
    # two runs of a.vn: the last one degraded (the drift alarm)
    a.conn.execute("INSERT INTO runs(site, base_url, started_at, finished_at, outcome, pages_fetched, articles_new)"
                   " VALUES ('a.vn', 'https://a.vn/', '2026-01-06T01:00:00Z', '2026-01-06T01:05:00Z', 'success', 40, 30)")
    a.conn.execute("INSERT INTO runs(site, base_url, started_at, finished_at, outcome, pages_fetched, articles_new,"
                   " drift) VALUES ('a.vn', 'https://a.vn/', '2026-01-07T01:00:00Z', '2026-01-07T01:05:00Z', 'degraded',"
                   " 12, 10, ?)", (json.dumps([{"field": "authors", "baseline": 0.98, "now": 0.0,
                                                "examples": ["https://a.vn/x.html"]}]),))
    a.close()
    with MediaStore(media_path(path)) as store:
        store.store("https://img.a.vn/1.jpg", JPEG, measure_image(JPEG))
    return path


@pytest.fixture(scope="module")
def ds(built: Path) -> Any:
    from newsarchive.ui import make_datasette

    return make_datasette(built)


def get(ds: Any, path: str) -> Any:
    return asyncio.run(ds.client.get(path))


def data(ds: Any, query: str) -> dict[str, Any]:
    response = get(ds, "/search.json" + query)
    assert response.status_code == 200, response.text
    return response.json()


def ids(ds: Any, query: str) -> list[int]:
    return [r["id"] for r in data(ds, query)["results"]]


def conn(built: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{built}?mode=ro", uri=True)


def article_id(built: Path, cms_id: str) -> int:
    with conn(built) as c:
        return c.execute("SELECT id FROM articles WHERE article_id = ?", (cms_id,)).fetchone()[0]


# -- search --------------------------------------------------------------------------------------

def test_search_without_diacritics_finds_the_diacritic_title(ds: Any, built: Path) -> None:
    page = get(ds, "/?q=dien+bien")
    assert page.status_code == 200
    first = article_id(built, "1")
    assert f'<a href="/article/{first}">Điện Biên đón khách du lịch</a>' in page.text
    assert "<mark>Điện</mark> <mark>Biên</mark>" in page.text  # the sapo, its words marked
    assert '<html lang="vi">' in page.text
    # and typed with diacritics, the same articles
    assert set(ids(ds, "?q=%C4%91i%E1%BB%87n+bi%C3%AAn")) == set(ids(ds, "?q=dien+bien"))


def test_the_page_and_the_cli_rank_alike(ds: Any, built: Path) -> None:
    with conn(built) as c:
        fts.register_functions(c)
        for q, sort in (("dien bien", "relevance"), ("tin", "relevance"), ("tin", "newest"), ("Điện Biên", "relevance")):
            cli = fts.search(c, q, limit=20, sort=sort)
            assert ids(ds, f"?q={q}&sort={sort}") == cli, (q, sort)


def test_empty_query_lists_the_newest(ds: Any, built: Path) -> None:
    got = data(ds, "")
    with conn(built) as c:
        newest = [r[0] for r in c.execute("SELECT id FROM articles ORDER BY search_key DESC LIMIT 20")]
        total = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert [r["id"] for r in got["results"]] == newest
    assert got["total"] == total and got["total_exact"]
    assert get(ds, "/").status_code == 200


def test_filters(ds: Any, built: Path) -> None:
    assert {r["site"] for r in data(ds, "?q=tin&site=b.vn")["results"]} == {"b.vn"}
    # a parent section takes in its children (Giáo dục is under Xã hội), folded
    assert ids(ds, "?section=xa+hoi") == [article_id(built, "2")]
    # the author folded: MAI QUẾ and Mai Quế are one author, found as "mai que"
    assert set(ids(ds, "?author=mai+que")) == {article_id(built, "2"), article_id(built, "4")}
    assert ids(ds, "?tag=V%C3%B9ng+cao") == [article_id(built, "2")]
    assert ids(ds, "?kind=video") == [article_id(built, "3")]
    # a day is a +07:00 day: 23:30 on the 5th is in it, 00:30 on the 6th is not
    assert ids(ds, "?from=2026-01-05&to=2026-01-05") == [article_id(built, "1")]
    assert ids(ds, "?q=dien+bien&from=2026-01-06&to=2026-01-31") == [article_id(built, "2")]
    assert ids(ds, "?q=dien+bien&site=b.vn&kind=video") == [article_id(built, "3")]


def test_facets_count_the_results(ds: Any, built: Path) -> None:
    page = get(ds, "/?q=tin").text
    with conn(built) as c:
        fts.register_functions(c)
        hits = fts.results(c, "tin", limit=1000).ids
        per_site = dict(c.execute(f"SELECT site, count(*) FROM articles WHERE id IN ({','.join(map(str, hits))})"
                                  " GROUP BY site").fetchall())
    assert sum(per_site.values()) == FILLER
    for site, n in per_site.items():
        assert re.search(rf'<a href="/\?q=tin&amp;site={re.escape(site)}">{re.escape(site)}</a> <span class="count">{n}</span>',
                         page), site
    assert f"{FILLER} kết quả" in page


@pytest.mark.parametrize("sort", ["relevance", "newest"])
def test_paging_reaches_every_result(ds: Any, sort: str) -> None:
    seen: list[int] = []
    for page_no in range(1, 6):
        got = data(ds, f"?q=tin&sort={sort}&page={page_no}")
        assert got["total"] == FILLER
        seen += [r["id"] for r in got["results"]]
    assert len(seen) == FILLER == len(set(seen))
    html = get(ds, f"/?q=tin&sort={sort}&page=3").text
    assert "41–60 trong 70 kết quả · trang 3/4" in html
    assert f'href="/?q=tin{"&amp;sort=newest" if sort == "newest" else ""}&amp;page=4" rel="next"' in html
    if sort == "newest":
        times = [r["published_at"] for p in range(1, 5) for r in data(ds, f"?q=tin&sort=newest&page={p}")["results"]]
        assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("filters", [fts.Filters(), fts.Filters(site="a.vn"), fts.Filters(tag="Tin ngắn"),
                                     fts.Filters(author="phong vien", site="b.vn")])
def test_one_order_over_the_window_and_the_tail(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                filters: fts.Filters) -> None:
    """Past RELEVANCE_WINDOW matches, relevance ranks the newest window and then goes on newest first:
    offset pages and the keyset cursor both walk that one order, every result once (an author's or a
    tag's list of keys gives the same)."""
    monkeypatch.setattr(fts, "RELEVANCE_WINDOW", 16)
    with conn(built) as c:
        fts.register_functions(c)
        where, params = filters.sql("a.search_key")
        expected = {r[0] for r in c.execute(
            f"SELECT a.id FROM articles a WHERE a.id IN (SELECT article FROM article_authors aa JOIN authors au"
            f" ON au.id = aa.author WHERE au.key = 'phong vien'){where}", params)}
        everything = fts.results(c, "tin", limit=500, filters=filters).ids
        assert set(everything) == expected and len(everything) == len(expected) > 16
        by_offset = [i for off in range(0, len(expected), 7)
                     for i in fts.results(c, "tin", offset=off, limit=7, filters=filters).ids]
        assert by_offset == everything
        walked, before, off = [], None, 0
        for _ in range(20):
            res = fts.results(c, "tin", offset=off, limit=7, before=before, filters=filters)
            walked += res.ids
            if len(res.ids) < 7:
                break
            if res.next_before is not None:
                before = res.next_before
            else:
                off += 7
        assert walked == everything
        # the tail is newest first, and a page of the newest order is the same from any path
        keys = fts.results(c, "tin", offset=16, limit=100, filters=filters).keys
        assert keys == sorted(keys, reverse=True)
        newest = fts.results(c, "tin", sort="newest", limit=500, filters=filters).keys
        assert newest == sorted(newest, reverse=True) and len(newest) == len(expected)


def test_a_search_past_the_time_limit_is_a_message(built: Path) -> None:
    from newsarchive.ui import make_datasette

    slow = make_datasette(built)
    slow._settings["sql_time_limit_ms"] = 1  # every page takes longer than that
    page = get(slow, "/?q=tin")
    assert page.status_code == 503 and "quá nhiều thời gian" in page.text
    assert get(slow, "/search.json?q=tin").status_code == 503
    assert get(slow, "/sites/a.vn").status_code == 503


def test_deep_pages_go_on_by_the_cursor(ds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsarchive.reading import search as page

    monkeypatch.setattr(page, "MAX_PAGE_OFFSET", 40)  # page 3 of 20 is the last one by number
    html = get(ds, "/?q=tin&sort=newest&page=3").text
    cursor = re.search(r'href="(/\?q=tin&amp;sort=newest&amp;before=(\d+))" rel="next"', html)
    assert cursor, html
    rest = get(ds, cursor.group(1).replace("&amp;", "&"))
    assert rest.status_code == 200 and "Trang đầu" in rest.text
    assert get(ds, "/?q=tin&page=4").status_code == 400  # past the bound by number: the message says why
    # the data walks by its "next" links to the end
    seen, url = [], "/search.json?q=tin&sort=newest"
    while url:
        got = get(ds, url).json()
        seen += [r["id"] for r in got["results"]]
        url = got["next"]
    assert len(seen) == FILLER == len(set(seen))


def test_cards_show_date_site_section_and_the_archived_lead_image(ds: Any, built: Path) -> None:
    html = get(ds, "/?q=dien+bien").text
    sha = __import__("hashlib").sha256(JPEG).hexdigest()
    assert f'<img src="/media/{sha}"' in html
    assert '<time datetime="2026-01-05T23:30:00+07:00">05/01/2026 23:30 (GMT+7)</time>' in html
    assert '<a href="/sites/a.vn">a.vn</a>' in html and "<span>Du lịch</span>" in html
    first = data(ds, "?q=dien+bien&site=a.vn")["results"]
    assert first[0]["image"] == f"/media/{sha}" and first[0]["archive_url"] == f"/article/{article_id(built, '1')}"


def test_json_and_csv(ds: Any) -> None:
    got = data(ds, "?q=tin&size=5&page=2")
    assert got["page"] == 2 and got["size"] == 5 and len(got["results"]) == 5 and got["next"]
    assert data(ds, "?q=tin&size=100000")["size"] == 100  # a page is bounded
    response = get(ds, "/search.csv?q=tin&all=1")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    text = response.text
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "published_at", "site"] and len(rows) == FILLER + 1
    formula = list(csv.reader(io.StringIO(get(ds, "/search.csv?q=cong+thuc").text.lstrip("\ufeff"))))
    assert formula[1][5].startswith("'=HYPERLINK")  # no formula a spreadsheet would run


@pytest.mark.parametrize("query", ["?q=%22dien", "?q=dien+AND", "?q=(a", "?page=0", "?page=abc", "?from=2026-13-01",
                                   "?from=2026-02-01&to=2026-01-01", "?sort=oldest", "?page=999999999",
                                   "?q=" + "a+" * 300, "?before=-5"])
def test_a_bad_query_is_a_message_and_400(ds: Any, query: str) -> None:
    page = get(ds, "/" + query)
    assert page.status_code == 400
    assert 'class="notice error" role="alert"' in page.text and "Traceback" not in page.text
    as_data = get(ds, "/search.json" + query)
    assert as_data.status_code == 400 and as_data.json()["ok"] is False


# -- sites ---------------------------------------------------------------------------------------

def test_sites_pages_match_the_archive(ds: Any, built: Path) -> None:
    with conn(built) as c:
        counts = dict(c.execute("SELECT site, count(*) FROM articles GROUP BY site").fetchall())
        days = dict(c.execute("SELECT substr(published_at, 1, 10), count(*) FROM articles WHERE site = 'a.vn'"
                              " GROUP BY 1").fetchall())
        authors = c.execute("SELECT avg(EXISTS (SELECT 1 FROM article_authors x WHERE x.article = a.id)),"
                            " avg(EXISTS (SELECT 1 FROM article_tags t WHERE t.article = a.id))"
                            " FROM articles a WHERE site = 'a.vn'").fetchone()
    overview = get(ds, "/sites").text
    for site, n in counts.items():
        assert re.search(rf'<a href="/sites/{re.escape(site)}">{re.escape(site)}</a></th>\s*<td class="num">{n}</td>',
                         overview), site
    assert "1 cảnh báo" in overview  # a.vn's last run was degraded
    page = get(ds, "/sites/a.vn")
    assert page.status_code == 200
    html = page.text
    assert f"{counts['a.vn']} bài" in html
    # articles per day: the 30 days up to the newest, as the archive counts them
    newest = max(days)
    shown = dict(re.findall(r"<title>(\d{4}-\d{2}-\d{2}): (\d+) bài</title>", html))
    assert len(shown) == 30 and newest in shown
    assert {d: int(n) for d, n in shown.items() if int(n)} == {d: n for d, n in days.items() if d in shown}
    assert f"<td>Tác giả</td><td class=\"num\">{authors[0] * 100:.0f}%</td>" in html
    assert f"<td>Thẻ</td><td class=\"num\">{authors[1] * 100:.0f}%</td>" in html
    assert "Đã lưu 1 / 1 tệp" in html  # media coverage: the one reference is held
    assert "authors 98% → 0%" in html and 'class="alarm">degraded' in html  # the drift alarm and the run
    assert get(ds, "/sites/nowhere.vn").status_code == 404


# -- the whole reading room -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/?q=dien+bien", "/?q=%22", "/sites", "/sites/a.vn", "/sites/b.vn"])
def test_pages_request_nothing_outside_the_archive(ds: Any, path: str) -> None:
    page = get(ds, path)
    assert '<html lang="vi">' in page.text
    for attr, url in re.findall(r'\b(src|href|action|srcset)\s*=\s*["\']?([^"\'\s>]*)', page.text):
        assert not re.match(r"(?i)(https?:)?//", url), (attr, url)
    # the article links are the archive's own; the original URLs stay data (JSON), not links
    assert "default-src 'self'" in page.headers["content-security-policy"]
    css = get(ds, "/-/newsarchive/static/reading.css")
    assert css.status_code == 200 and "http" not in css.text and "@import" not in css.text
    assert get(ds, "/-/newsarchive/static/..%2Fsearch.py").status_code != 200  # only the static files, by name
    assert get(ds, "/-/newsarchive/static/search.py").status_code == 404


def test_datasette_pages_stay_reachable_and_table_search_folds(ds: Any) -> None:
    assert get(ds, "/archive").status_code == 200
    rows = get(ds, "/archive/articles.json?_search=dien+bien&_shape=array").json()
    assert "Điện Biên đón khách du lịch" in {r["title"] for r in rows}
    assert get(ds, "/archive.db").status_code in (403, 404)  # the whole file is not one click away


def test_serve_is_local_unless_told_and_warns(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from click.testing import CliRunner

    from newsarchive.cli import cli
    from newsarchive.ui import is_local

    assert is_local("127.0.0.1") and is_local("::1") and is_local("localhost") and is_local("127.0.0.2")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.4") and not is_local("::")
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # bind, then return at once
    quiet = CliRunner().invoke(cli, ["serve", "--db", str(built), "--port", "0"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output and "http://127.0.0.1:" in quiet.output
    loud = CliRunner().invoke(cli, ["serve", "--db", str(built), "--port", "0", "--host", "0.0.0.0"])
    assert loud.exit_code == 0 and "warning: --host 0.0.0.0 lets anyone" in loud.output


def test_plain_datasette_gives_the_reading_room(built: Path) -> None:
    """`datasette archive.db` with newsarchive installed: the plugin's entry point brings the pages."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    if pm.get_plugin("newsarchive") is None:
        pytest.skip("newsarchive's datasette entry point is not installed (pip install -e .)")
    plain = Datasette([str(built)])
    page = get(plain, "/?q=dien+bien")
    assert page.status_code == 200 and "Điện Biên đón khách du lịch" in page.text
    assert get(plain, "/sites").status_code == 200 and get(plain, "/archive").status_code == 200


@pytest.mark.parametrize("query", ["tin", "tin ngắn", '"ban tin"', "tin*", "dien NOT vang", "ngan OR ban", "dien bien",
                                   "(tin OR khach) AND ngan", "doi OR tin", "Đồi A1"])
def test_tiers_from_the_text_are_the_index_tiers(built: Path, query: str) -> None:
    """A filtered window is ranked from its own folded titles, sapos and captions: the same tiers as
    the index's column filters give."""
    with conn(built) as c:
        fts.register_functions(c)
        q = fts.parse_query(query)
        window = [r[0] for r in c.execute("SELECT rowid FROM search_folded WHERE search_folded MATCH ?"
                                          " ORDER BY rowid DESC", (q.folded,))]
        assert window
        assert fts._tiers_by_text(c, q, window) == fts._tiers_by_index(c, q, window)
        # the captions tier from the captions' rows is the index's column filter on captions
        everything = fts._tiers_by_index(c, q, window, columns=("captions", "sapo", "title"))
        assert everything == fts._tiers_by_index(c, q, window)
        assert fts._caption_tiers(c, q, window) == fts._tiers_by_index(c, q, window, columns=("captions",))
        if "doi" in fts.fold(query):  # (not two empty sets: the first article's caption "Đồi A1")
            assert fts._caption_tiers(c, q, window)


def test_the_sites_overview_follows_the_archive(tmp_path: Path) -> None:
    """The overview is kept between requests, until the archive changes."""
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    a = Archive(path)
    a.save(rec(url="https://c.vn/1.html", site="c.vn", article_id="1"))
    served = make_datasette(path)
    assert re.search(r'c\.vn</a></th>\s*<td class="num">1</td>', get(served, "/sites").text)
    a.save(rec(url="https://c.vn/2.html", site="c.vn", article_id="2"))
    assert re.search(r'c\.vn</a></th>\s*<td class="num">2</td>', get(served, "/sites").text)
    a.close()


@pytest.mark.parametrize("filters", [fts.Filters(author="mai que"), fts.Filters(tag="Tin ngắn"),
                                     fts.Filters(tag="Tin ngắn", site="b.vn"), fts.Filters(author="phong vien", tag="Tin ngắn"),
                                     fts.Filters(author="nobody")])
@pytest.mark.parametrize("text", ["", "tin", "dien bien"])
def test_an_author_or_tag_read_as_a_list_or_checked_per_result_gives_the_same(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                                             filters: fts.Filters, text: str) -> None:
    """Up to LIST_DRIVEN articles, an author's or tag's index keys filter the walk; past it, each result
    is checked: the same results in the same order."""
    with conn(built) as c:
        fts.register_functions(c)
        by_list = {s: fts.results(c, text, filters=filters, sort=s, limit=100).ids for s in ("relevance", "newest")}
        monkeypatch.setattr(fts, "LIST_DRIVEN", 0)
        checked = {s: fts.results(c, text, filters=filters, sort=s, limit=100).ids for s in ("relevance", "newest")}
    assert by_list == checked
    if filters.author == "nobody":
        assert by_list["newest"] == []


@pytest.mark.parametrize("filters", [fts.Filters(author="mai que"), fts.Filters(author="MAI QUẾ"), fts.Filters(tag="Tin ngắn"),
                                     fts.Filters(tag="Vùng cao", site="b.vn"), fts.Filters(author="phong vien", tag="Tin ngắn"),
                                     fts.Filters(author="nobody"), fts.Filters(tag="tin ngan")])
@pytest.mark.parametrize("text", ["tin", "dien bien", "ha noi OR tin"])
def test_an_author_or_tag_in_the_index_gives_what_the_rows_give(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 filters: fts.Filters, text: str) -> None:
    """Author and tag as phrases of the index's filters column (migration 014) give the results the
    byline and tag rows give (the plan of an archive without the column), in the same order; the
    index's names are folded, the rows' tag is exact ("tin ngan" is no tag)."""
    with conn(built) as c:
        assert fts.has_filter_column(c)
        by_index = {s: fts.results(c, text, filters=filters, sort=s, limit=100).ids for s in ("relevance", "newest")}
        monkeypatch.setattr(fts, "has_filter_column", lambda _c: False)
        by_rows = {s: fts.results(c, text, filters=filters, sort=s, limit=100).ids for s in ("relevance", "newest")}
    assert by_index == by_rows
    if (text == "tin" and "Tin ngắn" in (filters.author, filters.tag, "Tin ngắn" if filters.author == "phong vien"
                                         else None)) or (text == "dien bien" and filters == fts.Filters(author="mai que")):
        assert by_index["newest"]  # (the comparison is not between two empty lists)


def test_the_filters_column_follows_revisions_and_migration_014_builds_it(tmp_path: Path) -> None:
    """A new version with other authors and tags is indexed under them (the old ones forgotten: the
    contentless index is told exactly what it held; its integrity check passes); an archive from
    before migration 014 gets the column built from its rows, with the same results."""
    path = tmp_path / "archive.db"
    with Archive(path) as a:
        a.save(rec(url="https://a.vn/1.html", article_id="1", title="Tin một", authors=["Lan Anh", "LAN ANH"],
                   tags=["Du lịch"]))
        a.save(rec(url="https://a.vn/2.html", article_id="2", title="Tin hai", authors=["Mai Quế"], tags=[]))
        a.save(rec(url="https://a.vn/1.html", article_id="1", title="Tin một", authors=["Hải Yến"], tags=["Vùng cao"],
                   fetched_at="2026-11-28T10:00:00Z"))

        def found(**kw: Any) -> list[int]:
            return fts.results(a.conn, "tin", filters=fts.Filters(**kw), sort="newest").ids

        first, second = (a.conn.execute("SELECT id FROM articles WHERE article_id = ?", (n,)).fetchone()[0]
                         for n in ("1", "2"))
        assert found(author="lan anh") == [] and found(author="hai yen") == [first]
        assert found(tag="Du lịch") == [] and found(tag="Vùng cao") == [first] and found(author="mai que") == [second]
        a.conn.execute("INSERT INTO search_folded(search_folded, rank) VALUES ('integrity-check', 1)")
        # the archive as it was before 014: the 4-column index, filled the old way
        with a.transaction():
            a.conn.execute("DROP TABLE search_folded")
            a.conn.execute("CREATE VIRTUAL TABLE search_folded USING fts5(title, sapo, body, captions, content='',"
                           " tokenize='unicode61 remove_diacritics 2')")
            for key, article in a.conn.execute("SELECT search_key, id FROM articles").fetchall():
                fts.index_folded(a.conn, key, a.record(article))
            a.conn.execute("DELETE FROM _migrations WHERE name IN ('014_search_filter_columns', ?)",
                           (fts.SITE_WORDS_MIGRATION,))  # (015 rebuilds what 014 builds, with more words)
        assert not fts.has_filter_column(a.conn)
        before = (found(author="hai yen"), found(tag="Vùng cao"), fts.results(a.conn, "tin").ids)
    with Archive(path) as a:  # opened for writing: migrated
        assert fts.has_filter_column(a.conn)
        assert (found(author="hai yen"), found(tag="Vùng cao"), fts.results(a.conn, "tin").ids) == before
        assert a.conn.execute("SELECT count(*) FROM search_folded WHERE search_folded MATCH ?",
                              [fts.filter_phrase(fts.AUTHOR_MARK, "Hải Yến")]).fetchone()[0] == 1


def test_the_sites_counts_are_kept_by_the_archive_and_counted_without_it(tmp_path: Path) -> None:
    """The sites pages read each site's count from ``site_articles`` (kept by triggers, migration 015),
    equal to the articles', with newest and oldest as the rows give them; an archive without that
    table (from before 015, read without migrating) is counted the old way, with the same page."""
    from newsarchive.reading import sites

    path = tmp_path / "archive.db"
    with Archive(path) as a:
        for n in range(7):
            a.save(rec(url=f"https://{'cd'[n % 2]}.vn/{n}.html", site=f"{'cd'[n % 2]}.vn", article_id=str(n),
                       published_at=None if n == 2 else f"2026-0{1 + n}-01T08:00:00+07:00"))
    with conn(path) as c:
        counted = dict(c.execute("SELECT site, count(*) FROM articles GROUP BY site"))
        ends = {s: c.execute("SELECT max(published_at), min(published_at) FROM articles WHERE site = ?", (s,)).fetchone()
                for s in counted}
        kept = {r["site"]: (r["articles"], r["newest"], r["oldest"]) for r in sites.overview(c)}
        assert kept == {s: (counted[s], *ends[s]) for s in counted} and counted == {"c.vn": 4, "d.vn": 3}
        assert sites.site_detail(c, None, "c.vn")["articles"] == 4
    from newsarchive.ui import make_datasette

    page = get(make_datasette(path), "/sites").text
    with Archive(path) as a:
        for trigger in ("delete", "update"):
            a.conn.execute(f"DROP TRIGGER site_articles_{trigger}")
        a.conn.execute("DROP TABLE site_articles")
    with conn(path) as c:
        assert {r["site"]: (r["articles"], r["newest"], r["oldest"]) for r in sites.overview(c)} == kept
    assert get(make_datasette(path), "/sites").text == page
