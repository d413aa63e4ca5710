"""Archive-file faults for every command that opens the archive: a corrupt file, a file that is not
SQLite, a read-only file or directory, a database locked past the busy timeout. Each gives one
``error:`` line and the README's exit code (7 where the archive cannot be written, 1 where it
cannot be read), never a traceback, and never changes the file's bytes."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_store import rec

from newsarchive.demo.site import DemoSite, serve
from newsarchive.store import Archive, RawPage

# Root ignores file modes: the command then runs without the capabilities that let it do so.
PREFIX = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
BUSY = "1"  # NEWSARCHIVE_BUSY_TIMEOUT, seconds
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]
ARTICLE_HTML = Path(__file__).resolve().parent.parent / "newsarchive" / "demo" / "article.html"


@dataclass
class Env:
    dir: Path  # a directory the command may read (and, but for a read-only fault, write)
    db: Path
    html: Path
    warc: Path
    site: str
    redis: str | None


def good_archive(path: Path) -> None:
    with Archive(path) as a:
        record = rec()
        a.save(record, RawPage(record["url"], ARTICLE_HTML.read_bytes(), 200, {"Content-Type": "text/html"},
                               record["fetched_at"]))
        a.save(rec(url="https://baodemo.vn/bai-hai-2.html", article_id="2", title="Bài hai"))


def command_args(env: Env) -> dict[str, tuple[bool, list[str]]]:
    """command -> (writes the archive, its arguments)."""
    db = ["--db", str(env.db)]
    return {
        "scrape": (True, ["scrape", str(env.html), *db]),
        "show": (False, ["show", "1", *db]),
        "export": (False, ["export", "--format", "csv", *db]),
        "export-warc": (False, ["export", "--format", "warc", "-o", os.devnull, *db]),
        "search": (False, ["search", "bai", *db]),
        "sql": (False, ["sql", "SELECT count(*) FROM articles", *db]),
        "stats": (False, ["stats", *db]),
        "serve": (False, ["serve", "--port", str(free_port()), *db]),
        "runs": (False, ["runs", *db]),
        "reparse": (True, ["reparse", *db]),
        "reparse-dry-run": (False, ["reparse", "--dry-run", *db]),
        "import-warc": (True, ["import-warc", str(env.warc), *db]),
        "crawl": (True, ["crawl", env.site, "-q", "--max-articles", "3", *FAST, *db]),
        "ingest": (True, ["ingest", "--redis", env.redis or "redis://127.0.0.1:1/0", "--until-idle", "0.5", *db]),
        "demo": (True, ["demo", "--articles", "3", *db]),
    }


COMMANDS = ["scrape", "show", "export", "export-warc", "search", "sql", "stats", "serve", "runs", "reparse",
            "reparse-dry-run", "import-warc", "crawl", "ingest", "demo"]
FAULTS = ["corrupt", "damaged-pages", "not-sqlite", "read-only-file", "read-only-dir", "locked"]
RESULTS: dict[tuple[str, str], dict] = {}  # (command, fault) -> what the case saw, for the summary row


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: list[str], cwd: Path, serve_url: str | None = None) -> tuple[int, str]:
    """The installed command as a user runs it; ``serve`` is stopped once it answers (it then serves)."""
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    env.update(NEWSARCHIVE_BUSY_TIMEOUT=BUSY, HOME=str(cwd))
    proc = subprocess.Popen([*PREFIX, sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if serve_url:
        answered: str | None = None
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline and answered is None:
            try:
                with urllib.request.urlopen(serve_url, timeout=5) as r:
                    answered = "ok" if b'"rows"' in r.read() else "no rows"
            except urllib.error.HTTPError as exc:
                answered = f"HTTP {exc.code}"
            except OSError:
                time.sleep(0.2)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            return (0 if answered == "ok" else 99), err + f"[served: {answered}]"
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.fixture(scope="module")
def sources() -> Iterator[tuple[Path, Path, DemoSite]]:
    """A good archive, its WARC export, and the demo site (the same for every case)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        good_archive(base / "good.db")
        warc = base / "pages.warc.gz"
        with Archive(base / "good.db", readonly=True) as a, warc.open("wb") as out:
            from newsarchive.warc import export_warc

            export_warc(a, out, [1])
        site = DemoSite(6)
        with serve(site):
            yield base / "good.db", warc, site


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def make_fault(fault: str, root: Path, good: Path) -> tuple[Path, Callable[[], None]]:
    """The archive with ``fault``, in a directory of its own; returns it and what undoes the fault."""
    folder = root / "archive"
    folder.mkdir()
    db = folder / "archive.db"
    undo: Callable[[], None] = lambda: None  # noqa: E731
    if fault == "corrupt":  # a valid 100-byte header, then garbage pages
        data = good.read_bytes()
        db.write_bytes(data[:100] + random.Random(7).randbytes(len(data) - 100))
    elif fault == "damaged-pages":  # the schema page intact, every other page garbage: found mid-command
        data = good.read_bytes()
        page = int.from_bytes(data[16:18], "big")
        db.write_bytes(data[:page] + random.Random(7).randbytes(len(data) - page))
    elif fault == "not-sqlite":
        db.write_text("these are notes, not a database\n" * 300)
    else:
        shutil.copyfile(good, db)
    if fault == "read-only-file":
        db.chmod(0o444)
    elif fault == "read-only-dir":
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    elif fault == "locked":
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        def release() -> None:
            holder.execute("ROLLBACK")
            holder.close()
        undo = release
    return db, undo


