"""The drift alarm: a run whose pages lost a field the site always had is degraded (exit 8), says
which fields and where, and reparse after a parser fix restores them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli

from newsarchive.demo.site import DemoSite, serve
from newsarchive.drift import Coverage, judge

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def coverage(n: int, **fields: object) -> dict:
    c = Coverage()
    for i in range(n):
        c.add({"url": f"https://a.vn/b-{i}.html", "authors": ["A"], "published_at": "x", "images": [],
               "tags": ["t"], "sapo": "s", "body_text": "x" * 1000, **fields})
    return c.as_dict()


def test_a_field_the_site_always_had_dropping_is_an_alarm_and_one_it_never_had_is_not() -> None:
    base = [coverage(20), coverage(30)]
    assert judge(coverage(20), base) == []
    drops = judge(coverage(20, authors=[]), base)
    assert [d["field"] for d in drops] == ["authors"] and drops[0]["examples"][0].startswith("https://a.vn/")
    assert drops[0]["baseline"] == 1.0 and drops[0]["now"] == 0.0
    # images: the site never had them, so none now is no alarm; a short body is one
    assert [d["field"] for d in judge(coverage(20, body_text="x" * 100), base)] == ["body"]
    # too few pages on either side says nothing
    assert judge(coverage(3, authors=[]), base) == [] and judge(coverage(20, authors=[]), [coverage(2)]) == []
    # the first run has no baseline: it builds one
    assert judge(coverage(20, authors=[]), []) == []


def test_extractor_errors_and_pages_no_longer_articles_are_alarms_too() -> None:
    current = Coverage()
    for i in range(10):
        current.not_article(f"https://a.vn/c-{i}.html")
    drops = judge(current.as_dict(), [coverage(20)])
    assert {d["field"] for d in drops} == {"body", "not_articles"}


@pytest.mark.reliability
def test_a_redesign_makes_the_run_degraded_and_reparse_after_a_fix_restores(tmp_path: Path, reliability) -> None:
    site = DemoSite(30)
    db = tmp_path / "a.db"
    with serve(site) as base:
        first = run_cli("crawl", base, "--db", str(db), "-q", "--since", "2020-01-01", *FAST)
        site.redesign = True  # the body container renamed, the byline moved to an element of a new class
        second = run_cli("crawl", base, "--db", str(db), "-q", "--recheck", "--since", "2020-01-01", *FAST)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 8, second.stderr
    runs = json.loads(run_cli("runs", "--db", str(db), "--json").stdout)
    assert [r["outcome"] for r in runs] == ["degraded", "success"]
    drift = {d["field"]: d for d in runs[0]["drift"]}
    assert "authors" in drift and drift["authors"]["baseline"] > 0.8 and drift["authors"]["now"] < 0.2
    assert drift["authors"]["examples"] and all(u.startswith(base) for u in drift["authors"]["examples"])
    assert runs[0]["coverage"]["articles"] == 30
    shown = run_cli("runs", "--db", str(db))
    assert "dropped: authors" in shown.stdout
    stats = run_cli("stats", "--db", str(db))
    assert "drift alarms" in stats.stdout and "authors" in stats.stdout.split("drift alarms", 1)[1]
    with sqlite3.connect(db) as con:
        empty = con.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS"
                            " (SELECT 1 FROM article_authors aa WHERE aa.article = a.id)").fetchone()[0]
    # the parser fix: the current template family learns the new byline class (as a release would)
    from newsarchive.extract import onecms
    from newsarchive.reparse import reparse
    from newsarchive.store import Archive

    fixed = pytest.MonkeyPatch()
    try:
        for family in (onecms.CurrentParser, onecms.OlderParser):
            fixed.setattr(family, "author_classes", ("story-byline", *family.author_classes))
        with Archive(db) as archive:
            report = reparse(archive)
    finally:
        fixed.undo()
    with sqlite3.connect(db) as con:
        still_empty = con.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS"
                                  " (SELECT 1 FROM article_authors aa WHERE aa.article = a.id)").fetchone()[0]
    reliability(23, "drift alarm", "a 30-article site crawled, then re-checked after a redesign that renames the body "
                "container and moves the byline to a new class; then reparse with the parser taught the new class",
                second_exit=second.returncode, dropped=", ".join(drift), articles_without_authors=empty,
                after_reparse=still_empty, reextracted=report.changed)
    assert empty >= 25
    assert report.changed >= 25 and still_empty < 5


# A crawl whose parser has a bug in one field for some pages (the bug put in by the test).
BUGGY_CRAWL = """
import sys
from pathlib import Path
from newsarchive.extract import onecms
from newsarchive.crawl import run_crawl

