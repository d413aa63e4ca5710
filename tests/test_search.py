"""Full-text search: Vietnamese with or without diacritics, ranking, syntax, filters, snippets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.store import Archive
from newsarchive.store import search as fts

ARTICLES = [
    # (id suffix, title, body, site, section, authors, published)
    (1, "Điện Biên đón khách du lịch", "Tỉnh Điện Biên đón nhiều khách trong dịp lễ.", "a.vn", "Du lịch", ["Lan Anh"],
     "2026-01-05T08:00:00+07:00"),
    (2, "Đà Nẵng mở tuyến xe buýt điện", "Thành phố Đà Nẵng đưa vào khai thác xe buýt điện mới.", "a.vn", "Đô thị",
     ["Minh Khôi"], "2026-02-01T08:00:00+07:00"),
    (3, "Dien bien gia vang hom nay", "Dien bien: gia vang dien bien, dien bien (khong dau).", "b.vn", "Kinh tế",
     ["Lan Anh"], "2026-03-01T08:00:00+07:00"),
    (4, "Nghệ An: tiêm vắc-xin covid-19", "Bệnh viện tiêm chủng cho người dân; Điện Biên cũng vậy.", "b.vn",
     "Y tế", ["Hải Yến"], "2026-04-01T08:00:00+07:00"),
    (5, "Hội nghị chuyển đổi số", "Chuyển đổi số là nhiệm vụ trọng tâm của năm.", "a.vn", "Công nghệ", ["Quang Huy"],
     "2026-05-01T08:00:00+07:00"),
]


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    a = Archive(tmp_path / "s.db")
    for n, title, body, site, section, authors, published in ARTICLES:
        a.save(rec(url=f"https://{site}/bai-{n}.html", site=site, article_id=str(n), title=title, body_text=body,
                   sapo=None, section=section, authors=authors, published_at=published, tags=[],
                   images=[{"src": f"https://{site}/{n}.jpg", "caption": "Ảnh hội nghị" if n == 5 else None}]))
    return a


def titles(archive: Archive, query: str, **kw: object) -> list[str]:
    ids = fts.search(archive.conn, query, **kw)  # type: ignore[arg-type]
    return [archive.record(i)["title"] for i in ids]


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Điện Biên", "dien bien"), ("Đà Nẵng", "da nang"), ("Nghệ An", "nghe an"), ("ẬỆỘỰ đ", "aeou d"),
     ("Khôi", "khoi"), ("Thủ Đức", "thu duc")],
)
def test_fold(text: str, folded: str) -> None:
    assert fts.fold(text) == folded and len(fts.fold(text)) == len(text)


def test_with_or_without_diacritics(archive: Archive) -> None:
    assert set(titles(archive, "dien bien")) == {"Điện Biên đón khách du lịch", "Dien bien gia vang hom nay",
                                                   "Nghệ An: tiêm vắc-xin covid-19"}
    assert titles(archive, "da nang") == ["Đà Nẵng mở tuyến xe buýt điện"]
    assert titles(archive, "ĐÀ NẴNG") == ["Đà Nẵng mở tuyến xe buýt điện"]


def test_a_query_with_diacritics_ranks_exact_accent_matches_first(archive: Archive) -> None:
    ranked = titles(archive, "Điện Biên")
    assert len(ranked) == 3 and ranked[-1] == "Dien bien gia vang hom nay"
    # typed without accents: bm25 alone, and the unaccented article (the term most often) leads
    assert titles(archive, "dien bien")[0] == "Dien bien gia vang hom nay"


def test_query_syntax(archive: Archive) -> None:
    assert titles(archive, '"xe buyt dien"') == ["Đà Nẵng mở tuyến xe buýt điện"]
    assert titles(archive, '"buyt xe"') == []
    assert set(titles(archive, "da nang OR nghe an")) == {"Đà Nẵng mở tuyến xe buýt điện", "Nghệ An: tiêm vắc-xin covid-19"}
    assert titles(archive, "dien bien NOT vang NOT nghe") == ["Điện Biên đón khách du lịch"]
    assert titles(archive, "chuyen doi s*") == ["Hội nghị chuyển đổi số"]
    assert titles(archive, "covid-19") == ["Nghệ An: tiêm vắc-xin covid-19"]
    assert titles(archive, "(da OR nghe) AND (nang OR an)") != []
    assert titles(archive, "hoi nghi") == ["Hội nghị chuyển đổi số"]  # captions are searched too
    assert titles(archive, "anh hoi") == ["Hội nghị chuyển đổi số"]
    # a word next to a bracket is ANDed to it (FTS5 itself reads "a (b OR c)" as a syntax error)
    assert titles(archive, "xe (buyt OR tau)") == ["Đà Nẵng mở tuyến xe buýt điện"]
    assert titles(archive, "(nghe OR hoi) an") == ["Nghệ An: tiêm vắc-xin covid-19"]
    assert titles(archive, "Tỉnh (Điện OR Biên)") == ["Điện Biên đón khách du lịch"]


def test_an_accented_phrase_ranks_exact_matches_first(archive: Archive) -> None:
    assert titles(archive, '"Điện Biên"')[-1] == "Dien bien gia vang hom nay"
    assert titles(archive, '"điện biên" vang')[0] == "Dien bien gia vang hom nay"  # the only match
    assert titles(archive, "vắc-xin covid-19*") == ["Nghệ An: tiêm vắc-xin covid-19"]
    # accented only in the other order / NOT an exact word: folded matches, ranked after exact ones
    assert titles(archive, "Điện Biên NOT tỉnh")[0] == "Nghệ An: tiêm vắc-xin covid-19"
    assert titles(archive, "(Đà OR Bệnh) AND (Nẵng OR viện)")[:2] != []


@pytest.mark.parametrize(
    ("query", "text", "exact"),
    [("Điện Biên", "tỉnh điện biên đón khách", True), ("Điện Biên", "tỉnh điên biến", False),
     ('"Điện Biên"', "biên điện", False), ('"Điện Biên"', "điện, biên", True), ("Điện", "điệnn", False),
     ("Điệ*", "điện", True), ("Điện OR Nẵng", "đà nẵng", True), ("Điện NOT Biên", "điện biên", False),
     ("Điện NOT Biên", "điện lực", True), ("Đà (Nẵng OR Lạt)", "đà lạt", True), ("Đà (Nẵng OR Lạt)", "đà nang", False),
     ("á OR bé NOT cá", "bé cá", False), ("á OR bé NOT cá", "á cá", True), ("á NOT bé NOT cá", "á cá", False),
     ("ở", "hở", False), ("ở", "Ở nhà", True)],
)
def test_exact_match_evaluates_the_query_as_typed(query: str, text: str, exact: bool) -> None:
    check = fts.parse_query(query).exact
    assert check is not None and check(text) is exact


def test_every_folded_letter_folds_the_same_in_the_index(tmp_path: Path) -> None:
    # the folded index folds in SQLite's tokenizer: it must agree with fold() on every letter
    letters = [chr(code) for code, to in fts._FOLD.items() if to is not None]
    a = Archive(tmp_path / "f.db")
    for i, ch in enumerate(letters):
        a.save(rec(url=f"https://x.vn/a-{i}.html", site="x.vn", article_id=str(i), title=f"x{ch}x {i}",
                   body_text="nội dung", images=[], tags=[]))
    missed = [ch for i, ch in enumerate(letters)
              if titles(a, f'"x{fts.fold(ch)}x" {i}') != [f"x{ch}x {i}"]]
    assert missed == []


@pytest.mark.parametrize("bad", ['"dien bien', "AND dien", "dien OR", "(dien", "dien)", "", "   ", "***", "NOT"])
def test_malformed_queries(archive: Archive, bad: str) -> None:
    with pytest.raises(fts.QueryError):
        fts.search(archive.conn, bad)


def test_filters_and_newest_first(archive: Archive) -> None:
    assert titles(archive, "dien bien", filters=fts.Filters(site="b.vn"), sort="newest") == [
        "Nghệ An: tiêm vắc-xin covid-19", "Dien bien gia vang hom nay"]
    assert titles(archive, "dien bien", filters=fts.Filters(author="Lan Anh"), sort="newest") == [
        "Dien bien gia vang hom nay", "Điện Biên đón khách du lịch"]
    assert titles(archive, "dien bien", filters=fts.Filters(section="Y tế")) == ["Nghệ An: tiêm vắc-xin covid-19"]
    window = fts.Filters(since="2026-02-15T00:00:00+07:00", until="2026-03-15T00:00:00+07:00")
    assert titles(archive, "dien bien", filters=window) == ["Dien bien gia vang hom nay"]
    assert titles(archive, "dien bien", limit=1, sort="newest") == ["Nghệ An: tiêm vắc-xin covid-19"]


def test_an_edit_updates_the_index(archive: Archive) -> None:
    archive.save(rec(url="https://a.vn/bai-2.html", site="a.vn", article_id="2", title="Hải Phòng mở tuyến buýt",
                     body_text="Nội dung đã sửa.", sapo=None, section="Đô thị", authors=["Minh Khôi"],
                     published_at="2026-02-01T08:00:00+07:00", tags=[], images=[], fetched_at="2026-11-27T00:00:00Z"))
    assert titles(archive, "da nang") == []
    assert titles(archive, "hai phong") == ["Hải Phòng mở tuyến buýt"]


def test_snippet_marks_matches_only() -> None:
    text = "Giá <vàng> & bạc tại Điện Biên hôm nay tăng mạnh; điện biên là tỉnh miền núi."
    out = fts.snippet(text, ["dien", "bien"])
    assert out.count("<mark>") == 4 and "<mark>Điện</mark> <mark>Biên</mark>" in out
    assert "<vàng>" in out  # the text's own characters are left alone: no other markup is added


def test_search_command(archive: Archive) -> None:
    db = str(archive.path)
    archive.close()
    out = run_cli("search", "dien bien", "--json", "--highlight", "--db", db, "--sort", "newest")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert [h["title"] for h in hits][0] == "Nghệ An: tiêm vắc-xin covid-19"
    assert set(hits[0]) >= {"id", "url", "title", "published_at", "site", "authors", "snippet"}
    assert "<mark>Điện</mark> <mark>Biên</mark>" in hits[0]["snippet"]
    plain = json.loads(run_cli("search", "dien bien", "--json", "--db", db, "--sort", "newest").stdout)
    assert plain[0]["snippet"] == hits[0]["snippet"].replace("<mark>", "").replace("</mark>", "")
    bad = run_cli("search", '"dien', "--db", db)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and len(bad.stderr.splitlines()) == 1
    csv_out = run_cli("search", "da nang", "--csv", "--db", db)
    assert csv_out.stdout.splitlines()[0].startswith("id,url,title") and "Đà Nẵng" in csv_out.stdout


def test_beyond_the_window_matches_rank_by_where_the_words_are(tmp_path: Path, monkeypatch) -> None:
    a = Archive(tmp_path / "w.db")
    for i in range(30):
        a.save(rec(url=f"https://x.vn/a-{i}.html", site="x.vn", article_id=str(i),
                   title="Điện Biên mùa xuân" if i in (3, 25) else f"Tin {i}",
                   sapo="Điện Biên trong sapo" if i == 22 else "Mở đầu", body_text=f"Nội dung {i} về Điện Biên.",
                   published_at=f"2026-01-{i + 1:02d}T08:00:00+07:00", images=[], tags=[]))
    monkeypatch.setattr(fts, "RELEVANCE_WINDOW", 10)  # 30 matches: the 10 newest are ranked
    ranked = [a.record(i)["url"].rsplit("-", 1)[1] for i in fts.search(a.conn, "dien bien", limit=4)]
    assert ranked == ["25.html", "22.html", "29.html", "28.html"]  # title, sapo, then newest
    monkeypatch.setattr(fts, "RELEVANCE_WINDOW", 100)  # all 30 ranked by bm25: both title matches lead
    top = {a.record(i)["url"].rsplit("-", 1)[1] for i in fts.search(a.conn, "dien bien", limit=2)}
    assert top == {"25.html", "3.html"}


def test_an_archive_indexed_the_old_way_is_reindexed(archive: Archive) -> None:
    # put the archive back in migration 004's state: positions in both indexes, folding in Python
    c = archive.conn
    c.execute("DELETE FROM _migrations WHERE name = '005_search_cheaper_writes'")
    c.execute("DROP TABLE search_folded")
    for table in ("search_folded", "search_exact"):
        c.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(title, sapo, body, captions, content='',"
                  " tokenize='unicode61 remove_diacritics 0')")
    for key, title, body in c.execute("SELECT search_key, title, body_text FROM articles").fetchall():
        c.execute("INSERT INTO search_folded(rowid, title, sapo, body, captions) VALUES (?, ?, '', ?, '')",
                  (key, fts.fold(title), fts.fold(body)))
    path = archive.path
    archive.close()
    again = Archive(path)
    assert set(titles(again, "dien bien")) == {"Điện Biên đón khách du lịch", "Dien bien gia vang hom nay",
                                                 "Nghệ An: tiêm vắc-xin covid-19"}
    assert titles(again, "Điện Biên")[-1] == "Dien bien gia vang hom nay"
    assert again.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'search_exact'").fetchone()[0] == 0
    test_an_edit_updates_the_index(again)  # old entries are removed with the values they were indexed by


def test_exact_matches_come_first_however_far_down_the_ranking(tmp_path: Path) -> None:
    a = Archive(tmp_path / "x.db")
    a.save_many([(rec(url=f"https://x.vn/a-{i}.html", site="x.vn", article_id=str(i),
                      title=("Điện Biên hôm nay" if i < 3 else f"Dien bien dien bien {i}"), sapo=None,
                      body_text="Nội dung.", published_at=f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00+07:00",
                      images=[], tags=[]), None) for i in range(100)])
    top = [a.record(i)["title"] for i in fts.search(a.conn, "Điện Biên", limit=5)]
    assert top[:3] == ["Điện Biên hôm nay"] * 3 and top[3].startswith("Dien bien")
    assert [a.record(i)["title"] for i in fts.search(a.conn, "dien bien", limit=3)] != ["Điện Biên hôm nay"] * 3
