"""The commands keep the README's word at their edges (issue 12): exit codes of serve and scrape,
--db and -o into missing directories, $NEWSARCHIVE_DB everywhere, one date type for every date
option, demo --articles N, CSV for spreadsheets, plain snippets, show --diff of every field."""

from __future__ import annotations

import csv
import io
import json
import random
import socket
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.cli import parse_date
from newsarchive.demo.site import DemoSite, serve
from newsarchive.store import Archive, RawPage

VN = timezone(timedelta(hours=7))
ARTICLE_HTML = Path(__file__).resolve().parent.parent / "newsarchive" / "demo" / "article.html"
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def one_error_line(out, code: int) -> str:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two articles, one of them with a second version; raw pages stored (reparse, export --format warc)."""
    path = tmp_path / "a.db"
    with Archive(path) as a:
        first = rec()
        a.save(first, RawPage(first["url"], ARTICLE_HTML.read_bytes(), 200, {"Content-Type": "text/html"},
                              first["fetched_at"]))
        a.save(rec(url="https://baodemo.vn/bai-hai-2.html", article_id="2", title="Bài hai về Điện Biên",
                   body_text="Điện Biên đón khách; hôm nay trời đẹp.", images=[], tags=[]))
        a.save(rec(title="Bài viết một (sửa)", sapo="Mở đầu mới.", dateline=None, authors=["Minh Khôi", "MAI QUẾ"],
                   published_at="2026-09-16T06:00:00+07:00", modified_at="2026-11-27T07:00:00+07:00",
                   section="Y tế", breadcrumb=["Xã hội", "Y tế"], tags=["b", "c"],
                   body_text="Đoạn một.\n\nĐoạn hai, đã sửa.",
                   images=[{"src": "https://x.1cdn.vn/a.jpg", "caption": "Ảnh A, chú thích mới"},
                           {"src": "https://x.1cdn.vn/c.jpg", "caption": None}],
                   source="suckhoedoisong.vn", kind="longform", fetched_at="2026-11-27T00:00:00Z"))
    return path


# -- 1. exit codes of serve and scrape ---------------------------------------------------------

def test_serve_on_a_port_in_use_is_exit_1_in_one_line(db: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli("serve", "--port", str(port), "--db", str(db), timeout=60)
    line = one_error_line(out, 1)
    assert str(port) in line and "in use" in line


@pytest.mark.parametrize("missing", ["uvicorn", "datasette"])
def test_serve_without_the_ui_extra_names_it_in_one_line(db: Path, tmp_path: Path, missing: str) -> None:
    """A plain `pip install .` has neither Datasette nor uvicorn: serve says which extra to install
    (it was a ModuleNotFoundError traceback)."""
    import subprocess
    import sys

    code = (f"import sys; sys.modules[{missing!r}] = None\n"  # an import of it now fails, as when not installed
            "from newsarchive.cli import main; sys.argv = ['newsarchive', *sys.argv[1:]]; main()")
    out = subprocess.run([sys.executable, "-c", code, "serve", "--port", "0", "--db", str(db)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    line = one_error_line(out, 1)
    assert "[ui]" in line and missing in line


@pytest.mark.parametrize("target", ["htp://127.0.0.1/a-1.html", "ftp://127.0.0.1/a-1.html", "file:///etc/passwd",
                                    "hxxps://baonghean.vn/x-1.html", "data:text/html,<p>x</p>"])
def test_scrape_of_another_scheme_is_bad_usage(tmp_path: Path, target: str) -> None:
    out = run_cli("scrape", target, "--db", str(tmp_path / "a.db"))
    line = one_error_line(out, 2)
    assert "http://" in line and "https://" in line
    assert not (tmp_path / "a.db").exists()  # said before the archive is opened


def test_scrape_of_a_missing_file_stays_exit_1(tmp_path: Path) -> None:
    line = one_error_line(run_cli("scrape", str(tmp_path / "no-such-page.html"), "--db", str(tmp_path / "a.db")), 1)
    assert "no-such-page.html" in line


# -- 2. --db, $NEWSARCHIVE_DB, -o ------------------------------------------------------------

def command_lines(db: Path, tmp: Path) -> dict[str, list[str]]:
    """Every command that takes --db, with arguments that would otherwise work or fail later."""
    page = tmp / "page.html"
    page.write_bytes(ARTICLE_HTML.read_bytes())
    warc = tmp / "pages.warc.gz"
    if not warc.exists():
        with Archive(db, readonly=True) as a, warc.open("wb") as out:
            from newsarchive.warc import export_warc

            export_warc(a, out, [1])
    return {
        "scrape": ["scrape", str(page)],
        "show": ["show", "1"],
        "export": ["export"],
        "search": ["search", "dien bien"],
        "sql": ["sql", "SELECT count(*) FROM articles"],
        "stats": ["stats"],
        "runs": ["runs"],
        "serve": ["serve", "--port", "0"],
        "reparse": ["reparse"],
        "reparse-dry-run": ["reparse", "--dry-run"],
        "import-warc": ["import-warc", str(warc)],
        "crawl": ["crawl", "http://127.0.0.1:9/", "-q", *FAST],
        "ingest": ["ingest", "--redis", "redis://127.0.0.1:9/0", "--until-idle", "0.1"],
        "demo": ["demo", "--articles", "3"],
    }


COMMANDS = ["scrape", "show", "export", "search", "sql", "stats", "runs", "serve", "reparse", "reparse-dry-run",
            "import-warc", "crawl", "ingest", "demo"]


@pytest.mark.parametrize("how", ["--db", "NEWSARCHIVE_DB"])
@pytest.mark.parametrize("command", COMMANDS)
def test_db_in_a_missing_directory_is_an_error_for_every_command(db: Path, tmp_path: Path, command: str,
                                                                  how: str) -> None:
    args = command_lines(db, tmp_path)[command]
    missing = tmp_path / "no-such-dir" / "archive.db"
    if how == "--db":
        out = run_cli(*args, "--db", str(missing), cwd=tmp_path, timeout=60)
    else:
        out = run_cli(*args, cwd=tmp_path, env={"NEWSARCHIVE_DB": str(missing)}, timeout=60)
    line = one_error_line(out, 2)
    assert "no-such-dir" in line and "does not exist" in line and ("$NEWSARCHIVE_DB" in line) == (how != "--db")
    assert not missing.parent.exists()
    assert not (tmp_path / "data").exists()  # nor the default archive instead


@pytest.mark.parametrize("command", ["show", "export", "search", "sql", "stats", "runs", "reparse-dry-run"])
def test_newsarchive_db_works_for_every_reading_command(db: Path, tmp_path: Path, command: str) -> None:
    args = command_lines(db, tmp_path)[command]
    by_env = run_cli(*args, cwd=tmp_path, env={"NEWSARCHIVE_DB": str(db)})
    by_option = run_cli(*args, "--db", str(db), cwd=tmp_path)
    assert by_env.returncode == 0, by_env.stderr
    if command == "reparse-dry-run":  # its report holds a rate, pages per second
        assert by_option.returncode == 0 and "would change" in by_env.stdout and "would change" in by_option.stdout
    else:
        assert (by_env.returncode, by_env.stdout) == (by_option.returncode, by_option.stdout)
    assert not (tmp_path / "data").exists()


def test_newsarchive_db_for_writing_commands(tmp_path: Path) -> None:
    target = tmp_path / "env.db"
    page = tmp_path / "page.html"
    page.write_bytes(ARTICLE_HTML.read_bytes())
    assert run_cli("scrape", str(page), cwd=tmp_path, env={"NEWSARCHIVE_DB": str(target)}).returncode == 0
    assert run_cli("reparse", cwd=tmp_path, env={"NEWSARCHIVE_DB": str(target)}).returncode == 0
    assert target.exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", ["scrape", "show", "export", "search", "sql", "stats", "runs", "serve", "reparse",
                                     "import-warc", "crawl", "ingest", "demo"])
def test_help_states_where_the_archive_is(command: str) -> None:
    out = run_cli(command, "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "data/archive.db under the current directory" in text and "$NEWSARCHIVE_DB" in text, text


def test_export_into_a_missing_directory_is_one_line(db: Path, tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "warc"):
        target = tmp_path / "missing" / "dir" / "x"
        line = one_error_line(run_cli("export", "--format", fmt, "-o", str(target), "--db", str(db)), 2)
        assert "missing" in line and "does not exist" in line
        assert not (tmp_path / "missing").exists()


def test_export_writes_whole_or_nothing(db: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "x.jsonl"
    assert run_cli("export", "-o", str(target), "--db", str(db)).returncode == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.jsonl"]  # no partial file left beside it
    # an archive that cannot be read: the older file stays as it was, nothing half-written
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n" * 100)
    line = one_error_line(run_cli("export", "-o", str(target), "--db", str(bad)), 1)
    assert "bad.db" in line
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.jsonl"]
    # an archive damaged past its schema page fails part way through, once the file is open
    data = db.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(data[:page] + random.Random(7).randbytes(len(data) - page))
    before = target.read_bytes()
    for fmt in ("jsonl", "csv"):
        one_error_line(run_cli("export", "--format", fmt, "-o", str(target), "--db", str(damaged)), 1)
        assert target.read_bytes() == before  # not truncated, not half-written
        assert sorted(p.name for p in out_dir.iterdir()) == ["x.jsonl"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "warc"])
def test_export_to_a_full_device_is_one_line(db: Path, fmt: str) -> None:
    line = one_error_line(run_cli("export", "--format", fmt, "-o", "/dev/full", "--db", str(db)), 1)
    assert "/dev/full" in line


def test_export_into_an_unwritable_directory_is_one_line(db: Path, tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        out = run_cli("export", "-o", str(locked / "x.csv"), "--format", "csv", "--db", str(db))
    finally:
        locked.chmod(0o755)
    if out.returncode == 0:
        pytest.skip("running as root: a read-only directory is writable here")
    one_error_line(out, 1)
    assert list(locked.iterdir()) == []


# -- 3. dates ------------------------------------------------------------------------------------

def test_parse_date_forms() -> None:
    now = datetime(2026, 11, 20, 1, 30, tzinfo=VN)
    assert parse_date("2026-11-20") == "2026-11-20T00:00:00+07:00"
    assert parse_date("2026-11-20T08:30") == "2026-11-20T08:30:00+07:00"
    assert parse_date("2026-11-20T08:30:00Z") == "2026-11-20T08:30:00+00:00"
    assert parse_date("2026-11-20T08:30:00-05:00") == "2026-11-20T08:30:00-05:00"
    assert parse_date("7d", now) == "2026-11-13T01:30:00+07:00"
    assert parse_date("12h", now) == "2026-11-19T13:30:00+07:00"
    assert parse_date("30m", now) == "2026-11-20T01:00:00+07:00"
    assert parse_date("today", now) == "2026-11-20T00:00:00+07:00"
    assert parse_date("yesterday", now) == "2026-11-19T00:00:00+07:00"
    # "now" in UTC is still the previous day: days are those of +07:00
    assert parse_date("today", datetime(2026, 11, 19, 18, 0, tzinfo=UTC)) == "2026-11-20T00:00:00+07:00"
    for bad in ("last week", "2026-13-01", "20/11/2026", "7", "d7", ""):
        with pytest.raises(ValueError):
            parse_date(bad)


@pytest.fixture
def dated(tmp_path: Path) -> Path:
    """Articles published 1 hour, 49 hours and 10 days before now."""
    path = tmp_path / "d.db"
    now = datetime.now(VN).replace(microsecond=0)
    with Archive(path) as a:
        for n, age in enumerate((timedelta(hours=1), timedelta(hours=49), timedelta(days=10)), 1):
            a.save(rec(url=f"https://baodemo.vn/tin-{n}.html", article_id=str(n), title=f"Tin {n} Điện Biên",
                       published_at=(now - age).isoformat(), images=[], tags=[]))
    return path


@pytest.mark.parametrize(("since", "count"), [("12h", 1), ("3d", 2), ("yesterday", 1), ("30d", 3), ("2w", 3),
                                              ("2000-01-01", 3), ("2000-01-01T00:00:00Z", 3)])
def test_relative_dates_in_export_and_search(dated: Path, since: str, count: int) -> None:
    out = run_cli("export", "--since", since, "--db", str(dated))
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == count
    hits = run_cli("search", "dien bien", "--since", since, "--json", "--db", str(dated))
    assert hits.returncode == 0, hits.stderr
    assert len(json.loads(hits.stdout)) == count
    assert run_cli("reparse", "--dry-run", "--since", since, "--db", str(dated)).returncode == 0


def test_until_takes_the_same_forms(dated: Path) -> None:
    out = run_cli("export", "--until", "3d", "--db", str(dated))
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 1


@pytest.mark.parametrize("command", [["export"], ["search", "x"], ["reparse", "--dry-run"],
                                     ["crawl", "http://127.0.0.1:9/"]])
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_a_bad_date_is_bad_usage_naming_the_option_and_the_forms(dated: Path, command: list[str],
                                                                 option: str) -> None:
    if command[0] == "crawl" and option == "--until":
        pytest.skip("crawl has no --until")
    out = run_cli(*command, option, "next tuesday", "--db", str(dated))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert f"'{option}'" in out.stderr and "YYYY-MM-DD" in out.stderr and "yesterday" in out.stderr
    assert "7d" in out.stderr and "ISO 8601" in out.stderr


def test_crawl_takes_a_relative_since(tmp_path: Path) -> None:
    site = DemoSite(20, newest=datetime.now(VN) - timedelta(minutes=5))  # one article every 4 hours
    db = tmp_path / "c.db"
    with serve(site):
        out = run_cli("crawl", site.base, "--since", "1d", "-q", "--db", str(db), *FAST)
    assert out.returncode == 0, out.stderr
    count = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    assert count == 6  # 0, 4, … 20 hours old; 24 hours is past the floor


# -- 4. demo --articles N -----------------------------------------------------------------------

def test_demo_archives_every_article_asked_and_its_hints_carry_db(tmp_path: Path) -> None:
    out = run_cli("demo", "--articles", "300", "--db", "my archive.db", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "crawl success: 300 new articles" in out.stdout
    assert sqlite3.connect(tmp_path / "my archive.db").execute("SELECT count(*) FROM articles").fetchone()[0] == 300
    hints = [line for line in out.stdout.splitlines() if "newsarchive " in line]
    assert hints and all(line.count("--db 'my archive.db'") == line.count("newsarchive ") for line in hints), hints
    assert not (tmp_path / "data").exists()


def test_demo_in_a_fresh_directory_creates_the_default_archive(tmp_path: Path) -> None:
    out = run_cli("demo", "--articles", "30", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert sqlite3.connect(tmp_path / "data" / "archive.db").execute("SELECT count(*) FROM articles").fetchone()[0] == 30
    assert "--db" not in out.stdout


def test_a_ctrl_c_during_the_demo_is_an_interrupted_run_exit_6(tmp_path: Path) -> None:
    """Ctrl-C at the terminal (SIGINT to the command's process group) while the demo crawls: the
    crawl drains, the writer (in a group of its own: the signal never reaches it) stores what it was
    handed, the run is recorded as interrupted, and the exit code says so (it was 0)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    proc = subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "demo", "--articles", "3000", "--port", "0"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    db = tmp_path / "data" / "archive.db"
    deadline = time.monotonic() + 90
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None and stored < 20:
        time.sleep(0.2)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                stored = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        except sqlite3.Error:
            pass
    assert stored >= 20 and proc.poll() is None, "the demo never got going"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 6, (out, err)
    assert "Traceback" not in err and "crawl interrupted" in out, (out, err)
    with sqlite3.connect(db) as con:
        outcome, new = con.execute("SELECT outcome, articles_new FROM runs").fetchone()
        held = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert outcome == "interrupted" and new == held >= 20


def test_scrape_of_a_malformed_url_is_bad_usage_not_a_traceback(tmp_path: Path) -> None:
    for url in ("http://[::1", "http://", "http://a:99999/b-1.html"):
        out = run_cli("scrape", url, "--db", str(tmp_path / "a.db"))
        assert out.returncode == 2 and "Traceback" not in out.stderr and "not a valid URL" in out.stderr, out.stderr


# -- 5. output -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["search", "dien bien"], ["sql", "SELECT 1"]])
def test_json_and_csv_together_is_bad_usage(db: Path, command: list[str]) -> None:
    out = run_cli(*command, "--json", "--csv", "--db", str(db))
    assert out.returncode == 2 and "--json and --csv" in out.stderr and out.stdout == ""


def test_csv_file_starts_with_a_bom_stdout_does_not(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    assert run_cli("export", "--format", "csv", "-o", str(target), "--db", str(db)).returncode == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,url,") and "Điện Biên".encode() in data
    plain = run_cli("export", "--format", "csv", "--db", str(db))
    assert plain.stdout.startswith("id,url,")
    assert run_cli("export", "--format", "csv", "--bom", "--db", str(db)).stdout.startswith("\ufeffid,url,")
    assert run_cli("export", "--format", "csv", "--no-bom", "-o", str(target), "--db", str(db)).returncode == 0
    assert target.read_bytes().startswith(b"id,url,")
    assert run_cli("export", "--format", "jsonl", "-o", str(target), "--db", str(db)).returncode == 0
    assert target.read_bytes().startswith(b"{")  # JSON lines never get one
    assert run_cli("sql", "SELECT 1 AS n", "--csv", "--bom", "--db", str(db)).stdout.startswith("\ufeffn")
    assert run_cli("search", "dien bien", "--csv", "--bom", "--db", str(db)).stdout.startswith("\ufeffid,")
    assert run_cli("export", "--format", "jsonl", "--bom", "--db", str(db)).returncode == 2


def test_csv_images_are_readable_columns(db: Path) -> None:
    out = run_cli("export", "--format", "csv", "--db", str(db))
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert "images" not in rows[0]
    first = next(r for r in rows if r["id"] == "1")
    assert first["image_urls"] == "https://x.1cdn.vn/a.jpg | https://x.1cdn.vn/c.jpg"
    assert first["image_captions"] == "Ảnh A, chú thích mới | "
    assert first["authors"] == "Minh Khôi; MAI QUẾ"
    other = next(r for r in rows if r["id"] == "2")
    assert other["image_urls"] == other["image_captions"] == ""


def test_snippets_are_plain_unless_highlight_is_asked(db: Path) -> None:
    plain = json.loads(run_cli("search", "dien bien", "--json", "--db", str(db)).stdout)
    assert plain and "<mark>" not in plain[0]["snippet"] and "Điện Biên đón khách" in plain[0]["snippet"]
    text = run_cli("search", "dien bien", "--db", str(db)).stdout
    assert "<mark>" not in text and "Điện Biên đón khách" in text
    marked = json.loads(run_cli("search", "dien bien", "--json", "--highlight", "--db", str(db)).stdout)
    assert "<mark>Điện</mark> <mark>Biên</mark>" in marked[0]["snippet"]
    csv_out = run_cli("search", "dien bien", "--csv", "--db", str(db)).stdout
    assert "<mark>" not in csv_out


# -- 6. show --diff ------------------------------------------------------------------------------

def test_show_diff_compares_every_field(db: Path) -> None:
    out = run_cli("show", "1", "--diff", "--db", str(db))
    assert out.returncode == 0, out.stderr
    diff = out.stdout
    fields = [line[:-1] for line in diff.splitlines() if line.endswith(":") and not line.startswith(("-", "+", " "))]
    assert fields == ["kind", "title", "sapo", "dateline", "authors", "published_at", "modified_at", "section",
                      "breadcrumb", "tags", "body_text", "images", "source"], diff
    for line in ("-Bài viết một", "+Bài viết một (sửa)", "-(BD)", "+(none)", "-Lan Anh", "+MAI QUẾ",
                 "-2026-09-16T05:25:01+07:00", "+2026-09-16T06:00:00+07:00", "+2026-11-27T07:00:00+07:00",
                 "-Xã hội", "+Y tế", "-a", "+c", "-Đoạn hai.", "+Đoạn hai, đã sửa.",
                 "-https://x.1cdn.vn/a.jpg | Ảnh A", "+https://x.1cdn.vn/a.jpg | Ảnh A, chú thích mới",
                 "-https://x.1cdn.vn/b.jpg | (no caption)", "+https://x.1cdn.vn/c.jpg | (no caption)",
                 "+suckhoedoisong.vn", "-article", "+longform"):
        assert line in diff.splitlines(), (line, diff)
    assert "+Minh Khôi" not in diff and "-Minh Khôi" not in diff  # kept: not a change
    assert "+b" not in diff.splitlines()


def test_show_diff_of_one_version(db: Path) -> None:
    out = run_cli("show", "2", "--diff", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "only one version" in out.stdout and "no such pair" not in out.stdout + out.stderr


def test_a_crawl_of_an_archive_damaged_past_its_schema_is_one_line(db: Path, tmp_path: Path) -> None:
    """The header and schema read well; the root pages of the failures table and its indexes are
    garbage. The crawl's planning reads them before Scrapy starts: one line, exit 1 (it was
    tracebacks from inside the engine and "Crawler.stats is not set yet"); nothing is fetched."""
    damaged = tmp_path / "damaged.db"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = con.execute("PRAGMA page_size").fetchone()[0]
        roots = [r for (r,) in con.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'failures'")]
    damaged.write_bytes(db.read_bytes())
    noise = random.Random(7)
    with damaged.open("r+b") as f:
        for root in roots:
            f.seek((root - 1) * page)
            f.write(bytes(noise.randrange(256) for _ in range(page)))
    with socket.socket() as unused:  # a site that would refuse the connection, were it asked
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    out = run_cli("crawl", f"http://127.0.0.1:{port}/", "--db", str(damaged), "-q")
    line = one_error_line(out, 1)
    assert "damaged" in line or "malformed" in line, line
