"""The seed article, built as a current-template OneCMS page (shipped as the demo page), must
yield ../shared/seed/expected.json."""

from __future__ import annotations

import json
from importlib import resources

from conftest import shared_path

from newsarchive import extract

PAGE = resources.files("newsarchive.demo").joinpath("article.html").read_bytes()


def test_seed_page_yields_expected_record() -> None:
    expected = json.loads(shared_path("seed", "expected.json").read_text(encoding="utf-8"))
    # fetched from its own site (another slug): the canonical link gives the record's URL
    record = extract(PAGE, "https://www.baotainguyenmoitruong.vn/dien-bien-384142.html")
    for key, value in expected.items():
        if key == "images":
            got = [{"src_endswith": i["src"].rsplit("/", 1)[-1], "caption": i["caption"]} for i in record["images"]]
            assert got == value
        else:
            assert record[key] == value, key
    assert record["article_id"] == "384142"
    assert record["url"] == (
        "https://baotainguyenmoitruong.vn/dien-bien-so-thong-tin-va-truyen-thong-trien-khai-nhiem-vu-2024-384142.html"
    )


def test_seed_page_traps_are_avoided() -> None:
    record = extract(PAGE, "http://127.0.0.1:8123/x.html")
    body = record["body_text"]
    for junk in ("(0) Bình luận", "Nổi bật", "Đừng bỏ lỡ", "Đọc nhiều", "POWERED BY", "Bài liên quan",
                 "Chuyển đổi số báo chí", "Giấy phép số", "Cỡ chữ", "Hoàng Châu", "(TN&MT)", "Chiều ngày 23/01/2024"):
        assert junk not in body, junk
    # the lazy image's real source, never the grey.gif placeholder; no related-box thumbnail
    srcs = [i["src"] for i in record["images"]]
    assert srcs == ["https://btnmt.1cdn.vn/2024/01/23/a1.jpg", "https://btnmt.1cdn.vn/2024/01/23/a2.jpg"]
