"""The real OneCMS pages of ../shared/real-pages against records written by reading them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import GOLDEN, load_golden, shared_path

from newsarchive import extract

FETCHED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SNIPPETS = json.loads((GOLDEN / "snippets.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_real_page_matches_golden_record(name: str) -> None:
    expected = load_golden(name)
    page = shared_path("real-pages", f"{name}.html").read_bytes()
    record = extract(page, expected["url"], fetched_at=FETCHED)
    assert record == expected
    for key in ("title", "body_text", "published_at", "url", "site"):
        assert expected[key], f"golden {name} has an empty {key}"


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_real_page_snippets(name: str) -> None:
    page = shared_path("real-pages", f"{name}.html").read_bytes()
    body = extract(page, "https://example.invalid/x-1.html")["body_text"]
    for snippet in SNIPPETS[name]["must_contain"]:
        assert snippet in body
    for snippet in SNIPPETS[name]["must_not_contain"]:
        assert snippet not in body, snippet


def test_url_comes_from_canonical_not_from_the_fetched_address() -> None:
    page = shared_path("real-pages", "baohaiphong.vn__457674.html").read_bytes()
    record = extract(page, "http://www.baohaiphong.vn/whatever?utm_source=zalo")
    assert record["url"].startswith("https://baohaiphong.vn/151-mau-")  # meta[name=canonical]
    assert record["site"] == "baohaiphong.vn"
    assert record["article_id"] == "457674"
    # the same page fetched from another host speaks only for that host (provenance)
    other = extract(page, "http://127.0.0.1:8000/whatever-457674.html?utm_source=zalo")
    assert other["url"] == "http://127.0.0.1:8000/whatever-457674.html" and other["site"] == "127.0.0.1"


def test_title_before_meta_charset_is_read_as_utf8() -> None:
    # P1 has Vietnamese in <title> before <meta charset>: lxml alone would read it as latin-1.
    page = shared_path("real-pages", "baonghean.vn__10230827.html").read_bytes()
    import lxml.html

    naive = lxml.html.document_fromstring(page).findtext(".//title")
    assert "Ä" in naive  # the trap is real
    from newsarchive.extract.page import Page

    assert Page.from_html(page, "https://baonghean.vn/").title_tag().startswith("Bệnh viện Đa khoa")
