"""Provenance: a record is believed only about the site its page was fetched from, whatever path
brought the page (crawl, scrape, import-warc, reparse), and a crawl never leaves its site."""

from __future__ import annotations

import io
import json
import sqlite3
import time
import zlib
from pathlib import Path

import pytest
from conftest import run_cli
from hostile import HostileSite
from test_store import rec

from newsarchive import extract
from newsarchive.demo.site import DemoSite, serve
from newsarchive.store import Archive, ProvenanceError, RawPage
from newsarchive.urls import canonical, origin_site, run_key, same_site

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def records(db: Path) -> dict[str, dict]:
    out = run_cli("export", "--db", str(db))
    assert out.returncode == 0, out.stderr
    return {r["url"]: r for r in map(json.loads, out.stdout.splitlines())}


def revision_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT url, revision_count FROM articles"))


def test_one_site_is_its_www_variants_and_both_schemes_and_no_other_port() -> None:
    assert same_site("http://baodemo.vn/a-1.html", "https://www.BAODEMO.vn:443/b-2.html")
    assert same_site("http://baodemo.vn:80/a", "https://baodemo.vn/b")
    assert not same_site("http://baodemo.vn/a", "http://baodemo.vn.evil.test/a")
    assert not same_site("http://127.0.0.1:8001/a", "http://127.0.0.1:8002/a")
    assert not same_site("http://baodemo.vn/a", "http://khac.vn/a")
    assert not same_site("file:///tmp/a.html", "file:///tmp/a.html")  # no host: no site
    assert origin_site("https://www.baodemo.vn:8443/x") == "baodemo.vn:8443"


def test_a_run_knows_one_article_by_its_id_or_its_canonical_form() -> None:
    one = {run_key(u) for u in ("http://baodemo.vn/tin-a-12.html", "https://www.baodemo.vn/TIN-B-12.html?utm_source=x",
                                "http://baodemo.vn/tin-a-12.html?b=2&a=1#c")}
    assert one == {"baodemo.vn#12"}
    assert run_key("http://baodemo.vn/trang/%7Ea") == run_key("http://baodemo.vn/trang/~a")
    assert run_key("http://bücher.example/trang") == run_key("http://xn--bcher-kva.example/trang")
    assert run_key("http://baodemo.vn/a-12.html") != run_key("http://khac.vn/a-12.html")


def test_a_page_claiming_another_sites_url_is_a_record_of_its_own_site() -> None:
    victim = DemoSite(1)
    victim.set_base("https://baodemo.vn/")
    page = victim.article_page(victim.order[0])
    claimed = victim.url(victim.order[0])
    assert claimed in page.decode()  # canonical link and og:url both name the victim's URL
    got = extract(page, "http://impostor.test/ban-sao-1.html")
    assert got["url"] == "http://impostor.test/ban-sao-1.html" and got["site"] == "impostor.test"
    assert got["article_id"] == "1"
    # within its own site the claim is believed: www.-variant and https
    own = extract(page, "http://www.baodemo.vn/ban-sao-1.html")
    assert own["url"] == canonical(claimed) and own["site"] == "baodemo.vn"
    # a saved file with no address given has only its own claim
    assert extract(page, "file:///tmp/bai.html")["url"] == canonical(claimed)


def test_the_store_refuses_a_record_of_another_site_than_its_page(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        archive.save(rec(), RawPage(rec()["url"], b"<html>v1</html>"))
        with pytest.raises(ProvenanceError):
            archive.save(rec(title="Sửa bởi người khác"), RawPage("https://khac.vn/bai-1.html", b"<html>x</html>"))
        assert archive.record(1)["title"] == rec()["title"]
        assert archive.count() == 1
        assert [r["revision"] for r in archive.revisions(1)] == [1]


def _warc_of(path: Path, url: str, body: bytes) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as f:
        w = WARCWriter(f, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                            http_headers=http))


