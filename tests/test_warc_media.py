"""A WARC export carries every held media file of its articles as the response it was served in,
import-warc restores them, and the WARC replays in pywb with its images (when pywb is installed:
``pip install pywb`` in a venv of its own, then ``NEWSARCHIVE_PYWB_BIN=/that/venv/bin``)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.demo.site import DemoMediaHost, DemoSite, demo_png, serve, serve_media
from newsarchive.media import MediaStore, measure, media_path, references, write_refs
from newsarchive.store import Archive, RawPage
from newsarchive.warc import export_warc, import_warc, payload_digest

CRAWL = ["-q", "--since", "2020-01-01", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
         "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8", "-s", "NEWSARCHIVE_ALLOW_PRIVATE=True"]


@dataclass
class Held:
    url: str
    sha256: str
    mime: str
    body: bytes
    fetched_at: str


@dataclass
class Exported:
    db: Path
    warc: Path
    pages: dict[int, RawPage]  # each article's latest stored page
    refs: dict[int, list[str]]  # the media URLs each article references
    held: dict[str, Held]  # the held file of each referenced URL


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    tmp = tmp_path_factory.mktemp("warc_media")
    host = DemoMediaHost()
    with serve_media(host) as media_base:
        site = DemoSite(12, media_base=media_base)
        site.edit(site.order[3], variant="video")  # a poster
        with serve(site):
            db = tmp / "a.db"
            out = run_cli("crawl", site.base, "--db", str(db), *CRAWL)
            assert out.returncode == 0, out.stderr
    warc = tmp / "x.warc.gz"
    out = run_cli("export", "--db", str(db), "--format", "warc", "-o", str(warc))
    assert out.returncode == 0, out.stderr
    with Archive(db, readonly=True) as archive:
        ids = [a for (a,) in archive.conn.execute("SELECT id FROM articles ORDER BY id")]
        pages = {a: list(archive.pages(a))[-1] for a in ids}
        refs: dict[int, list[str]] = {a: [] for a in ids}
        for a, url in archive.conn.execute("SELECT article, url FROM media_refs ORDER BY article, position"):
            refs[a].append(url)
    with sqlite3.connect(media_path(db)) as m:
        held = {u: Held(u, sha, mime, bytes(body), when) for u, sha, mime, body, when in m.execute(
            "SELECT u.url, m.sha256, m.mime, m.body, u.fetched_at FROM media_urls u JOIN media m USING (sha256)")}
    assert held and all(refs.values())  # every article references media
    return Exported(db, warc, pages, refs, held)


def sha1_b32(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def test_every_referenced_file_is_in_the_warc_once_with_the_stored_bytes(exported: Exported) -> None:
    """Each file is one response record (its first URL in the file); the same bytes at another URL
    are a revisit record of it (WARC 1.1 identical-payload-digest)."""
    records: dict[str, list[dict]] = {}
    order: list[str] = []
    with exported.warc.open("rb") as f:
        for rec in ArchiveIterator(f, check_digests=True):
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            order.append(uri)
            records.setdefault(uri, []).append({
                "type": rec.rec_type, "status": rec.http_headers.statusline if rec.http_headers else None,
                "headers": dict(rec.http_headers.headers) if rec.http_headers else {},
                "body": rec.content_stream().read(), "warc": dict(rec.rec_headers.headers),
                "digest_problems": list(rec.digest_checker.problems)})
    referenced = {u for urls in exported.refs.values() for u in urls}
    assert referenced <= set(exported.held)  # the crawl held everything (else this test proves little)
    kinds, revisits, responses = set(), 0, Counter()
    for url in sorted(referenced, key=order.index):
        held = exported.held[url]
        assert len(records.get(url, [])) == 1, f"{url}: {len(records.get(url, []))} records"  # each URL once
        (rec,) = records[url]
        assert rec["status"] == "200 OK" and rec["digest_problems"] == []
        # warcio's (and the CDX world's) digest: SHA-1 in base 32, of exactly the stored bytes
        assert rec["warc"]["WARC-Payload-Digest"] == sha1_b32(held.body)
        headers = {k.lower(): v for k, v in rec["headers"].items()}
        assert headers["content-type"].split(";")[0] == held.mime
        assert headers["content-length"] == str(len(held.body))
        assert "content-encoding" not in headers and "transfer-encoding" not in headers
        assert rec["warc"]["WARC-Date"] == held.fetched_at  # when it was fetched (UTC, ISO 8601)
        if rec["type"] == "response":
            assert rec["body"] == held.body and hashlib.sha256(rec["body"]).hexdigest() == held.sha256
            responses[held.sha256] += 1
        else:
            assert rec["type"] == "revisit" and rec["body"] == b""
            assert rec["warc"]["WARC-Profile"].endswith("/revisit/identical-payload-digest")
            first = rec["warc"]["WARC-Refers-To-Target-URI"]
            assert order.index(first) < order.index(url)  # refers back to a response already read
            assert [r["type"] for r in records[first]] == ["response"] and records[first][0]["body"] == held.body
            assert rec["warc"]["WARC-Refers-To-Date"] == records[first][0]["warc"]["WARC-Date"]
            revisits += 1
        kinds.add(held.mime)
    assert {"image/png", "audio/mpeg"} <= kinds
    # each file's bytes once in the WARC, however many URLs serve them (the og:image thumbnails here)
    assert set(responses.values()) == {1} and set(responses) == {exported.held[u].sha256 for u in referenced}
    assert revisits == len(referenced) - len(responses) > 0
    for page in exported.pages.values():  # the pages are there too, before their media
        assert any(r["body"] == page.body and r["status"] == "200 OK" for r in records[page.url])


def test_import_warc_restores_every_file(exported: Exported, tmp_path: Path) -> None:
    copy = tmp_path / "b.db"
    out = run_cli("import-warc", str(exported.warc), "--db", str(copy))
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(media_path(copy)) as m:
        restored = {u: (sha, bytes(body), when) for u, sha, body, when in m.execute(
            "SELECT u.url, m.sha256, m.body, u.fetched_at FROM media_urls u JOIN media m USING (sha256)")}
        headers = dict(m.execute("SELECT url, headers FROM media_urls"))
    assert {u: (h.sha256, h.body, h.fetched_at) for u, h in exported.held.items()} == restored
    assert all(json.loads(headers[u])["Content-Type"] == h.mime for u, h in exported.held.items())
    for sha in sorted({h.sha256 for h in exported.held.values()})[:3]:
        target = tmp_path / f"{sha}.bin"
        out = run_cli("media", sha, "--db", str(copy), "-o", str(target))
        assert out.returncode == 0, out.stderr
        assert hashlib.sha256(target.read_bytes()).hexdigest() == sha
    with Archive(copy, readonly=True) as archive:
        refs = {a: [u for (u,) in archive.conn.execute(
            "SELECT url FROM media_refs WHERE article = ? ORDER BY position", (a,))] for a in
            [archive.resolve(p.url) for p in exported.pages.values()]}
    assert sorted(map(sorted, refs.values())) == sorted(map(sorted, exported.refs.values()))


def test_import_warc_refuses_a_media_record_that_fails_its_digest(exported: Exported, tmp_path: Path) -> None:
    """A bit flipped inside an image (still a valid PNG header, so measure() cannot tell) is not
    stored as the file: the record's digest says the bytes are not what was written."""
    raw = gzip.decompress(exported.warc.read_bytes())
    # the last image in the file: the files before it are stored, as the pages before it are
    victim = max((h for h in exported.held.values() if h.mime == "image/png"), key=lambda h: raw.index(h.body))
    at = raw.index(victim.body) + len(victim.body) // 2
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1:])
    copy = tmp_path / "c.db"
    out = run_cli("import-warc", str(damaged), "--db", str(copy))
    assert out.returncode != 0 and "digest" in out.stderr and "Traceback" not in out.stderr, out.stderr
    with sqlite3.connect(media_path(copy)) as m:
        bodies = [bytes(b) for (b,) in m.execute("SELECT body FROM media")]
    assert bodies and all(hashlib.sha256(b).hexdigest() in {h.sha256 for h in exported.held.values()} for b in bodies)


