"""Output a spreadsheet opens safely (CSV injection), JSON of any column (BLOBs), and bounded
queries: values past 64 MiB refused at once by `sql` and by the Datasette UI."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import time
from pathlib import Path

import pytest
from conftest import run_cli
from test_store import rec

from newsarchive.store import Archive, RawPage

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Articles whose title, author, section and body start like spreadsheet formulas."""
    path = tmp_path / "archive.db"
    with Archive(path) as a:
        for n, formula in enumerate(FORMULAS, 1):
            record = rec(url=f"https://baodemo.vn/bai-{n}.html", article_id=str(n), title=formula,
                         authors=[formula], section=formula, tags=[], images=[],
                         body_text=f"{formula} đoạn văn", sapo=None)
            a.save(record, RawPage(record["url"], b"<html>\x00\xff</html>", 200, {}, record["fetched_at"]))
    return path


# run_cli reads the output as text: a CR comes back as a newline
SHOWN = ["'" + f.replace("\r", "\n") for f in FORMULAS]


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (cell, row)


def test_export_csv_neutralises_formulas(db: Path) -> None:
    out = run_cli("export", "--format", "csv", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rows = cells(out.stdout)
    assert_safe(rows)
    titles = [r[rows[0].index("title")] for r in rows[1:]]
    assert sorted(titles) == sorted(SHOWN)  # kept, readable, one quote in front


def test_search_csv_neutralises_formulas(db: Path) -> None:
    out = run_cli("search", "doan van", "--csv", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rows = cells(out.stdout)
    assert len(rows) == 1 + len(FORMULAS)
    assert_safe(rows)
    assert {r[2] for r in rows[1:]} == set(SHOWN)


def test_sql_csv_neutralises_text_but_not_numbers(db: Path) -> None:
    out = run_cli("sql", "SELECT title, -5 AS n, -2.5 AS x, '-5' AS s, x'00ff' AS b FROM articles ORDER BY id",
                  "--csv", "--db", str(db))
    assert out.returncode == 0, out.stderr
    rows = cells(out.stdout)
    assert rows[0] == ["title", "n", "x", "s", "b"]
    # an INTEGER or REAL from SQLite is a number, not a formula; the same characters as TEXT are not
    assert [r[1:] for r in rows[1:]] == [["-5", "-2.5", "'-5", "00FF"]] * len(FORMULAS)
    assert [r[0] for r in rows[1:]] == SHOWN


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT x'00ff' AS v", b"\x00\xff"),
    ("SELECT zeroblob(10) AS v", bytes(10)),
    ("SELECT body AS v FROM pages LIMIT 1", None),  # zlib-compressed page: binary
])
def test_sql_json_encodes_blobs(db: Path, sql: str, expected: bytes | None) -> None:
    out = run_cli("sql", sql, "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    value = row["v"]
    assert value.keys() == {"$base64", "encoded"} and value["$base64"] is True
    raw = base64.b64decode(value["encoded"])
    if expected is not None:
        assert raw == expected
    else:
        import zlib

        assert zlib.decompress(raw) == b"<html>\x00\xff</html>"


def test_sql_json_of_other_values(db: Path) -> None:
    out = run_cli("sql", "SELECT 1e999 AS inf, -1e999 AS ninf, NULL AS z, CAST(x'ff41' AS TEXT) AS bad, 'Đà' AS t",
                  "--json", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"inf": "Infinity", "ninf": "-Infinity", "z": None, "bad": "\ufffdA", "t": "Đà"}]
    assert "Infinity," not in out.stdout.replace('"Infinity"', "")  # strict JSON: no bare Infinity
    assert run_cli("sql", "SELECT 1 WHERE 0", "--json", "--db", str(db)).stdout.strip() == "[]"


@pytest.mark.parametrize("sql", [
    "SELECT zeroblob(2000000000)",
    "SELECT zeroblob(200000000)",
    "SELECT randomblob(300000000)",
    "SELECT length(replace(printf('%.*c', 10000000, 'x'), 'x', 'xxxxxxxxxx'))",
    "SELECT length(group_concat(printf('%.*c', 1000000, 'x'))) FROM"
    " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100) SELECT i FROM c)",
])
def test_sql_refuses_huge_values_quickly(db: Path, sql: str) -> None:
    started = time.monotonic()
    out = run_cli("sql", sql, "--json", "--db", str(db))
    assert time.monotonic() - started < 10
    assert out.returncode == 1, out.stdout[:200]
    assert out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1 and "64 MiB" in out.stderr
    assert len(out.stdout) < 1000


