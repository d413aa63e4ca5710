"""Media archived with the text: the demo site with its images, og:image, audio and posters on a
second loopback host (127.0.0.2), crawled by the installed command in a subprocess."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.demo.site import DemoMediaHost, DemoSite, serve, serve_media
from newsarchive.media import Rejected, measure, media_path

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
# the media host is loopback, which the guard refuses for any host but the crawled site's
LOCAL_MEDIA = ["-s", "NEWSARCHIVE_ALLOW_PRIVATE=True"]


@pytest.fixture
def demo() -> Iterator[tuple[DemoSite, DemoMediaHost]]:
    host = DemoMediaHost()
    with serve_media(host) as media_base:
        site = DemoSite(12, media_base=media_base)
        with serve(site):
            yield site, host


def crawl(site: DemoSite, db: Path, *args: str, private: bool = True):  # type: ignore[no-untyped-def]
    return run_cli("crawl", site.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST,
                   *(LOCAL_MEDIA if private else []), *args)


def media_db(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(media_path(db))


def records(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    assert out.returncode == 0, out.stderr
    return {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}


def png_size(body: bytes) -> tuple[int, int]:
    return struct.unpack(">II", body[16:24])


def test_every_image_is_archived_once_measured_from_its_bytes(demo: tuple[DemoSite, DemoMediaHost],
                                                             tmp_path: Path) -> None:
    site, host = demo
    site.edit(site.order[3], variant="video")  # a video page: its poster is archived, its file is not
    db = tmp_path / "a.db"
    out = crawl(site, db)
    assert out.returncode == 0, out.stderr
    recs = records(db)
    images = [i for r in recs.values() for i in r["images"]]
    assert images and all("sha256" in i for i in images), [i for i in images if "sha256" not in i]
    for image in images:  # what is stored is what was served, and its size comes from the bytes
        served = host.image(image["src"][len(host.base) - 1:])
        assert image["sha256"] == hashlib.sha256(served).hexdigest()
        assert (image["width"], image["height"]) == png_size(served)
        assert image["bytes"] == len(served) and image["mime"] == "image/png"
    with media_db(db) as m:
        urls = dict(m.execute("SELECT url, sha256 FROM media_urls"))
        files = m.execute("SELECT count(*) FROM media").fetchone()[0]
    # og:image thumbnails (another URL, the lead image's bytes) and shared photos: stored once
    thumbs = [u for u in urls if "/thumbs/1200x630/" in u]
    leads = [t for t in thumbs if t.replace("thumbs/1200x630/", "") in urls]  # (a video page has no images)
    assert leads and all(urls[t] == urls[t.replace("thumbs/1200x630/", "")] for t in leads)
    assert files < len(urls) and files == len(set(urls.values()))
    assert any(u.endswith(".mp3") for u in urls)  # the podcast's audio
    assert any(u.endswith("-poster.png") for u in urls)  # the video's poster
    assert not any(u.endswith(".mp4") for u in urls)  # video files only when asked for
    fetched = Counter(host.fetched())
    assert fetched["/robots.txt"] == 1 and max(fetched.values()) == 1  # the media host's robots.txt; once each
    show = run_cli("show", next(iter(recs)), "--db", str(db))
    assert "caption: " in show.stdout and "held: " in show.stdout and "image/png" in show.stdout


def test_recrawl_fetches_no_held_media_and_a_revision_only_its_new_image(demo: tuple[DemoSite, DemoMediaHost],
                                                                          tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    assert crawl(site, db).returncode == 0
    aid = site.order[0]
    new_src = f"{host.base}2026/moi/anh-moi.png"
    site.edit(aid, images=[*site.articles[aid].images, (new_src, "Ảnh mới")])
    host.requests.clear()
    out = crawl(site, db, "--recheck")
    assert out.returncode == 0, out.stderr
    assert "1 revised" in out.stderr or json.loads(run_cli("runs", "--db", str(db), "--json").stdout)[0][
        "articles_revised"] == 1
    assert [p for p in host.fetched() if p != "/robots.txt"] == ["/2026/moi/anh-moi.png"]


def test_what_is_not_the_declared_kind_is_not_stored_and_a_failure_is_retried(
        demo: tuple[DemoSite, DemoMediaHost], tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    paths = [i[0][len(host.base) - 1:] for a in site.order[:3] for i in site.articles[a].images[:1]]
    error_page, polyglot, broken = paths
    host.faults[error_page] = (200, {"Content-Type": "image/jpeg"}, b"<!DOCTYPE html><html><body>404</body></html>")
    host.faults[polyglot] = (200, {"Content-Type": "image/gif"},
                             b"GIF89a\x10\x00\x10\x00\x00\x00\x00;<script>alert(1)</script>")
    host.faults[broken] = (500, {"Content-Type": "text/plain"}, b"oops")
    out = crawl(site, db)
    # a media failure never fails the article: every article archived, the run is not partial
    assert out.returncode == 0, out.stderr
    assert len(records(db)) == len(site.order)
    with media_db(db) as m:
        failed = dict(m.execute("SELECT url, error FROM media_failures"))
        stored = {u for (u,) in m.execute("SELECT url FROM media_urls")}
    assert {host.base + p.lstrip("/") for p in paths} == set(failed)
    assert not stored & set(failed)
    assert "served as" in failed[host.base + error_page.lstrip("/")] or "markup" in failed[
        host.base + error_page.lstrip("/")]
    assert "markup" in failed[host.base + polyglot.lstrip("/")]
    assert "HTTP 500" in failed[host.base + broken.lstrip("/")]
    run = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)[0]
    assert run["outcome"] == "success" and any(e.startswith("media: 3 file(s) not archived") for e in run["errors"])
    shown = run_cli("show", site.url(site.order[0]), "--db", str(db)).stdout
    assert "not held: " in shown
    host.faults.clear()  # the CDN mends: the next run (incremental, no new article) takes them
    host.requests.clear()
    out = crawl(site, db)
    assert out.returncode == 0, out.stderr
    assert sorted(p for p in host.fetched() if p != "/robots.txt") == sorted(paths)
    with media_db(db) as m:
        assert m.execute("SELECT count(*) FROM media_failures").fetchone()[0] == 0
    assert all("sha256" in i for r in records(db).values() for i in r["images"])


def test_no_media_fetches_nothing_from_the_media_host(demo: tuple[DemoSite, DemoMediaHost], tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    out = crawl(site, db, "--no-media")
    assert out.returncode == 0, out.stderr
    assert host.fetched() == []
    assert len(records(db)) == len(site.order)


def test_the_address_guard_applies_to_media_hosts(demo: tuple[DemoSite, DemoMediaHost], tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    out = crawl(site, db, private=False)  # the site may be on loopback; its media host may not
    assert out.returncode == 0, out.stderr
    assert host.fetched() == []
    with media_db(db) as m:
        errors = [e for (e,) in m.execute("SELECT error FROM media_failures")]
        assert m.execute("SELECT count(*) FROM media").fetchone()[0] == 0
    assert errors and all("private" in e or "robots.txt" in e for e in errors), errors[:3]


def test_the_media_hosts_robots_txt_and_size_caps_are_obeyed(demo: tuple[DemoSite, DemoMediaHost],
                                                             tmp_path: Path) -> None:
    site, host = demo
    host.robots = "User-agent: *\nDisallow: /thumbs/\n"
    db = tmp_path / "a.db"
    out = crawl(site, db, "-s", "NEWSARCHIVE_MEDIA_MAXSIZE_IMAGE=20000")
    assert out.returncode == 0, out.stderr
    assert not [p for p in host.fetched() if p.startswith("/thumbs/")]
    with media_db(db) as m:
        failed = dict(m.execute("SELECT url, error FROM media_failures"))
        kinds = {k for (k,) in m.execute("SELECT kind FROM media")}
    assert any("/thumbs/" in u and "robots.txt" in e for u, e in failed.items())
    assert any("size limit" in e for e in failed.values())  # the demo's images weigh more than 20,000 bytes
    assert kinds == {"audio"}  # audio has its own (larger) cap


def test_warc_export_carries_the_media_and_import_reads_them(demo: tuple[DemoSite, DemoMediaHost],
                                                             tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    assert crawl(site, db).returncode == 0
    warc = tmp_path / "a.warc.gz"
    out = run_cli("export", "--db", str(db), "--format", "warc", "-o", str(warc))
    assert out.returncode == 0, out.stderr
    from warcio.archiveiterator import ArchiveIterator

    with warc.open("rb") as f:
        types = Counter(r.http_headers.get_header("Content-Type").split(";")[0] for r in ArchiveIterator(f)
                        if r.rec_type == "response")
    assert types["image/png"] and types["audio/mpeg"]
    copy = tmp_path / "b.db"
    out = run_cli("import-warc", str(warc), "--db", str(copy))
    assert out.returncode == 0, out.stderr
    before, after = records(db), records(copy)
    assert before == after  # the same records, each image held, with the same hash
    sha = next(i["sha256"] for r in after.values() for i in r["images"])
    target = tmp_path / "one.png"
    out = run_cli("media", sha, "--db", str(copy), "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == sha
    assert run_cli("media", "0" * 64, "--db", str(copy)).returncode == 1
    assert run_cli("media", "not-a-hash", "--db", str(copy)).returncode == 2


def test_stats_show_media_coverage_and_bytes(demo: tuple[DemoSite, DemoMediaHost], tmp_path: Path) -> None:
    site, host = demo
    db = tmp_path / "a.db"
    host.faults[site.articles[site.order[0]].images[0][0][len(host.base) - 1:]] = (404, {}, b"")
    assert crawl(site, db).returncode == 0
    data = json.loads(run_cli("stats", "--db", str(db), "--json").stdout)["media"]
    assert data["files"] > 0 and data["bytes"] > 0 and data["failed_urls"] == 1
    (row,) = data["sites"]
    assert row["images_held"] == row["images"] - 1 and 0 < row["images_held_share"] < 1
    text = run_cli("stats", "--db", str(db)).stdout
    assert "media held:" in text and "media coverage per site" in text


@pytest.mark.parametrize(("body", "ctype", "why"), [
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "text/html", "served as"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "image/jpeg", "markup"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "", "markup"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00<script>alert(1)</script>", "image/gif", "markup"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', "image/svg+xml", "svg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "image/png", "png"),
    (b"ID3\x04\x00" + b"\x00" * 40, "audio/mpeg", "served as"),
])
def test_measure_refuses_what_is_not_the_declared_kind(body: bytes, ctype: str, why: str) -> None:
    with pytest.raises(Rejected) as exc:
        measure(body, "image", ctype)
    assert why in str(exc.value).lower()


def test_measure_reads_sizes_of_every_format() -> None:
    jpeg = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            b"\xff\xc0\x00\x11\x08\x01\x2c\x02\x58\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9")
    assert measure(jpeg, "image", "image/jpeg").__dict__ == {"kind": "image", "mime": "image/jpeg", "width": 600,
                                                             "height": 300}
    gif = b"GIF89a\x20\x03\x58\x02" + b"\x00" * 20
    assert (measure(gif, "image").width, measure(gif, "image").height) == (800, 600)
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x0a\x00\x00\x00" + b"\x00" * 4 + b"\x7f\x02\x00\xdf\x01\x00"
    assert (measure(webp, "image").width, measure(webp, "image").height) == (640, 480)
    assert measure(b"ID3\x04\x00" + b"\x00" * 40, "audio", "audio/mpeg").mime == "audio/mpeg"
    with pytest.raises(Rejected):
        measure(b"plain bytes that are nothing", "audio", "audio/mpeg")
