"""The archive: upsert by canonical URL and aliases, revisions, whitespace-only edits, atomicity."""

from __future__ import annotations

import sqlite3
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from newsarchive.record import FIELDS
from newsarchive.store import Archive, RawPage
from newsarchive.store.migrations import MIGRATIONS


def rec(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": "https://baodemo.vn/bai-viet-mot-123456.html",
        "site": "baodemo.vn",
        "article_id": "123456",
        "kind": "article",
        "title": "Bài viết một",
        "sapo": "Mở đầu.",
        "dateline": "(BD)",
        "authors": ["Lan Anh", "Minh Khôi"],
        "published_at": "2026-09-16T05:25:01+07:00",
        "modified_at": None,
        "section": "Xã hội",
        "breadcrumb": ["Xã hội"],
        "tags": ["a", "b"],
        "body_text": "Đoạn một.\n\nĐoạn hai.",
        "images": [{"src": "https://x.1cdn.vn/a.jpg", "caption": "Ảnh A"}, {"src": "https://x.1cdn.vn/b.jpg", "caption": None}],
        "source": None,
        "language": "vi",
        "extractor": "onecms",
        "extractor_version": "1.0.0",
        "fetched_at": "2026-11-26T10:00:00Z",
    }
    base.update(kw)
    return base


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "a.db")


def test_round_trip_is_exactly_the_record(archive: Archive) -> None:
    r = rec()
    res = archive.save(r, RawPage(r["url"], b"<html>raw</html>", 200, {"Content-Type": "text/html"}))
    assert res.status == "new"
    got = archive.record(res.id)
    assert got == r and list(got) == list(FIELDS)
    assert archive.raw_page(res.id).body == b"<html>raw</html>"


def test_same_article_by_alias_tracking_url_and_cms_id(archive: Archive) -> None:
    first = archive.save(rec(), RawPage("https://baodemo.vn/bai-viet-mot-123456.html?utm_source=fb", b"x"))
    # reached later by the tracking URL only
    assert archive.resolve("https://baodemo.vn/bai-viet-mot-123456.html?utm_source=fb&fbclid=1") == first.id
    # the slug edited, same OneCMS id on the same site: the same article
    moved = archive.save(rec(url="https://baodemo.vn/bai-viet-mot-da-sua-123456.html", fetched_at="2026-11-26T11:00:00Z"))
    assert moved.id == first.id and moved.status == "unchanged"
    assert archive.count() == 1
    # a different site with the same id is a different article
    other = archive.save(rec(url="https://khac.vn/bai-123456.html", site="khac.vn"))
    assert other.id != first.id and archive.count() == 2


def test_revisions_whitespace_only_and_first_seen(archive: Archive) -> None:
    v1 = rec()
    a = archive.save(v1)
    ws = rec(body_text="Đoạn một.\n\n\n   Đoạn hai.  ", fetched_at="2026-11-26T11:00:00Z")
    assert archive.save(ws).status == "unchanged"
    split = rec(body_text="Đoạn một. Đoạn hai.", fetched_at="2026-11-26T11:30:00Z")  # paragraph split only
    assert archive.save(split).status == "unchanged"
    v2 = rec(body_text="Đoạn một.\n\nĐoạn hai, đã sửa.", fetched_at="2026-11-26T12:00:00Z")
    assert archive.save(v2).status == "revised"
    assert archive.save(deepcopy(v2) | {"fetched_at": "2026-11-26T13:00:00Z"}).status == "unchanged"
    row = archive.conn.execute(
        "SELECT revision_count, first_seen, last_checked FROM articles WHERE id = ?", (a.id,)).fetchone()
    assert row == (2, "2026-11-26T10:00:00Z", "2026-11-26T13:00:00Z")
    revs = archive.revisions(a.id)
    assert [(r["revision"], r["reason"]) for r in revs] == [(1, "first"), (2, "edit")]
    assert revs[0]["record"]["body_text"] == v1["body_text"]
    assert archive.record(a.id)["body_text"] == v2["body_text"]


def test_changed_authors_order_or_tags_are_an_edit(archive: Archive) -> None:
    a = archive.save(rec())
    assert archive.save(rec(authors=["Minh Khôi", "Lan Anh"])).status == "revised"
    assert archive.save(rec(authors=["Minh Khôi", "Lan Anh"], tags=["b"])).status == "revised"
    assert archive.record(a.id)["authors"] == ["Minh Khôi", "Lan Anh"]


def test_a_failed_write_leaves_nothing_behind(archive: Archive) -> None:
    archive.save(rec())
    bad = rec(url="https://baodemo.vn/bai-hai-222.html", article_id="222",
              images=[{"src": None, "caption": "no src"}])  # NOT NULL violation mid-write
    with pytest.raises(sqlite3.IntegrityError):
        archive.save(bad)
    assert archive.count() == 1
    assert archive.resolve("https://baodemo.vn/bai-hai-222.html") is None
    for table in ("revisions", "url_aliases", "article_authors", "images"):
        orphans = archive.conn.execute(
            f"SELECT count(*) FROM {table} WHERE article NOT IN (SELECT id FROM articles)").fetchone()[0]
        assert orphans == 0, table
    assert not archive.conn.in_transaction


def test_migrations_are_named_recorded_and_run_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    Archive(path).close()
    a = Archive(path)
    names = [r[0] for r in a.conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == [name for name, _ in MIGRATIONS]
    assert a.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_views_join_authors_and_tags(archive: Archive) -> None:
    archive.save(rec())
    row = archive.db.execute("SELECT authors, tags, section, image_count FROM article_view").fetchone()
    assert row == ("Lan Anh; Minh Khôi", "a; b", "Xã hội", 2)


def test_filters_on_published_at(archive: Archive) -> None:
    archive.save(rec())
    archive.save(rec(url="https://baodemo.vn/cu-1.html", article_id="1", published_at="2020-01-01T08:00:00+07:00"))
    got = [r["url"] for _, r in archive.records(since="2026-09-16T00:00:00+07:00")]
    assert got == ["https://baodemo.vn/bai-viet-mot-123456.html"]
    got = [r["url"] for _, r in archive.records(until="2021-01-01T00:00:00+07:00")]
    assert got == ["https://baodemo.vn/cu-1.html"]