@pytest.mark.parametrize("width", [2_000_000_000, 1_000_000_000, 100_000_000])
def test_sql_printf_past_the_limit_is_null_at_once(db: Path, width: int) -> None:
    # SQLite's printf() and format() answer NULL, not an error, past SQLITE_LIMIT_LENGTH, but only
    # after walking the whole width (12 s for 2e9, uninterruptible): newsarchive's answers at once
    started = time.monotonic()
    out = run_cli("sql", f"SELECT printf('%.*c', {width}, 'x') AS v", "--json", "--db", str(db))
    assert time.monotonic() - started < 5
    assert out.returncode == 0 and json.loads(out.stdout) == [{"v": None}]


def test_sql_streams_and_stops_at_max_rows(db: Path) -> None:
    series = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) SELECT i FROM c"
    out = run_cli("sql", series, "--csv", "--db", str(db))
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 5001
    out = run_cli("sql", series, "--json", "--max-rows", "100", "--db", str(db))
    assert out.returncode == 1 and "more than 100 rows" in out.stderr and len(out.stderr.splitlines()) == 1
    assert len(json.loads(out.stdout)) == 100  # what came before the stop is valid JSON
    table = run_cli("sql", series, "--max-rows", "10", "--db", str(db))
    assert table.returncode == 1 and "more than 10 rows" in table.stderr


datasette = pytest.importorskip("datasette", reason="the ui extra (datasette) is not installed")


@pytest.mark.parametrize("sql", [
    "select zeroblob(200000000)",
    "select randomblob(500000000)",
    "select replace(printf('%.*c', 10000000, 'x'), 'x', 'xxxxxxxxxx')",
])
def test_datasette_refuses_huge_values_quickly(db: Path, sql: str) -> None:
    from urllib.parse import quote

    from newsarchive.ui import make_datasette

    ds = make_datasette(db)
    started = time.monotonic()
    response = asyncio.run(ds.client.get(f"/archive.json?sql={quote(sql)}"))
    assert time.monotonic() - started < 5
    assert response.status_code == 400 and len(response.content) < 10_000, response.status_code
    assert "too big" in response.text
    ok = asyncio.run(ds.client.get(f"/archive.json?sql={quote('select length(zeroblob(1000)) as n')}&_shape=array"))
    assert ok.status_code == 200 and ok.json() == [{"n": 1000}]
    huge_printf = quote("select printf('%.*c', 150000000, 'x') as v")
    printf = asyncio.run(ds.client.get(f"/archive.json?sql={huge_printf}&_shape=array"))
    assert printf.status_code == 200 and printf.json() == [{"v": None}]


@pytest.mark.reliability
def test_output_safety_summary(db: Path, reliability) -> None:
    """One row of docs/reliability.md: spreadsheet cells, BLOBs and huge values through sql."""
    csv_out = run_cli("sql", "SELECT '=1+1' AS a, '-5' AS b, -5 AS c, '@x' AS d", "--csv", "--db", str(db))
    blob = run_cli("sql", "SELECT x'00ff' AS b", "--json", "--db", str(db))
    started = time.monotonic()
    huge = run_cli("sql", "SELECT zeroblob(2000000000)", "--db", str(db))
    huge_s = time.monotonic() - started
    reliability(22, "output safety and query bounds", "sql --csv of formula-like text and a negative number; "
                "sql --json of a BLOB; SELECT zeroblob(2000000000)", csv=csv_out.stdout.splitlines()[-1],
                blob_json=blob.stdout.strip().replace("\n", " ")[:60], huge_exit=huge.returncode,
                huge_wall_s=round(huge_s, 1))
    assert csv_out.stdout.splitlines()[-1] == "'=1+1,'-5,-5,'@x"
    assert '"$base64": true' in blob.stdout
    assert huge.returncode == 1 and len(huge.stderr.strip().splitlines()) == 1


def test_sql_printf_is_sqlites_below_the_limit(db: Path) -> None:
    out = run_cli("sql", "SELECT printf('%d-%s %5.2f %%', 3, 'a', 2.5) AS a, format('%q', 'it''s') AS b,"
                  " length(printf('%.*c', 1000, 'x')) AS c", "--json", "--db", str(db))
    assert json.loads(out.stdout) == [{"a": "3-a  2.50 %", "b": "it''s", "c": 1000}]
