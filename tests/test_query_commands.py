"""sql (read-only, refused statements, time limit), stats, show --diff."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.store import Archive


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "q.db"
    a = Archive(path)
    a.save(rec())
    a.save(rec(url="https://khac.vn/b-2.html", site="khac.vn", article_id="2", authors=[], images=[], tags=[]))
    a.save(rec(body_text="Đoạn một.\n\nĐoạn hai, đã sửa.\n\nĐoạn ba mới.", fetched_at="2026-11-27T00:00:00Z"))
    a.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sql_reads_with_parameters(db: Path) -> None:
    out = run_cli("sql", "SELECT site, count(*) AS n FROM articles WHERE site = :s GROUP BY site", "-p", "s", "khac.vn",
                  "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"site": "khac.vn", "n": 1}]
    out = run_cli("sql", "SELECT author, title FROM author_articles ORDER BY author", "--csv", "--db", str(db))
    assert out.stdout.splitlines()[0] == "author,title"
    assert run_cli("sql", "PRAGMA table_info(articles)", "--db", str(db)).returncode == 0


@pytest.mark.parametrize("statement", [
    "DELETE FROM articles", "UPDATE articles SET title = 'x'", "INSERT INTO tags(name) VALUES ('x')",
    "DROP TABLE articles", "CREATE TABLE x(y)", "ATTACH DATABASE 'other.db' AS other", "PRAGMA journal_mode = DELETE",
    "PRAGMA user_version = 7", "VACUUM", "SELECT load_extension('x')", "SELEC nonsense",
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
])
def test_sql_refuses_anything_but_reading(db: Path, statement: str) -> None:
    before, files = digest(db), sorted(p.name for p in db.parent.iterdir())
    out = run_cli("sql", statement, "--time-limit", "1", "--db", str(db))
    assert out.returncode == 1, (statement, out.stdout)
    assert out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr
    assert digest(db) == before and sorted(p.name for p in db.parent.iterdir()) == files


def test_stats(db: Path) -> None:
    data = json.loads(run_cli("stats", "--json", "--db", str(db)).stdout)
    assert {r["site"]: r["articles"] for r in data["sites"]} == {"baodemo.vn": 1, "khac.vn": 1}
    coverage = {r["site"]: r for r in data["coverage"]}
    assert coverage["baodemo.vn"]["authors"] == 1.0 and coverage["khac.vn"]["authors"] == 0.0
    assert coverage["baodemo.vn"]["captions"] == 1.0 and coverage["khac.vn"]["images"] == 0.0
    assert data["revised_articles"] == 1
    text = run_cli("stats", "--db", str(db)).stdout
    assert "field coverage" in text and "khac.vn" in text


def test_show_diff(db: Path) -> None:
    out = run_cli("show", "https://baodemo.vn/bai-viet-mot-123456.html", "--diff", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "-Đoạn hai." in out.stdout and "+Đoạn hai, đã sửa." in out.stdout and "+Đoạn ba mới." in out.stdout
    assert "title" not in out.stdout.split("\n", 1)[1]  # the title did not change
    bad = run_cli("show", "1", "--diff", "--from", "2", "--to", "5", "--db", str(db))
    assert bad.returncode == 1 and "versions 1, 2" in bad.stderr


def test_export_takes_the_search_filters(db: Path) -> None:
    def urls(*args: str) -> list[str]:
        out = run_cli("export", "--db", str(db), *args)
        assert out.returncode == 0, out.stderr
        return [json.loads(line)["url"] for line in out.stdout.splitlines()]

    assert urls("--author", "Lan Anh") == ["https://baodemo.vn/bai-viet-mot-123456.html"]
    assert urls("--section", "Xã hội", "--site", "khac.vn") == ["https://khac.vn/b-2.html"]
    assert urls("--query", "doan ba") == ["https://baodemo.vn/bai-viet-mot-123456.html"]
    assert urls("--query", "khong co tu nay") == []
    assert run_cli("export", "--db", str(db), "--query", '"x').returncode == 1