original = onecms.OneCMSParser.tags
def tags(self):
    if self.page.url.endswith(("0.html", "4.html")):
        raise KeyError("a parser bug")
    return original(self)
onecms.OneCMSParser.tags = tags
outcome, stats = run_crawl(sys.argv[1], Path(sys.argv[2]), since="2020-01-01", quiet=True,
                           settings={"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False,
                                     "NEWSARCHIVE_WRITER_PROCESS": False})  # the patched extractor is this process's
print(outcome, stats.get("newsarchive/extractor_errors", 0))
"""


def test_a_parser_bug_is_an_extractor_error_kept_for_reparse(tmp_path: Path) -> None:
    import subprocess
    import sys

    site = DemoSite(20)
    db = tmp_path / "a.db"
    with serve(site) as base:
        out = subprocess.run([sys.executable, "-c", BUGGY_CRAWL, base, str(db)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=120)
    outcome, errors = out.stdout.split()
    buggy = [a for a in site.order if str(a).endswith(("0", "4"))]
    assert outcome == "partial" and int(errors) == len(buggy) > 0, out.stderr
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT url, error, page IS NOT NULL FROM failures").fetchall()
        archived = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert archived == 20 - len(buggy)
    assert len(kept) == len(buggy) and all(has_page and "extractor error" in error and "KeyError" in error
                                          and "a parser bug" in error for _, error, has_page in kept)
    dry = run_cli("reparse", "--db", str(db), "--dry-run")
    assert f"{len(buggy)} page(s) a crawl kept after an extractor error would be archived" in dry.stdout
    fixed = run_cli("reparse", "--db", str(db))  # the parser without the bug
    assert fixed.returncode == 0 and f"{len(buggy)} page(s) a crawl kept" in fixed.stdout
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 20
        assert con.execute("SELECT count(*) FROM failures").fetchone()[0] == 0


def test_a_parser_bug_in_scrape_and_import_warc_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The same bug through the other paths: one error line, exit 1, nothing stored."""
    import subprocess
    import sys

    site = DemoSite(2)
    site.set_base("http://127.0.0.1:9/")
    page = tmp_path / "bai.html"
    page.write_bytes(site.article_page(site.order[0]))
    script = ("import sys\nfrom newsarchive.extract import onecms\n"
              "def tags(self):\n    raise KeyError('a parser bug')\n"
              "onecms.OneCMSParser.tags = tags\nfrom newsarchive.cli import main\n"
              "sys.argv = ['newsarchive', *sys.argv[1:]]\nmain()\n")
    db = tmp_path / "a.db"
    out = subprocess.run([sys.executable, "-c", script, "scrape", str(page), "--url", site.url(site.order[0]),
                          "--db", str(db)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "extractor error" in out.stderr and "a parser bug" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    from test_provenance import _warc_of

    _warc_of(tmp_path / "x.warc.gz", site.url(site.order[0]), page.read_bytes())
    imported = subprocess.run([sys.executable, "-c", script, "import-warc", str(tmp_path / "x.warc.gz"),
                               "--db", str(db)], capture_output=True, text=True, cwd=tmp_path)
    assert imported.returncode == 1 and "Traceback" not in imported.stderr, imported.stderr
    assert "1 extractor error(s)" in imported.stderr and len(imported.stderr.strip().splitlines()) == 1
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 0


def test_small_runs_do_not_push_the_baseline_out(tmp_path: Path) -> None:
    from newsarchive.store import Archive
    from newsarchive.store.crawlstate import CrawlState

    with Archive(tmp_path / "a.db") as archive:
        state = CrawlState(archive)
        for pages in (30, 2, 1, 3, 2, 1, 2):  # one real run, then scheduled runs with almost nothing new
            run = state.start_run("a.vn", "https://a.vn/", None, 1)
            state.finish_run(run, "success", {}, [])
            state.set_coverage(run, coverage(pages), [])
        baseline = state.baseline("a.vn", before=run + 1)
    assert [b["pages"] for b in baseline] == [30]
    assert judge(coverage(20, authors=[]), baseline)  # the alarm can still fire
