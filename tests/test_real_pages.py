"""The real OneCMS pages of ../shared/real-pages against records written by reading them.

The golden records carry the extractor_version they were produced at, and tests/golden/review.json
the version each was checked at by hand and what each field was checked against. A record that
changes without a version bump fails ("bump the version and review"); a bumped version fails until
the golden is regenerated (tests/regen_golden.py) and its review updated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import GOLDEN, SHARED, load_golden, shared_path

from newsarchive import extract
from newsarchive.extract import choose_parser
from newsarchive.extract.page import Page

FETCHED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SNIPPETS = json.loads((GOLDEN / "snippets.json").read_text(encoding="utf-8"))
REVIEW = json.loads((GOLDEN / "review.json").read_text(encoding="utf-8"))
NAMES = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in ("snippets", "review"))


def test_every_real_page_has_a_golden_record_snippets_and_a_review() -> None:
    pages = sorted(p.stem for p in shared_path("real-pages").glob("*.html"))
    assert len(pages) >= 3
    assert pages == NAMES, "every real page needs tests/golden/{name}.json (tests/regen_golden.py), and no other"
    assert sorted(SNIPPETS) == pages
    assert sorted(k for k in REVIEW if not k.startswith("_")) == pages
    for name in pages:
        assert SNIPPETS[name]["must_contain"] and SNIPPETS[name]["must_not_contain"], name


def diff(got: dict, want: dict) -> dict:
    return {k: (want.get(k), got.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)}


def check_golden(record: dict, golden: dict, current_version: str, reviewed: str) -> None:
    """The version rules (see the module docstring), on one page's record."""
    fields = {k: v for k, v in record.items() if k != "extractor_version"}
    expected = {k: v for k, v in golden.items() if k != "extractor_version"}
    if golden["extractor_version"] == current_version and fields != expected:
        pytest.fail(f"record changed without a version bump: bump the version and review: {diff(fields, expected)}")
    if golden["extractor_version"] != current_version:
        pytest.fail(f"golden checked at extractor_version {golden['extractor_version']}, the parser is now "
                    f"{current_version}: regenerate it (python tests/regen_golden.py) and review the diff")
    if reviewed != golden["extractor_version"]:
        pytest.fail(f"golden regenerated at {golden['extractor_version']} but reviewed at {reviewed}: read the "
                    "diff against the page, then update tests/golden/review.json")


@pytest.mark.parametrize("name", NAMES)
def test_real_page_matches_golden_record(name: str) -> None:
    expected = load_golden(name)
    page = shared_path("real-pages", f"{name}.html").read_bytes()
    record = extract(page, expected["url"], fetched_at=FETCHED, strict=True)
    parsed = Page.from_html(page, expected["url"])
    assert parsed is not None
    check_golden(record, expected, choose_parser(parsed, expected["url"]).extractor_version,
                 REVIEW[name]["extractor_version"])
    assert record == expected
    for key in ("title", "body_text", "published_at", "url", "site", "language", "kind", "extractor"):
        assert expected[key], f"golden {name} has an empty {key}"
    assert set(REVIEW[name]["checked"]) >= {"title", "authors", "published_at", "body_text", "images", "source"}


@pytest.mark.parametrize(
    ("change", "bump", "reviewed", "message"),
    [
        ({"title": "Tiêu đề khác"}, False, "1.2.0", "bump the version and review"),
        ({}, True, "1.2.0", "regenerate it"),
        ({"title": "Tiêu đề khác"}, True, "1.2.0", "regenerate it"),
        ({}, False, "1.1.0", "reviewed at 1.1.0"),
    ],
)
def test_the_version_rules_fail_as_they_say(change: dict, bump: bool, reviewed: str, message: str) -> None:
    golden = {"title": "Tiêu đề", "extractor_version": "1.2.0"}
    record = {**golden, **change}
    with pytest.raises(pytest.fail.Exception, match=message):
        check_golden(record, golden, "1.3.0" if bump else "1.2.0", reviewed)
    check_golden(dict(golden), golden, "1.2.0", "1.2.0")  # no change, same version, reviewed: passes


def test_ci_requires_the_reference_material(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    import conftest

    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="absent in CI"):
        conftest.shared_path("real-pages")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        conftest.shared_path("real-pages")
    assert SHARED.name == "shared"


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