# -- replay in pywb --------------------------------------------------------------------------------

def pywb_bin() -> Path:
    """Where pywb's commands are: $NEWSARCHIVE_PYWB_BIN, or on PATH; the test is skipped without them."""
    named = os.environ.get("NEWSARCHIVE_PYWB_BIN")
    if named and (Path(named) / "wayback").exists():
        return Path(named)
    found = shutil.which("wayback")
    if found and shutil.which("wb-manager"):
        return Path(found).parent
    pytest.skip("pywb is not installed (pip install pywb in a venv of its own, then set "
                "NEWSARCHIVE_PYWB_BIN=/that/venv/bin): replay in pywb not tested")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with LOOPBACK.open(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.fixture(scope="module")
def wayback(exported: Exported, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    bin_dir = pywb_bin()
    root = tmp_path_factory.mktemp("pywb")
    for args in (["init", "coll"], ["add", "coll", str(exported.warc)]):
        out = subprocess.run([str(bin_dir / "wb-manager"), *args], cwd=root, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
    port = free_port()
    log = (root / "wayback.log").open("wb")
    proc = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=root,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/coll/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(base)[0] in (200, 404):
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (root / "wayback.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def timestamp(fetched_at: str | None) -> str:
    return re.sub(r"\D", "", fetched_at or "")[:14]


def test_the_warc_replays_in_pywb_with_its_images(exported: Exported, wayback: str) -> None:
    served = 0
    for article, page in exported.pages.items():
        ts = timestamp(page.fetched_at)
        status, ctype, body = get(f"{wayback}{ts}id_/{page.url}")  # the page as archived
        assert (status, body) == (200, page.body), (page.url, status)
        assert ctype.startswith("text/html")
        status, ctype, framed = get(f"{wayback}{ts}/{page.url}")  # what a browser is given first
        assert status == 200 and ctype.startswith("text/html")
        status, ctype, rewritten = get(f"{wayback}{ts}mp_/{page.url}")  # the page inside that frame
        assert status == 200 and ctype.startswith("text/html")
        text = rewritten.decode("utf-8")
        for url in exported.refs[article]:
            held = exported.held[url]
            modifier = "im_" if held.mime.startswith("image/") else "oe_"
            # each file at its own URL, looked up from the page's time (the closest capture)
            status, ctype, body = get(f"{wayback}{ts}{modifier}/{url}")
            assert (status, body) == (200, held.body), (url, status)
            assert ctype.split(";")[0] == held.mime
            status, _, body = get(f"{wayback}{ts}id_/{url}")
            assert (status, body) == (200, held.body), (url, status)
            served += 1
        # the og:image is rewritten into the collection, and what it points at is the stored file
        for m in re.finditer(r'property="og:image" content="([^"]+)"', text):
            assert m.group(1).startswith(wayback), m.group(1)
            status, _, body = get(m.group(1))
            original = re.sub(rf"^{re.escape(wayback)}\d{{14}}[a-z_]*/", "", m.group(1))
            assert status == 200 and body == exported.held[original].body, m.group(1)
    assert served >= len(exported.held)


def test_a_file_the_site_served_as_another_kind_is_exported_with_its_measured_type(tmp_path: Path) -> None:
    """A replay tool serves the record's Content-Type: one that does not name the measured kind (or
    none) is replaced by the measured one (docs/security.md); one of the same kind is kept."""
    sent = {"https://x.1cdn.vn/a.png": "application/pdf", "https://x.1cdn.vn/b.png": None,
            "https://x.1cdn.vn/c.png": "image/jpeg", "https://x.1cdn.vn/d.png": "application/octet-stream"}
    record = rec(images=[{"src": u, "caption": None} for u in sent])
    with Archive(tmp_path / "a.db") as archive, MediaStore(media_path(tmp_path / "a.db")) as media:
        article = archive.save(record).id
        with archive.transaction():
            write_refs(archive.conn, article, references(record, None, record["url"]))
        for i, (url, ctype) in enumerate(sent.items()):
            body = demo_png(url, 20 + i, 10)
            media.store(url, body, measure(body, "image"), headers={"Content-Type": ctype} if ctype else {"Server": "x"})
        out = io.BytesIO()
        export_warc(archive, out, [article], media=media)
    out.seek(0)
    types = {r.rec_headers.get_header("WARC-Target-URI"): r.http_headers.get_header("Content-Type")
             for r in ArchiveIterator(out) if r.rec_type == "response" and r.http_headers}
    assert {u: types.get(u) for u in sent} == {"https://x.1cdn.vn/a.png": "image/png", "https://x.1cdn.vn/b.png": "image/png",
                                               "https://x.1cdn.vn/c.png": "image/jpeg",
                                               "https://x.1cdn.vn/d.png": "image/png"}


def test_a_revised_articles_older_version_is_exported_with_its_own_images(tmp_path: Path) -> None:
    host = DemoMediaHost()
    with serve_media(host) as media_base:
        site = DemoSite(3, media_base=media_base)
        with serve(site):
            db = tmp_path / "a.db"
            assert run_cli("crawl", site.base, "--db", str(db), *CRAWL).returncode == 0
            aid = site.order[0]
            old_src = site.articles[aid].images[0][0]
            site.edit(aid, images=[(f"{media_base}2026/moi/anh-thay.png", "Ảnh thay"), *site.articles[aid].images[1:]])
            out = run_cli("crawl", site.base, "--db", str(db), *CRAWL, "--recheck")
            assert out.returncode == 0, out.stderr
    warc = tmp_path / "x.warc.gz"
    assert run_cli("export", "--db", str(db), "--format", "warc", "-o", str(warc)).returncode == 0
    with warc.open("rb") as f:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f) if r.rec_type == "response"]
    page = site.url(aid)
    assert uris.count(page) == 2  # both versions of the page
    # the new version's image and the one the older version showed (still held), each once
    assert uris.count(f"{media_base}2026/moi/anh-thay.png") == 1 and uris.count(old_src) == 1


def test_import_warc_skips_records_marked_truncated(tmp_path: Path) -> None:
    """A writer that hit a size or time limit marks the record WARC-Truncated: a cut image still
    reads as an image (its header is whole) and a cut page as a shorter article; neither is kept."""
    from importlib import resources

    page = resources.files("newsarchive.demo").joinpath("article.html").read_bytes()
    png = demo_png("cut", 40, 30)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    entries = [("https://baodemo.vn/cat-ngang-100001.html", "text/html; charset=utf-8", page[: len(page) // 2], True),
               ("https://x.1cdn.vn/cut.png", "image/png", png[:200], True),
               ("https://x.1cdn.vn/whole.png", "image/png", png, False)]
    for url, ctype, body, cut in entries:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                                      http_headers=http,
                                                      warc_headers_dict={"WARC-Truncated": "length"} if cut else {}))
    buf.seek(0)
    with Archive(tmp_path / "a.db") as archive, MediaStore(media_path(tmp_path / "a.db")) as media:
        report = import_warc(archive, buf, media=media)
        held = media.held([u for u, *_ in entries])
        assert archive.count() == 0
    assert report.truncated == [entries[0][0], entries[1][0]] and report.error is None
    assert set(held) == {"https://x.1cdn.vn/whole.png"}
    (tmp_path / "t.warc.gz").write_bytes(buf.getvalue())
    out = run_cli("import-warc", str(tmp_path / "t.warc.gz"), "--db", str(tmp_path / "b.db"))
    assert out.returncode == 0 and "2 record(s) marked truncated skipped" in out.stderr, out.stderr


def test_import_warc_links_a_revisit_only_to_a_file_of_the_same_kind_read_before(tmp_path: Path) -> None:
    png = demo_png("shared", 40, 30)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="1.1")

    def http(ctype: str) -> StatusAndHeaders:
        return StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(png)))],
                                protocol="HTTP/1.1")

    first = "https://x.1cdn.vn/a.png"
    writer.write_record(writer.create_warc_record(first, "response", payload=io.BytesIO(png), length=len(png),
                                                  http_headers=http("image/png")))
    when = "2026-11-29T10:00:00Z"
    for url, digest, ctype in (("https://x.1cdn.vn/thumbs/a.png", payload_digest(png), "image/png"),
                               ("https://x.1cdn.vn/other.png", payload_digest(b"other bytes"), "image/png"),
                               ("https://x.1cdn.vn/a.mp3", payload_digest(png), "audio/mpeg")):
        writer.write_record(writer.create_revisit_record(url, digest, first, when, http_headers=http(ctype)))
    buf.seek(0)
    with Archive(tmp_path / "a.db") as archive, MediaStore(media_path(tmp_path / "a.db")) as media:
        report = import_warc(archive, buf, media=media)
        held = media.held(["https://x.1cdn.vn/thumbs/a.png", "https://x.1cdn.vn/other.png", "https://x.1cdn.vn/a.mp3",
                           first])
    assert report.error is None and report.media["stored"] == 2
    assert set(held) == {first, "https://x.1cdn.vn/thumbs/a.png"}
    assert held[first].sha256 == held["https://x.1cdn.vn/thumbs/a.png"].sha256 == hashlib.sha256(png).hexdigest()
