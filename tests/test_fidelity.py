"""Archive fidelity: re-extraction of stored pages, WARC export and import."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from test_crawl import FAST
from test_reliability import SEED, SEED_URL

from newsarchive import extract
from newsarchive.demo.site import DemoSite, serve
from newsarchive.store import Archive, RawPage


def records(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    assert out.returncode == 0, out.stderr
    return {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}


def older_extractor_archive(db: Path, n: int = 12) -> DemoSite:
    """An archive made by an extractor that did not read tags yet (version 0.9.0), with the real
    pages stored: the extractor has since gained the field."""
    site = DemoSite(n)
    with Archive(db) as archive:
        for aid in site.order:
            page = site.article_page(aid)
            url = site.articles[aid].url
            record = extract(page, url, headers={"Content-Type": "text/html; charset=utf-8"})
            archive.save(record | {"tags": [], "extractor_version": "0.9.0"},
                         RawPage(url, page, 200, {"Content-Type": "text/html; charset=utf-8"}, record["fetched_at"]))
    return site


def test_reparse_turns_an_extractor_change_into_reextraction_versions(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    site = older_extractor_archive(db)
    with_tags = sum(1 for aid in site.order if site.articles[aid].tags)
    assert with_tags > 0
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    dry = run_cli("reparse", "--dry-run", "--db", str(db))
    assert dry.returncode == 0, dry.stderr
    assert f"{with_tags} articles would change" in dry.stdout and "pages/s" in dry.stdout
    assert f"  tags: {with_tags} article(s)" in dry.stdout  # the field, and nothing else
    assert dry.stdout.count("  body_text:") == 0 and "was: []" in dry.stdout
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # a dry run writes nothing
    times = sqlite3.connect(db).execute("SELECT id, first_seen, last_checked FROM articles").fetchall()

    out = run_cli("reparse", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert f"{with_tags} articles re-extracted" in out.stdout
    for aid in site.order:
        shown = json.loads(run_cli("show", site.articles[aid].url, "--revisions", "--json", "--db", str(db)).stdout)
        reasons = [r["reason"] for r in shown["revisions"]]
        if site.articles[aid].tags:
            assert reasons == ["first", "reextract"] and shown["record"]["tags"] == site.articles[aid].tags
            assert shown["revisions"][0]["record"]["tags"] == []  # the old version is kept as it was
            assert shown["record"]["extractor_version"] != "0.9.0"
            break
    # not a publisher's edit: first seen and last checked do not move
    assert sqlite3.connect(db).execute("SELECT id, first_seen, last_checked FROM articles").fetchall() == times
    again = run_cli("reparse", "--db", str(db))
    assert "0 articles re-extracted" in again.stdout  # nothing left to change
    # tags are not indexed text: the index was left alone, and still finds every article once
    hits = json.loads(run_cli("search", "tuan", "--json", "--limit", "100", "--db", str(db)).stdout)
    assert len(hits) == len({h["id"] for h in hits}) == len(site.order)


def test_a_reextracted_body_is_reindexed(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    site = DemoSite(3)
    with Archive(db) as archive:
        for aid in site.order:
            page, url = site.article_page(aid), site.articles[aid].url
            record = extract(page, url)
            # an older extractor that took the footer for the body
            archive.save(record | {"body_text": "Bản quyền thuộc về Báo Demo. Ghi rõ nguồn khi phát hành lại.",
                                   "extractor_version": "0.9.0"}, RawPage(url, page, 200, {}, record["fetched_at"]))
    assert len(json.loads(run_cli("search", "ban quyen", "--json", "--db", str(db)).stdout)) == 3
    assert run_cli("reparse", "--db", str(db)).returncode == 0
    assert json.loads(run_cli("search", "ban quyen", "--json", "--db", str(db)).stdout) == []
    body_word = site.articles[site.order[0]].paragraphs[0].split()[0]
    assert json.loads(run_cli("search", body_word, "--json", "--db", str(db)).stdout)


def test_reparse_filters_and_streams_in_batches(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    older_extractor_archive(db, n=30)
    from newsarchive.reparse import reparse

    with Archive(db) as archive:
        seen = []
        report = reparse(archive, dry_run=True, batch=7, progress=lambda r: seen.append(r.pages))
        assert report.pages == 30 and seen == [7, 14, 21, 28, 30]  # batch after batch, never all at once
        one_site = reparse(archive, dry_run=True, site="nowhere.vn")
        assert one_site.pages == 0


def crawl_with_an_edit(tmp_path: Path) -> tuple[DemoSite, Path]:
    site = DemoSite(12)
    db = tmp_path / "a.db"
    with serve(site):
        assert run_cli("crawl", site.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST).returncode == 0
        site.edit(site.order[0], paragraphs=["Bản sửa: đoạn duy nhất của bài."])
        assert run_cli("crawl", site.base, "--db", str(db), "-q", "--recheck", *FAST).returncode == 0
    return site, db


def test_warc_round_trip_gives_the_same_records(tmp_path: Path) -> None:
    site, db = crawl_with_an_edit(tmp_path)
    warc = tmp_path / "out.warc.gz"
    out = run_cli("export", "--format", "warc", "-o", str(warc), "--db", str(db))
    assert out.returncode == 0, out.stderr
    from warcio.archiveiterator import ArchiveIterator

    with warc.open("rb") as f:
        recs = [(r.rec_type, r.rec_headers.get_header("WARC-Type"), r.rec_headers.protocol) for r in ArchiveIterator(f)]
    assert recs[0][0] == "warcinfo" and {p for _, _, p in recs} == {"WARC/1.1"}
    assert sum(1 for t, _, _ in recs if t == "response") == 13  # 12 articles, one of them in two versions
    fresh = tmp_path / "b.db"
    imported = run_cli("import-warc", str(warc), "--db", str(fresh))
    assert imported.returncode == 0, imported.stderr
    assert "12 new, 1 revised" in imported.stderr
    assert records(fresh) == records(db)
    shown = json.loads(run_cli("show", site.articles[site.order[0]].url, "--revisions", "--json", "--db",
                               str(fresh)).stdout)
    assert [r["reason"] for r in shown["revisions"]] == ["first", "edit"]


def _chunked(body: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000]) for i in range(0, len(body), 4000)) \
        + b"0\r\n\r\n"


def test_a_warc_written_by_another_tool_imports(tmp_path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = tmp_path / "other.warc.gz"
    with warc.open("wb") as f:
        w = WARCWriter(f, gzip=True)  # warcio's defaults (WARC/1.0), as another crawler writes them
        w.write_record(w.create_warcinfo_record("other.warc.gz", {"software": "another-crawler/1.0"}))
        req = b"GET / HTTP/1.1\r\n\r\n"
        w.write_record(w.create_warc_record(SEED_URL, "request", payload=io.BytesIO(req), length=len(req),
                                            warc_content_type="application/http; msgtype=request"))
        raw = _chunked(gzip.compress(SEED))  # stored as sent: gzip, then chunked
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
                                           ("Transfer-Encoding", "chunked")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(SEED_URL, "response", payload=io.BytesIO(raw), length=len(raw),
                                            http_headers=http, warc_headers_dict={"WARC-Date": "2026-11-20T03:04:05Z"}))
        for url, status, ctype, body in (("https://baotainguyenmoitruong.vn/", "200 OK", "text/html", b"<html><body>"
                                          b"<p>Trang chu</p></body></html>"),
                                         ("https://baotainguyenmoitruong.vn/logo.png", "200 OK", "image/png", b"\x89PNG"),
                                         ("https://baotainguyenmoitruong.vn/gone-1.html", "404 Not Found", "text/html",
                                          b"<html>gone</html>")):
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                                http_headers=StatusAndHeaders(status, [("Content-Type", ctype)],
                                                                              protocol="HTTP/1.1")))
    db = tmp_path / "a.db"
    out = run_cli("import-warc", str(warc), "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "2 HTML pages read: 1 new" in out.stderr and "1 not articles" in out.stderr
    got = records(db)
    assert list(got) == [SEED_URL]
    want = extract(SEED, SEED_URL)
    assert got[SEED_URL] | {"fetched_at": None} == want | {"fetched_at": None}
    assert got[SEED_URL]["fetched_at"] == "2026-11-20T03:04:05Z"  # the WARC's date, not the import's


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_warc_keeps_what_was_read(tmp_path: Path, cut: float) -> None:
    _, db = crawl_with_an_edit(tmp_path)
    whole = tmp_path / "whole.warc.gz"
    assert run_cli("export", "--format", "warc", "-o", str(whole), "--db", str(db)).returncode == 0
    data = whole.read_bytes()
    damaged = tmp_path / "cut.warc.gz"
    damaged.write_bytes(data[: int(len(data) * cut)])
    fresh = tmp_path / "b.db"
    out = run_cli("import-warc", str(damaged), "--db", str(fresh))
    assert out.returncode == 1 and "damaged" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr
    kept = sqlite3.connect(fresh).execute("SELECT count(*) FROM articles").fetchone()[0]
    assert 0 < kept < 12
    assert sqlite3.connect(fresh).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_import_warc_errors_are_one_line(tmp_path: Path) -> None:
    missing = run_cli("import-warc", str(tmp_path / "nope.warc.gz"), "--db", str(tmp_path / "a.db"))
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot read")
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"this is not a warc file at all\n" * 10)
    out = run_cli("import-warc", str(junk), "--db", str(tmp_path / "a.db"))
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
