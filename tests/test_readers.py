"""Readers opened before a writer starts: ``serve``, ``status`` or a reading script left open while a
crawl begins must see each commit, not the file as it was when they opened it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from test_store import rec

from newsarchive.store import Archive, read_only_uri


def test_a_reader_opened_while_nobody_writes_sees_a_later_writer(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    Archive(db).close()  # an archive at rest: the last writer removed its -wal
    assert not (tmp_path / "a.db-wal").exists()
    reader = Archive(db, readonly=True)
    assert reader.count() == 0
    writer = Archive(db)
    try:
        for n in range(300):  # enough pages for a checkpoint to rewrite the main file under the reader
            writer.save(rec(url=f"https://a.vn/bai-{n}.html", site="a.vn", article_id=str(n), title=f"Bài {n}",
                            body_text="Hà Nội " * 400))
            if n % 50 == 0:
                assert reader.count() == n + 1  # an immutable open saw 0 here, then torn pages
        writer.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert reader.count() == 300
        assert reader.conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    finally:
        writer.close()
        reader.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any file: a read-only folder cannot be made")
def test_an_archive_no_one_may_write_is_read_immutable_and_left_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    Archive(folder / "a.db").close()
    folder.chmod(0o555)
    try:
        assert read_only_uri(folder / "a.db").endswith("&immutable=1")
        con = sqlite3.connect(read_only_uri(folder / "a.db"), uri=True)
        con.execute("SELECT count(*) FROM articles").fetchone()
        con.close()
        assert sorted(p.name for p in folder.iterdir()) == ["a.db"]
    finally:
        folder.chmod(0o755)


def test_a_reader_leaves_nothing_beside_the_archive_and_cannot_write(tmp_path: Path) -> None:
    from newsarchive.store.queries import SQLError, query_rows

    db = tmp_path / "a.db"
    Archive(db).close()
    before = db.read_bytes()
    reader = Archive(db, readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.conn.execute("DELETE FROM articles")
    reader.close()
    with pytest.raises(SQLError):
        with query_rows(db, "PRAGMA query_only = OFF") as (_, rows):
            list(rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]
    assert db.read_bytes() == before


def test_opening_the_archive_again_keeps_the_locks_of_connections_already_open(tmp_path: Path) -> None:
    """A crawl process opens the archive more than once (the writer, the run recorder, look-ups).
    Closing any descriptor of the file drops every POSIX lock the process holds on it: another
    process closing the archive then believed itself the last, checkpointed and deleted the WAL under
    the first connection, whose later commits went to a deleted file ("disk I/O error", rows lost)."""
    import subprocess
    import sys

    db = tmp_path / "a.db"
    first = Archive(db)
    first.save(rec(url="https://a.vn/bai-1.html", site="a.vn", article_id="1", title="Một"))
    Archive(db).close()  # a second open and close in the same process
    Archive(db, readonly=True).close()
    subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
                    " c.execute('SELECT count(*) FROM articles').fetchone(); c.close()", str(db)], check=True)
    assert (tmp_path / "a.db-wal").exists()  # the other process knew it was not the last one
    first.save(rec(url="https://a.vn/bai-2.html", site="a.vn", article_id="2", title="Hai"))
    first.close()
    again = Archive(db, readonly=True)
    try:
        assert again.count() == 2
    finally:
        again.close()
