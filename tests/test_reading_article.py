"""The reading room's article, history, diff, as-archived and media pages (issue 16), through
Datasette's own test client, over an archive written by the library (records, revisions, raw pages,
media) as a crawl writes it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.media import Measured, MediaStore, measure, media_path
from newsarchive.store import Archive, RawPage

pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")

URL = "https://baodemo.vn/ha-noi-mua-to-123456.html"
IMG_A = "https://x.1cdn.vn/2026/09/16/a.jpg"  # held
IMG_B = "https://x.1cdn.vn/2026/09/16/b.jpg"  # not held
IMG_C = "https://x.1cdn.vn/2026/09/17/c.jpg"  # the edit's new image, held
BODY = ("Hà Nội mưa to, gió lớn suốt đêm qua khiến nhiều tuyến phố ngập sâu.\n\n"
        "Giao thông ùn tắc\n\n"
        "Sáng nay nhiều tuyến đường vẫn ùn tắc kéo dài, người dân phải dắt xe qua các điểm ngập.")
BODY_EDITED = ("Hà Nội mưa rất to, gió nhẹ suốt đêm qua khiến nhiều tuyến phố ngập sâu.\n\n"
               "Giao thông ùn tắc\n\n"
               "Sáng nay nhiều tuyến đường vẫn ùn tắc kéo dài, người dân phải dắt xe qua các điểm ngập.\n\n"
               "Chiều nay nước đã rút.")

HOSTILE = f"""<!DOCTYPE html><html><head>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<base href="https://evil.example/">
<link rel="stylesheet" href="https://cdn.evil.example/site.css"><link rel="preload" href="//x.evil.example/f.woff2" as="font">
<style>@import url(https://evil.example/x.css); body {{ background: url('https://evil.example/bg.png') }} .a {{ color: red }}</style>
<script>fetch('https://evil.example/beacon')</script><script src="https://evil.example/app.js"></script>
<title>Hà Nội mưa to</title></head>
<body onload="alert(1)">
<h1 onclick="alert(2)">Hà Nội mưa to</h1>
<p style="background:url(https://evil.example/p.png)">Đoạn <a href="javascript:alert(3)">js</a>
 <a href=" JaVaScRiPt:alert(4)">js2</a> <a href="https://baodemo.vn/khac.html" ping="https://evil.example/ping">bài khác</a></p>
<img src="{IMG_A}" onerror="alert(5)" alt="Ảnh A" srcset="https://evil.example/a2.jpg 2x">
<img src="/images/grey.gif" data-src="{IMG_B}" alt="Ảnh B">
<img src="https://evil.example/tracker.gif" alt="">
<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/x.swf"></object>
<embed src="https://evil.example/y.swf"><p>sau embed</p>
<form action="https://evil.example/post"><input name="q" formaction="https://evil.example/f"><button>Gửi</button>
<p>trong biểu mẫu</p></form>
<svg><script>alert(6)</script><image href="https://evil.example/s.png"/></svg>
<noscript><img src="https://evil.example/noscript.jpg"></noscript>
<video poster="https://evil.example/poster.jpg" src="https://evil.example/v.mp4"></video>
<div style="width: expression(alert(7))">cuối trang</div>
</body></html>"""


def png(width: int = 3, height: int = 2) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * (3 * width + 1) * height)) + chunk(b"IEND", b""))


JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xc0\x00\x11\x08\x00\x02\x00\x03\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9")


def first(**kw: Any) -> dict[str, Any]:
    return {**rec(url=URL, article_id="123456", title="Hà Nội mưa to, nhiều tuyến phố ngập",
               sapo="Trận mưa lớn đêm qua làm nhiều tuyến phố ngập.", dateline="(BD)",
               authors=["Lan Anh", "MAI QUẾ"], section="Thời sự", breadcrumb=["Xã hội", "Thời sự"],
               tags=["mưa lớn", "Hà Nội"], body_text=BODY, published_at="2026-09-16T05:25:00+07:00",
               modified_at="2026-09-16T07:00:00+07:00", fetched_at="2026-09-16T00:00:00Z",
               images=[{"src": IMG_A, "caption": "Phố Huế ngập sâu. Ảnh: Đức Anh"},
                       {"src": IMG_B, "caption": "Người dân dắt xe qua điểm ngập"}]), **kw}


@pytest.fixture
def archive(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "archive.db"
    a = Archive(path)
    page = RawPage(URL, HOSTILE.encode("utf-8"), 200, {"Content-Type": "text/html; charset=utf-8"},
                   "2026-09-16T00:00:00Z")
    one = a.save(first(), page)
    edited = first(title="Hà Nội mưa to, nhiều tuyến phố ngập sâu", body_text=BODY_EDITED,
                   tags=["mưa lớn", "ngập lụt"], fetched_at="2026-09-17T00:00:00Z",
                   images=[{"src": IMG_A, "caption": "Phố Huế ngập sâu sáng 16/9. Ảnh: Đức Anh"},
                           {"src": IMG_B, "caption": "Người dân dắt xe qua điểm ngập"},
                           {"src": IMG_C, "caption": "Nước rút"}])
    two = a.save(edited, RawPage(URL, b"<html><body><p>v2</p></body></html>", 200,
                                 {"Content-Type": "text/html"}, "2026-09-17T00:00:00Z"))
    # a re-extraction (a newer extractor read the stored page differently): a third version
    a.reextract_many([(one.id, {**edited, "extractor_version": "1.1.0", "source": "TTXVN",
                                "fetched_at": "2026-09-18T00:00:00Z"}, page)])
    other = a.save(rec(url="https://baodemo.vn/khong-trang-777.html", article_id="777", title="Không có trang",
                       images=[]))
    a.close()
    with MediaStore(media_path(path)) as m:
        sha_a, _ = m.store(IMG_A, png(), measure(png(), "image"))
        sha_c, _ = m.store(IMG_C, JPEG, Measured("image", "image/jpeg", 3, 2))
        sha_svg, _ = m.store("https://x.1cdn.vn/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>'
                             b"alert(1)</script></svg>", Measured("image", "image/svg+xml"))
        sha_pdf, _ = m.store("https://x.1cdn.vn/doc.pdf", b"%PDF-1.4 ...", Measured("image", "application/pdf"))
        m.fail(IMG_B, "baodemo.vn", "HTTP 404")
    from newsarchive.ui import make_datasette

    assert two.status == "revised"
    return {"path": path, "ds": make_datasette(path), "id": one.id, "other": other.id, "sha_a": sha_a,
            "sha_c": sha_c, "sha_svg": sha_svg, "sha_pdf": sha_pdf}


def get(ds: Any, path: str, **kw: Any) -> Any:
    return asyncio.run(ds.client.get(path, **kw))


def attr_values(html: str, *names: str) -> list[str]:
    pattern = r"\s(?:" + "|".join(names) + r")\s*=\s*\"([^\"]*)\""
    return re.findall(pattern, html, re.IGNORECASE)


# -- the reader view ---------------------------------------------------------------------------------

def test_reader_page_shows_the_article_with_archived_images_and_links(archive: dict[str, Any]) -> None:
    r = get(archive["ds"], f"/article/{archive['id']}")
    assert r.status_code == 200, r.text
    html = r.text
    assert "Hà Nội mưa to, nhiều tuyến phố ngập sâu" in html  # the current (edited) title
    assert '<a href="/?author=Lan+Anh" rel="author">Lan Anh</a>' in html
    assert '<a href="/?author=MAI+QU%E1%BA%BE" rel="author">MAI QUẾ</a>' in html
    assert '<a href="/?tag=ng%E1%BA%ADp+l%E1%BB%A5t" rel="tag">ngập lụt</a>' in html
    assert '<a href="/?section=Th%E1%BB%9Di+s%E1%BB%B1">Thời sự</a>' in html  # breadcrumb, top to leaf
    assert html.index("Xã hội") < html.index("Thời sự</a>")
    # images: the held ones from the archive, with their captions; the one not held says so
    assert f'src="/media/{archive["sha_a"]}"' in html and f'src="/media/{archive["sha_c"]}"' in html
    assert "Phố Huế ngập sâu sáng 16/9. Ảnh: Đức Anh</figcaption>" in html
    assert "Người dân dắt xe qua điểm ngập</figcaption>" in html
    assert "không được lưu trong kho (HTTP 404)" in html
    # never a request to the live site: no src anywhere points outside the archive
    assert all(v.startswith("/") for v in attr_values(html, "src"))
    assert "1cdn.vn" not in " ".join(attr_values(html, "src", "srcset"))
    # body: paragraphs and the sub-heading
    assert '<h2 class="subhead">Giao thông ùn tắc</h2>' in html
    assert "<p>Chiều nay nước đã rút.</p>" in html
    # times as stored (+07:00), archive time in UTC, said so
    assert 'datetime="2026-09-16T05:25:00+07:00"' in html and "16/09/2026 05:25" in html
    assert "2026-09-18 00:00:00 UTC" in html
    # the original as a plain link the reader may choose to follow, without a referrer
    assert f'<a href="{URL}" rel="noreferrer noopener nofollow"' in html


def test_citation_names_site_title_date_archive_time_and_permanent_link(archive: dict[str, Any]) -> None:
    html = get(archive["ds"], f"/article/{archive['id']}").text
    citation = re.search(r'<p class="citation" id="citation">([^<]*)</p>', html).group(1)
    assert citation == (f"baodemo.vn, “Hà Nội mưa to, nhiều tuyến phố ngập sâu”, đăng ngày 16/09/2026, bản lưu lúc"
                        f" 2026-09-18 00:00:00 UTC. http://localhost/article/{archive['id']}")


def test_json_is_what_show_json_prints(archive: dict[str, Any]) -> None:
    r = get(archive["ds"], f"/article/{archive['id']}.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    shown = run_cli("show", str(archive["id"]), "--json", "--db", str(archive["path"]))
    assert shown.returncode == 0, shown.stderr
    assert r.json() == json.loads(shown.stdout)
    assert r.json()["images"][0]["sha256"] == archive["sha_a"]  # media included, as show --json does
    with_revs = get(archive["ds"], f"/article/{archive['id']}.json?revisions=1").json()
    shown = run_cli("show", str(archive["id"]), "--json", "--revisions", "--db", str(archive["path"]))
    assert with_revs == json.loads(shown.stdout)


def test_unknown_articles_are_404_pages_not_tracebacks(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    for path in ("/article/999", "/article/abc", "/article/99999999999999999999999999", "/article/999/history",
                 "/article/999/diff", "/article/999/archived", "/article/999/archived/page", "/article/x/history"):
        r = get(ds, path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text
    r = get(ds, "/article/999.json")
    assert r.status_code == 404 and r.json()["error"] == "not in the archive"


def test_page_without_media_file_still_reads(tmp_path: Path) -> None:
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    with Archive(path) as a:
        article = a.save(first()).id
    html = get(make_datasette(path), f"/article/{article}").text
    assert "/media/" not in html and html.count("Ảnh không được lưu trong kho") == 2
    assert "Phố Huế ngập sâu. Ảnh: Đức Anh" in html


def test_media_stored_while_serving_shows_at_once(tmp_path: Path) -> None:
    """The media file is kept open between requests: one that appears, and files stored into it
    later (a crawl running beside the reading room), show at the next request."""
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    with Archive(path) as a:
        article = a.save(first()).id
    ds = make_datasette(path)
    assert "/media/" not in get(ds, f"/article/{article}").text
    with MediaStore(media_path(path)) as m:
        sha_a, _ = m.store(IMG_A, png(), measure(png(), "image"))
        assert f"/media/{sha_a}" in get(ds, f"/article/{article}").text  # while a writer holds it open
        sha_b, _ = m.store(IMG_B, png(4, 4), measure(png(4, 4), "image"))
    html = get(ds, f"/article/{article}").text
    assert f"/media/{sha_a}" in html and f"/media/{sha_b}" in html
    assert get(ds, f"/media/{sha_b}").content == png(4, 4)


def test_hostile_text_in_a_record_is_shown_as_text(tmp_path: Path) -> None:
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    with Archive(path) as a:
        article = a.save(first(title=evil, authors=[evil], tags=[evil], sapo=evil, body_text=evil,
                               images=[{"src": IMG_B, "caption": evil}])).id
    ds = make_datasette(path)
    for page in (f"/article/{article}", f"/article/{article}/history"):
        html = get(ds, page).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_podcast_audio_and_video_play_from_the_archive(tmp_path: Path) -> None:
    from newsarchive.media import Ref, write_refs
    from newsarchive.ui import make_datasette

    path = tmp_path / "archive.db"
    audio, video, poster = "https://x.1cdn.vn/p.mp3", "https://x.1cdn.vn/v.mp4", "https://x.1cdn.vn/poster.png"
    with Archive(path) as a:
        podcast = a.save(first(kind="podcast", images=[])).id
        clip = a.save(first(url="https://baodemo.vn/clip-5.html", article_id="5", kind="video", images=[])).id
        with a.transaction():
            write_refs(a.conn, podcast, [Ref(audio, "audio")])
            write_refs(a.conn, clip, [Ref(poster, "poster"), Ref(video, "video")])
    mp3, mp4 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(64), b"\x00\x00\x00\x18ftypmp42" + bytes(64)
    with MediaStore(media_path(path)) as m:
        sha_mp3, _ = m.store(audio, mp3, measure(mp3, "audio"))
        sha_png, _ = m.store(poster, png(), measure(png(), "image"))
    ds = make_datasette(path)
    html = get(ds, f"/article/{podcast}").text
    assert f'<audio controls preload="metadata" src="/media/{sha_mp3}"></audio>' in html
    assert "<video" not in get(ds, f"/article/{clip}").text  # the video file is not held: no player
    with MediaStore(media_path(path)) as m:
        sha_mp4, _ = m.store(video, mp4, measure(mp4, "video"))
    html = get(ds, f"/article/{clip}").text
    assert f'<video controls preload="metadata" src="/media/{sha_mp4}" poster="/media/{sha_png}">' in html
    r = get(ds, f"/media/{sha_mp3}")
    assert r.headers["content-type"] == "audio/mpeg" and r.content == mp3


# -- history and diff --------------------------------------------------------------------------------

def test_history_lists_every_version_with_its_reason(archive: dict[str, Any]) -> None:
    html = get(archive["ds"], f"/article/{archive['id']}/history").text
    rows = re.findall(r'<td class="num">(\d+)</td>\s*<td><span class="reason (\w+)">([^<]+)</span></td>\s*'
                      r'<td><time datetime="([^"]+)">', html)
    assert rows == [("1", "first", "Lần đầu lưu", "2026-09-16T00:00:00Z"),
                    ("2", "edit", "Trang báo sửa bài", "2026-09-17T00:00:00Z"),
                    ("3", "reextract", "Trích xuất lại (bộ trích xuất mới)", "2026-09-18T00:00:00Z")]
    assert "Tiêu đề, Thẻ, Nội dung, Ảnh và chú thích" in html  # what the edit changed
    # the comparison form: the last two versions chosen, any two can be
    assert '<form action="/article/1/diff" method="get"' in html
    assert 'name="a" value="2" aria-label="Phiên bản 2 làm bản cũ" checked' in html
    assert 'name="b" value="3" aria-label="Phiên bản 3 làm bản mới" checked' in html


def test_history_reads_a_bounded_amount_of_records(archive: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from newsarchive.reading import history

    conn = sqlite3.connect(archive["path"])
    sizes = [n for (n,) in conn.execute("SELECT length(record) FROM revisions WHERE article = ? ORDER BY revision",
                                        (archive["id"],))]
    monkeypatch.setattr(history, "SUMMARY_CHARS", sizes[0] + sizes[1])  # room for two records, not three
    changed = [v["changed"] for v in history.versions(conn, archive["id"])]
    assert changed[0] is None and changed[1] and changed[2] is None
    monkeypatch.setattr(history, "SUMMARY_CHARS", 10**9)
    monkeypatch.setattr(history, "MAX_SUMMARIES", 2)
    assert [v["changed"] is None for v in history.versions(conn, archive["id"])] == [True, False, True]
    monkeypatch.setattr(history, "MAX_SUMMARIES", 50)
    assert history.versions(conn, archive["id"])[2]["changed"] == ["Nguồn", "Phiên bản bộ trích xuất"]


def test_diff_marks_the_changed_words_of_every_field(archive: dict[str, Any]) -> None:
    r = get(archive["ds"], f"/article/{archive['id']}/diff?a=1&b=2")
    assert r.status_code == 200, r.text
    html = r.text
    assert "Hà Nội mưa <ins>rất </ins>to, gió <del>lớn</del><ins>nhẹ</ins> suốt đêm qua" in html
    assert "<p><ins>Chiều nay nước đã rút.</ins></p>" in html
    assert "Hà Nội mưa to, nhiều tuyến phố ngập <ins>sâu</ins>" in html  # title
    assert "<li><del>Hà Nội</del></li>" in html and "<li><ins>ngập lụt</ins></li>" in html  # tags
    assert "Phố Huế ngập sâu <ins>sáng 16/9</ins>. Ảnh: Đức Anh" in html  # a caption's words
    assert (f'<li><img class="thumb" src="/media/{archive["sha_c"]}" alt="" loading="lazy"><ins>Nước rút</ins><br>'
            f'<span class="src">{IMG_C}</span></li>') in html  # a new image, held: its thumbnail from the archive
    assert f'<li>Người dân dắt xe qua điểm ngập<br><span class="src">{IMG_B}</span></li>' in html  # not held
    assert "<del>2026-09-16T00:00:00Z</del><ins>2026-09-17T00:00:00Z</ins>" in html  # a time, whole
    # in either order, and the re-extraction's own change
    assert get(archive["ds"], f"/article/{archive['id']}/diff?a=2&b=1").text.count("<ins>rất </ins>") == 1
    html = get(archive["ds"], f"/article/{archive['id']}/diff").text  # default: the last two
    assert "<ins>TTXVN</ins>" in html and "1.<del>0</del><ins>1</ins>.0" in html
    assert "<del>" not in html.split("Không đổi")[1]


def test_diff_of_bad_or_missing_versions(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    assert get(ds, f"/article/{archive['id']}/diff?a=x").status_code == 400
    r = get(ds, f"/article/{archive['id']}/diff?a=1&b=9")
    assert r.status_code == 404 and "bài viết này có các phiên bản 1, 2, 3" in r.text
    r = get(ds, f"/article/{archive['other']}/diff")
    assert r.status_code == 200 and "chỉ có một phiên bản" in r.text


def test_word_diff_is_bounded_on_huge_bodies() -> None:
    from newsarchive.reading.diff import COARSE_NOTE, record_diff

    words = ["và", "của", "là", "có", "một"]  # a small vocabulary: difflib's worst case
    a = " ".join(words[i * 7 % 5] for i in range(200_000))
    b = " ".join(words[i * 3 % 5] for i in range(200_000))
    started = time.perf_counter()
    fields = {f.name: f for f in record_diff({"body_text": a}, {"body_text": b})}
    assert time.perf_counter() - started < 10  # unbounded, this takes hours
    body = fields["body_text"]
    assert body.note == COARSE_NOTE
    assert "".join(s.text for blk in body.blocks for s in blk.segs if s.op != "ins") == a
    assert "".join(s.text for blk in body.blocks for s in blk.segs if s.op != "del") == b
    many_a = "\n\n".join(f"đoạn {i} " + " ".join(words) for i in range(3000))
    many_b = many_a.replace("đoạn 1500 ", "đoạn một nghìn năm trăm ")
    started = time.perf_counter()
    body = {f.name: f for f in record_diff({"body_text": many_a}, {"body_text": many_b})}["body_text"]
    assert time.perf_counter() - started < 10
    assert body.note is None  # a small edit of a long body is still word by word
    changed = [blk for blk in body.blocks if blk.changed]
    assert len(changed) == 1 and [s.text for s in changed[0].segs if s.op == "ins"] == ["một nghìn năm trăm"]
    assert sum(blk.skipped for blk in body.blocks) == 2997  # unchanged paragraphs far from it left out


def test_subheads_and_image_places() -> None:
    from newsarchive.reading.article import body_items, is_subhead

    assert is_subhead("Giao thông ùn tắc", "Sáng nay nhiều tuyến đường vẫn ùn tắc kéo dài.")
    assert not is_subhead("Giao thông ùn tắc.", "Sáng nay nhiều tuyến đường vẫn ùn tắc kéo dài.")
    assert not is_subhead("Giao thông ùn tắc", None)  # the last block is text
    assert not is_subhead("- Giá xăng E5", "Giá xăng E5 RON92 tăng 500 đồng một lít từ chiều nay.")
    items = body_items("A dài một.\n\nB dài hai.\n\nC dài ba.\n\nD dài bốn.", [{"n": 0}, {"n": 1}, {"n": 2}])
    layout = [i["image"]["n"] if i["type"] == "figure" else i["text"][0] for i in items]
    assert layout == [0, "A", 1, "B", 2, "C", "D"]  # the lead first, the others spread in order


# -- as archived -------------------------------------------------------------------------------------

def test_as_archived_page_is_inert_under_a_strict_policy(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    wrapper = get(ds, f"/article/{archive['id']}/archived?rev=1")
    assert wrapper.status_code == 200
    assert re.search(r'<iframe class="archived-frame" sandbox="" src="/article/1/archived/page\?rev=1"', wrapper.text)
    r = get(ds, f"/article/{archive['id']}/archived/page?rev=1")
    assert r.status_code == 200
    csp = [d.strip() for d in r.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in csp and "sandbox" in csp and "img-src 'self'" in csp
    assert not [d for d in csp if "http" in d or "*" in d or "unsafe-eval" in d or "script-src" in d]
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    lowered = html.lower()
    for bad in ("<script", "<iframe", "<object", "<embed", "<form", "<input", "<button", "<svg", "<base",
                "<link", "http-equiv", "<noscript", "javascript:", "@import", "expression(", "srcset", "ping=",
                "poster="):
        assert bad not in lowered, bad
    assert not re.search(r"\son\w+\s*=", html)
    # nothing that loads points outside the archive: every src is /media/…, every href a fragment
    assert attr_values(html, "src") == [f"/media/{archive['sha_a']}"]
    assert attr_values(html, "href") == []
    assert "url(" not in lowered
    # what stays readable: the text, the alt of an image not held, a link's target as text
    assert "<h1>Hà Nội mưa to</h1>" in html and "sau embed" in html and "trong biểu mẫu" in html
    assert 'alt="Ảnh B"' in html and f'data-original-src="{IMG_B}"' in html
    assert 'data-href="https://baodemo.vn/khac.html"' in html and ".a { color: red }" in html


def test_as_archived_latest_page_and_articles_without_one(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    assert "<p>v2</p>" in get(ds, f"/article/{archive['id']}/archived/page").text  # the newest fetch
    r = get(ds, f"/article/{archive['other']}/archived")
    assert r.status_code == 404 and "Kho không giữ trang gốc" in r.text
    assert get(ds, f"/article/{archive['id']}/archived?rev=abc").status_code == 400


def test_sanitizer_keeps_content_after_elements_libxml2_thinks_are_containers() -> None:
    from newsarchive.reading.archived import clean_stylesheet, inert_html

    out = inert_html('<p>a</p><embed src="x"><p>b</p><source src="y"><p>c</p><input name=q><p>d</p>',
                     "https://a.vn/", lambda urls: {})
    assert "<p>b</p>" in out and "<p>c</p>" in out and "<p>d</p>" in out and "x" not in out.split("<body>")[1][:40]
    assert clean_stylesheet("a{background:url(x.png)} b{background-image:image-set('y.png' 1x)}") == (
        "a{background:none} b{background-image:none}")
    assert clean_stylesheet("a{background:u\\72l(x.png)}") is None  # escapes could hide a fetch: dropped
    assert inert_html("", "https://a.vn/", lambda urls: {}).startswith("<!DOCTYPE html>")


def test_sanitizer_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsarchive.reading import archived

    monkeypatch.setattr(archived, "MAX_ELEMENTS", 50)
    monkeypatch.setattr(archived, "MAX_MEDIA", 3)
    asked: list[set[str]] = []

    def held(urls: Any) -> dict[str, str]:
        asked.append(set(urls))
        return {u: "ab" * 32 for u in urls}

    page = "<body>" + "".join(f"<p>đoạn {i}</p><img src='https://x.vn/{i}.jpg'>" for i in range(40)) + "</body>"
    out = archived.inert_html(page, "https://a.vn/", held)
    assert asked == [{f"https://x.vn/{i}.jpg" for i in range(3)}]  # one look-up, of the first three only
    assert out.count('src="/media/') == 3 and out.count("<img") == 23
    assert "đoạn 23" in out and "đoạn 24" not in out and "past 50 elements, is not shown" in out


# -- media -------------------------------------------------------------------------------------------

def test_media_route_serves_exact_bytes_with_safe_headers(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    r = get(ds, f"/media/{archive['sha_c']}")
    assert r.status_code == 200 and r.content == JPEG
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert "immutable" in r.headers["cache-control"] and r.headers["etag"] == f'"{archive["sha_c"]}"'
    assert r.headers["content-disposition"].startswith("inline")
    assert get(ds, f"/media/{archive['sha_a'].upper()}").content == png()
    # SVG, PDF: never inline from this origin
    for sha in (archive["sha_svg"], archive["sha_pdf"]):
        r = get(ds, f"/media/{sha}")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"].startswith("attachment")
        assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
    # revalidation by ETag
    r = get(ds, f"/media/{archive['sha_c']}", headers={"if-none-match": f'"{archive["sha_c"]}"'})
    assert r.status_code == 304 and r.content == b""


def test_media_route_404s(archive: dict[str, Any]) -> None:
    ds = archive["ds"]
    for path in ("/media/" + "0" * 64, "/media/xyz", "/media/", "/media/" + "g" * 64, "/media/" + "a" * 65):
        r = get(ds, path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text and r.headers["x-content-type-options"] == "nosniff"