@pytest.mark.reliability
def test_no_path_lets_a_page_of_one_host_rewrite_another_sites_article(tmp_path: Path, reliability) -> None:
    db = tmp_path / "a.db"
    victim = DemoSite(4)
    with serve(victim):
        first = run_cli("crawl", victim.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST)
        assert first.returncode == 0, first.stderr
        before = records(db)
        impostor = HostileSite(4, modes={"impostor"}, victim=victim)
        with serve(impostor, host="127.0.0.2"):
            crawled = run_cli("crawl", impostor.base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST)
            page = impostor.route(urlpath := "/" + impostor.url(impostor.order[0]).split("/", 3)[3], {})[2]
        saved = tmp_path / "ban-sao.html"
        saved.write_bytes(page)
        scraped = run_cli("scrape", str(saved), "--url", "http://127.0.0.2:9/ban-sao-9.html", "--db", str(db), "--json")
        _warc_of(tmp_path / "x.warc.gz", "http://127.0.0.3/ban-sao-3.html", page)
        imported = run_cli("import-warc", str(tmp_path / "x.warc.gz"), "--db", str(db))
        # an archive poisoned before the rule: a page of the impostor stored as the victim's newest
        victim_url = victim.url(victim.order[0])
        with sqlite3.connect(db) as con:
            article = con.execute("SELECT id FROM articles WHERE url = ?", (canonical(victim_url),)).fetchone()[0]
            con.execute("INSERT INTO pages(article, url, status, headers, body, body_sha256, fetched_at)"
                        " VALUES (?, ?, 200, NULL, ?, 'x', '2099-01-01T00:00:00Z')",
                        (article, impostor.base + urlpath.lstrip("/"), zlib.compress(page)))
        reparsed = run_cli("reparse", "--db", str(db))
    after = records(db)
    victims = {u: r for u, r in after.items() if u in before}
    changed = [u for u in before if after.get(u) != before[u]]
    impostor_records = [r for u, r in after.items() if u.startswith(impostor.base)]
    reliability(13, "provenance", "a site archived, then a second host (127.0.0.2) whose article pages copy the "
                "first site's, retitled, with canonical and og:url claiming its URLs: crawled, one page scraped as a "
                "file with --url, imported from a WARC, and a poisoned stored page reparsed",
                crawl_exit=crawled.returncode, victim_records_changed=len(changed),
                victim_revisions=sum(revision_counts(db)[u] for u in before),
                impostor_records=len(impostor_records), reparse_refused="1" if "1 refused" in reparsed.stdout else "0")
    assert crawled.returncode == 0, crawled.stderr
    assert changed == [] and victims == before
    assert all(revision_counts(db)[u] == 1 for u in before)
    assert len(impostor_records) == 4 and all(r["title"].startswith("Bài giả mạo") for r in impostor_records)
    assert scraped.returncode == 0, scraped.stderr
    assert json.loads(scraped.stdout)["url"] == "http://127.0.0.2:9/ban-sao-9.html"
    assert imported.returncode == 0, imported.stderr
    assert "http://127.0.0.3/ban-sao-3.html" in after
    assert reparsed.returncode == 0 and "1 refused" in reparsed.stdout, reparsed.stdout


@pytest.mark.reliability
def test_redirects_leave_neither_the_site_nor_for_a_private_address(tmp_path: Path, reliability) -> None:
    other = DemoSite(2)
    db = tmp_path / "a.db"
    with serve(other, host="127.0.0.2"):
        site = HostileSite(4, modes={"redirects"})
        with serve(site) as base:
            port = base.rsplit(":", 1)[1].strip("/")
            # the site's www.-variant is the same site, but not the host the crawl was given: it may
            # not be a private address (both names resolve to loopback through the static table)
            site.redirects = {"/ra-ngoai-990100.html": other.url(other.order[0]),
                              "/sang-www-990200.html": f"http://www.demo.test:{port}/"}
            site.set_base(f"http://demo.test:{port}/")
            started = time.monotonic()
            out = run_cli("crawl", f"http://demo.test:{port}/", "--db", str(db), "-q", "--since", "2020-01-01", *FAST,
                          "-s", "NEWSARCHIVE_HOSTS=demo.test:127.0.0.1,www.demo.test:127.0.0.1",
                          "-s", "NEWSARCHIVE_HOSTS_ONLY=True")
            wall = time.monotonic() - started
    with sqlite3.connect(db) as con:
        failures = dict(con.execute("SELECT url, error FROM failures"))
        outcome = con.execute("SELECT outcome FROM runs").fetchone()[0]
    offsite = next(e for u, e in failures.items() if u.endswith("/ra-ngoai-990100.html"))
    www = next(e for u, e in failures.items() if u.endswith("/sang-www-990200.html"))
    reliability(14, "redirects", "a crawl whose site links an article that redirects to another host, and one that "
                "redirects to the site's www.-variant, a name that resolves to loopback",
                requests_to_the_other_host=len(other.requests), exit_code=out.returncode, wall_s=round(wall, 1),
                offsite=offsite[:60], www_variant=www[:60])
    assert other.requests == []
    assert out.returncode == 5, out.stderr  # an article was not archived: not a success
    assert outcome == "partial"
    assert "redirect to another site refused" in offsite and "127.0.0.2" in offsite
    assert "private" in www and "www.demo.test" in www
    assert len(records(db)) == 4  # everything else is archived


def test_a_demo_site_without_a_media_host_names_no_host_that_needs_dns(tmp_path: Path) -> None:
    """Tests never send a DNS query: a demo site's images, when it has no media host, are on a
    loopback literal that the address guard refuses at once (and a refusal is not retried)."""
    from urllib.parse import urlsplit

    from newsarchive.netguard import _literal

    site = DemoSite(6)
    srcs = [src for a in site.articles.values() for src, _ in a.images]
    assert srcs and all(_literal(urlsplit(s).hostname or "") is not None for s in srcs)
    with serve(site) as base:
        out = run_cli("crawl", base, "--db", str(tmp_path / "a.db"), "-v", "--since", "2020-01-01", *FAST)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Retrying" not in out.stderr  # the guard's refusal is final
    assert not [line for line in out.stderr.splitlines() if "1cdn" in line]