def listing(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir())


def expected(fault: str, writes: bool) -> int:
    """README, "Exit codes": a file that is no readable archive is 1 for every command; one that
    cannot be written (read-only, locked past the busy timeout) is 7 for a command that writes,
    and no fault at all for one that only reads (it reads without writing anything)."""
    if fault in ("corrupt", "damaged-pages", "not-sqlite"):
        return 1
    return 7 if writes else 0


@pytest.mark.reliability  # (the summary row below reports the whole matrix)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_archive_fault(command: str, fault: str, sources: tuple[Path, Path, DemoSite],
                       redis_server: str | None, tmp_path_factory: pytest.TempPathFactory) -> None:
    good, warc, site = sources
    if PREFIX and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only file cannot be made read-only for root")
    if command == "serve" and fault == "damaged-pages":
        pytest.skip("serve checks the schema page at start; damage deeper in the file is Datasette's to report, "
                    "page by page (a full integrity check would read the whole archive at every start)")
    if command == "ingest" and redis_server is None:
        pytest.skip("redis-server is not installed here (ingest needs one)")
    root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    root.chmod(0o755)
    html = root / "page.html"
    shutil.copyfile(ARTICLE_HTML, html)
    db, undo = make_fault(fault, root, good)
    files = ["archive.db"]
    env = Env(root, db, html, warc, site.base, redis_server)
    writes, args = command_args(env)[command]
    before = digest(db)
    started = time.monotonic()
    try:
        serve_url = None
        if command == "serve":
            serve_url = f"http://127.0.0.1:{args[args.index('--port') + 1]}/archive/articles.json"
        code, err = run(args, root, serve_url)
    finally:
        undo()
    elapsed = time.monotonic() - started
    lines = err.splitlines()
    want = expected(fault, writes)
    RESULTS[(command, fault)] = {
        "held": code == want and "Traceback" not in err and digest(db) == before and listing(db) == files
        and (len(lines) == 1 and lines[0].startswith("error: ") if want else True), "seconds": elapsed}
    assert "Traceback" not in err, err
    assert code == want, (code, err)
    if want:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    else:
        assert not any(line.startswith("error") for line in lines), err
    assert digest(db) == before, "the archive's bytes changed"
    assert listing(db) == files, "files were left beside the archive"
    if fault == "locked":
        assert elapsed < 30, f"waited {elapsed:.0f} s: the busy timeout is not NEWSARCHIVE_BUSY_TIMEOUT"


@pytest.mark.reliability
def test_archive_faults_summary(reliability) -> None:
    """One row of docs/reliability.md for the whole matrix above (run after it, in file order)."""
    if not RESULTS:
        pytest.skip("the archive-fault matrix did not run in this session")
    held = sum(r["held"] for r in RESULTS.values())
    locked = [r["seconds"] for (_, fault), r in RESULTS.items() if fault == "locked"]
    reliability(20, "archive-file faults", f"{len(COMMANDS)} commands × {len(FAULTS)} faults (corrupt header, pages "
                "damaged past the schema, not SQLite, read-only file, read-only directory, locked past a 1 s busy "
                "timeout): exit code as the README says, one error line, no traceback, bytes unchanged, no file left",
                cases=len(RESULTS), held=held, slowest_locked_case_s=round(max(locked), 1) if locked else "-")
    assert held == len(RESULTS)
