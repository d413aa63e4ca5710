"""Every OneCMS variant and trap of the anatomy reference, on synthetic pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from newsarchive import NotAnArticle, extract
from newsarchive.demo.templates import DemoArticle, render

VN = timezone(timedelta(hours=7))
BASE = "https://demo.1cdn.vn.example/"  # host irrelevant; "1cdn.vn" assets come from the head


def article(variant: str = "current", **kw: object) -> DemoArticle:
    fields: dict[str, object] = dict(
        base="https://baodemo.vn/",
        id=3318952,
        slug="ha-noi-mo-them-tuyen-xe-buyt-dien",
        title="Hà Nội mở thêm tuyến xe buýt điện nối sân bay Nội Bài",
        sapo="Từ ngày 1/12, tuyến xe buýt điện số 86 chạy thêm 20 chuyến mỗi ngày.",
        dateline="(HNM)",
        byline="Tin: Thu Phương - Ảnh: Đức Anh",
        published=datetime(2026, 9, 16, 5, 25, 1, tzinfo=VN),
        section=(("Đô thị", "/do-thi"), ("Giao thông", "/do-thi/giao-thong")),
        paragraphs=[
            "Sở Xây dựng Hà Nội cho biết tuyến xe buýt điện số 86 sẽ tăng tần suất.",
            "Theo kế hoạch, mỗi chuyến cách nhau 15 phút vào giờ cao điểm.",
            "Hành khách có thể thanh toán bằng thẻ ngân hàng không tiếp xúc.",
            "Đơn vị vận hành cam kết bảo đảm an toàn./.",
        ],
        tags=["xe buýt điện", "Nội Bài"],
        images=[
            ("https://bdemo.1cdn.vn/2026/09/16/xe-buyt-1.jpg", "Xe buýt điện tại điểm đầu. Ảnh: Đức Anh"),
            ("https://bdemo.1cdn.vn/2026/09/16/xe-buyt-2.jpg", "Hành khách lên xe"),
        ],
        variant=variant,
    )
    fields.update(kw)
    return DemoArticle(**fields)  # type: ignore[arg-type]


BODY = "\n\n".join(article().paragraphs)


def test_current_template_every_field() -> None:
    a = article()
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "article"
    assert r["title"] == a.title
    assert (r["dateline"], r["sapo"]) == ("(HNM)", a.sapo)
    assert r["authors"] == ["Thu Phương", "Đức Anh"]
    assert r["published_at"] == "2026-09-16T05:25:01+07:00"  # JSON-LD first: it has the seconds
    assert r["modified_at"] is None  # equal to published: unknown
    assert r["section"] == "Giao thông"
    assert r["breadcrumb"] == ["Đô thị", "Giao thông"]
    assert r["tags"] == ["xe buýt điện", "Nội Bài"]
    assert r["body_text"] == BODY
    assert r["images"] == [
        {"src": "https://bdemo.1cdn.vn/2026/09/16/xe-buyt-1.jpg", "caption": "Xe buýt điện tại điểm đầu. Ảnh: Đức Anh"},
        {"src": "https://bdemo.1cdn.vn/2026/09/16/xe-buyt-2.jpg", "caption": "Hành khách lên xe"},
    ]
    assert r["url"] == "https://baodemo.vn/ha-noi-mo-them-tuyen-xe-buyt-dien-3318952.html"
    assert (r["site"], r["article_id"], r["extractor"]) == ("baodemo.vn", "3318952", "onecms")


def test_without_jsonld_the_visible_time_is_used_and_seconds_are_zero() -> None:
    a = article(jsonld=False)
    r = extract(render(a).encode(), a.url)
    assert r["published_at"] == "2026-09-16T05:25:00+07:00"
    assert r["breadcrumb"] == ["Đô thị", "Giao thông"]  # the visible breadcrumb


def test_us_format_meta_is_month_first() -> None:
    # "9/11/2021 3:29:47 PM" is 11 September; only the meta and the fake-Z WebControl remain.
    a = article(jsonld=False, published=datetime(2021, 9, 11, 15, 29, 47, tzinfo=VN))
    page = render(a).replace("<span class='sc-longform-header-date block-sc-publish-time'>11/09/2021 15:29</span>", "")
    r = extract(page.encode(), a.url)
    assert r["published_at"] == "2021-09-11T15:29:47+07:00"


def test_fake_z_webcontrol_time_is_local_time() -> None:
    a = article(jsonld=False, published=datetime(2021, 9, 11, 15, 29, 47, tzinfo=VN))
    page = render(a).replace("<span class='sc-longform-header-date block-sc-publish-time'>11/09/2021 15:29</span>", "")
    page = page.replace('content="9/11/2021 3:29:47 PM"', 'content=""')
    r = extract(page.encode(), a.url)
    assert r["published_at"] == "2021-09-11T15:29:47+07:00"  # not 22:29 (Z read as UTC)


def test_header_today_date_is_never_the_article_time() -> None:
    a = article(jsonld=False)
    page = render(a)
    page = page.replace("<span class='sc-longform-header-date block-sc-publish-time'>16/09/2026 05:25</span>", "")
    page = page.replace('content="9/16/2026 5:25:01 AM"', 'content=""').replace("2026-09-16T05:25:01Z", "")
    assert "Thứ Năm, 26/11/2026" in page
    r = extract(page.encode(), a.url)
    assert r["published_at"] is None


def test_older_c_detail_head_template() -> None:
    a = article("older", jsonld=False)
    r = extract(render(a).encode(), a.url)
    assert r["title"] == a.title
    assert r["published_at"] == "2026-09-16T05:25:01+07:00"  # the US meta (with seconds) before the old header
    page = render(a).replace('content="9/16/2026 5:25:01 AM"', 'content=""')
    assert extract(page.encode(), a.url)["published_at"] == "2026-09-16T05:25:00+07:00"  # "05:25 16/09/2026 |"
    assert r["authors"] == ["Thu Phương", "Đức Anh"]
    assert (r["dateline"], r["sapo"]) == ("(HNM)", a.sapo)
    assert r["body_text"] == BODY
    assert a.sapo not in r["body_text"]


def test_longform_lead_image_first_and_figcaptions() -> None:
    a = article("longform")
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "longform"
    assert [i["src"] for i in r["images"]] == [a.images[0][0], a.images[1][0]]
    assert r["images"][0]["caption"] is None
    assert r["images"][1]["caption"] == "Hành khách lên xe"
    assert r["body_text"] == BODY


def test_video_page() -> None:
    a = article("video", byline="Hoàng Châu - Minh Đức", jsonld=False,
                published=datetime(2024, 1, 23, 17, 55, tzinfo=VN))
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "video"
    assert r["title"] == a.title
    assert r["authors"] == ["Hoàng Châu", "Minh Đức"]
    assert r["published_at"] == "2024-01-23T17:55:00+07:00"
    assert r["sapo"] == a.sapo
    assert r["images"] == []  # a video's poster is not an article image


def test_podcast_page() -> None:
    a = article("podcast", byline="Thu Hà", jsonld=False)
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "podcast"
    assert r["title"] == a.title
    assert r["authors"] == ["Thu Hà"]
    assert r["published_at"] == "2026-09-16T05:25:01+07:00"  # the US meta, with its seconds


def test_syndicated_source() -> None:
    a = article("syndicated", source="suckhoedoisong.vn")
    r = extract(render(a).encode(), a.url)
    assert r["source"] == "suckhoedoisong.vn"
    assert "Nguồn" not in r["body_text"]


def test_photo_story_kind_from_section() -> None:
    a = article(section=(("Sự kiện qua ảnh", "/su-kien-qua-anh"),))
    r = extract(render(a).encode(), a.url)
    assert r["kind"] == "photo"


@pytest.mark.parametrize(
    ("byline", "authors"),
    [
        ("MAI QUẾ", ["MAI QUẾ"]),
        ("Bài và ảnh: Lê Văn A", ["Lê Văn A"]),
        ("Nguyễn Hà / TTXVN", ["Nguyễn Hà"]),
        ("Lan Anh, Minh Khôi", ["Lan Anh", "Minh Khôi"]),
        ("Tin và ảnh: Hải Yến; Video: Quang Huy", ["Hải Yến", "Quang Huy"]),
    ],
)
def test_byline_shapes(byline: str, authors: list[str]) -> None:
    a = article(byline=byline)
    assert extract(render(a).encode(), a.url)["authors"] == authors


def test_meta_author_holding_the_site_name_is_not_an_author() -> None:
    a = article(byline="", jsonld=False)
    assert extract(render(a).encode(), a.url)["authors"] == []


@pytest.mark.parametrize(
    "dateline", ["(Baonghean.vn)", "(HPĐT)", "ĐNO", "(TN&MT)"]
)
def test_dateline_shapes(dateline: str) -> None:
    a = article(dateline=dateline)
    r = extract(render(a).encode(), a.url)
    assert (r["dateline"], r["sapo"]) == (dateline, a.sapo)


def test_sapo_without_dateline_is_kept_whole() -> None:
    a = article(dateline=None, sapo="Chiều 5-5, ngành Y tế - cơ quan chức năng cho biết kết quả.")
    r = extract(render(a).encode(), a.url)
    assert (r["dateline"], r["sapo"]) == (None, a.sapo)


def test_listing_page_is_not_an_article() -> None:
    page = """<html><head><link href="https://demo.1cdn.vn/a.css" rel="stylesheet"></head><body>
    <ul class="onecms__loading"><li pid="1"><div class="b-grid"><h3 class="b-grid__title"><a href="/a-1.html">A</a></h3>
    <span class="b-grid__time">14/09/2026 11:20</span></div></li></ul>
    <div class="c-more onecms__loadmore"><a>Xem thêm</a></div><script>WebControl.channelId = '1';</script></body></html>"""
    with pytest.raises(NotAnArticle):
        extract(page.encode(), "https://baodemo.vn/do-thi")


def test_preview_page_is_not_an_article() -> None:
    a = article()
    page = render(a).replace("<body>", '<body class="preview-mode">')
    with pytest.raises(NotAnArticle):
        extract(page.encode(), a.url)


def test_footer_b_maincontent_is_never_the_body() -> None:
    a = article()
    page = render(a)
    # remove the real body container: the footer's b-maincontent must not stand in for it
    start = page.index("<div class=\"c-news-detail\">")
    end = page.index("</article>") + len("</article>")
    r_page = page[:start] + page[end:]
    with pytest.raises(NotAnArticle):
        extract(r_page.encode(), a.url)
    assert "Giấy phép" not in extract(page.encode(), a.url)["body_text"]
