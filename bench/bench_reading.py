"""Reading-room speed: an archive of synthetic Vietnamese-like articles (1,000,000 by default, the
generator of bench_search.py, built through the archive's bulk path ``save_many`` with the search
indexes in sync, plus a lead-image reference per article and a media file holding a tenth of them),
served in-process (Datasette's test client, no sockets), then p50/p95 of whole page requests:

- the search page: a common query, a rare query, page 50 of a common query (newest and relevance),
  a common query with filters (site + section + date range), the empty query (newest articles);
- the article page ``/article/<id>`` (when the article page module is installed; said when not).

Targets (issue 16): search p95 < 150 ms, article p95 < 50 ms at 1,000,000 articles.

    python bench/bench_reading.py [--articles 1000000] [--db PATH] [--requests 40]

``--db`` keeps (and reuses) the built archive: a later run with the same path and size skips the build;
an archive built by older code is migrated first (said, with the time it took: at 1M, migration 015
rebuilds the search index, ~4 min). The load average is printed (the figures move with it).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).parent))
from bench_search import BYTES_PER_ARTICLE, bulk_ingest, make_records, percentile, vocabulary  # noqa: E402

from newsarchive.media import media_path  # noqa: E402
from newsarchive.store import Archive  # noqa: E402

TAGS = ["Bầu cử", "Giá vàng", "Covid-19", "Bóng đá", "Thời tiết", "Giao thông", "Chứng khoán", "Du lịch"]


def pending_migrations(db: Path) -> list[str]:
    """The migrations an existing archive has not had (opening it for writing applies them)."""
    from newsarchive.store.migrations import MIGRATIONS

    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        try:
            done = {r[0] for r in c.execute("SELECT name FROM _migrations")}
        except sqlite3.OperationalError:
            return []
    return [name for name, _ in MIGRATIONS if name not in done]


def build(db: Path, n: int) -> None:
    pending = pending_migrations(db)
    t = time.perf_counter()
    archive = Archive(db)  # an archive built by older code is migrated here (at 1M, a rebuild of the index: minutes)
    if pending:
        print(f"migrated: {', '.join(pending)} in {time.perf_counter() - t:,.0f} s")
    have = archive.count()
    if have >= n:
        archive.close()
        print(f"archive: reusing {db} ({have:,} articles)")
        return
    if have:
        raise SystemExit(f"{db} holds {have:,} articles, fewer than {n:,}: remove it or give another --db")
    tagged = ({**record, "tags": [TAGS[k % len(TAGS)]]} for k, record in enumerate(make_records(n)))
    saving = bulk_ingest(archive, tagged, n)
    print(f"ingest: {n:,} articles in {saving:,.0f} s of saving ({n / saving:,.0f}/s)")
    # a lead image per article (the reference, as the media pipeline writes it), a tenth of them held
    with archive.transaction():
        archive.conn.execute("INSERT INTO media_refs(article, position, role, url)"
                             " SELECT id, 0, 'image', 'https://img.bao.vn/' || id || '.jpg' FROM articles")
    archive.close()
    blob = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc0000b080001000101011100ffd9")
    sha = hashlib.sha256(blob).hexdigest()
    media = sqlite3.connect(media_path(db))
    from newsarchive.media import _SCHEMA

    media.executescript(_SCHEMA)
    with media:
        media.execute("INSERT OR IGNORE INTO media VALUES (?, 'image', 'image/jpeg', ?, 1, 1, ?, '2026-11-29T00:00:00Z')",
                      (sha, len(blob), blob))
        media.executemany("INSERT OR IGNORE INTO media_urls(url, sha256, status, fetched_at) VALUES (?, ?, 200, ?)",
                          ((f"https://img.bao.vn/{i}.jpg", sha, "2026-11-29T00:00:00Z") for i in range(1, n + 1, 10)))
    media.close()


async def timed(client, path: str, runs: int, expect: int = 200) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = await client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        if r.status_code != expect:
            raise SystemExit(f"{path}: status {r.status_code}: {r.text[:300]}")
    return times


async def measure(db: Path, n: int, runs: int) -> dict[str, Any]:
    """Every case's p50 and p95 (ms), printed as a table, and the worst search p95 and the article p95."""
    from newsarchive import reading
    from newsarchive.ui import make_datasette

    ds = make_datasette(db)
    client = ds.client
    await client.get("/")  # start-up: connections, templates
    rng = random.Random(5)
    vocab = vocabulary(random.Random(7))
    common, rare = vocab[:5], vocab[6000:12000]
    ids = [rng.randrange(1, n + 1) for _ in range(runs)]
    day = "2020-06-01"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        authors = [r[0] for r in c.execute("SELECT display FROM authors ORDER BY id LIMIT 50")]
    cases: dict[str, list[str]] = {
        "search: empty query (newest)": ["/"] * runs,
        "search: common word, relevance": [f"/?q={rng.choice(common)}" for _ in range(runs)],
        "search: common word, newest": [f"/?q={rng.choice(common)}&sort=newest" for _ in range(runs)],
        "search: less common word": [f"/?q={rng.choice(rare)}" for _ in range(runs)],
        "search: 2 less common words, folded": [f"/?q={reading_fold(rng.choice(rare))}+{reading_fold(rng.choice(rare))}"
                                         for _ in range(runs)],
        "search: common, page 50, relevance": [f"/?q={rng.choice(common)}&page=50" for _ in range(runs)],
        "search: common, page 50, newest": [f"/?q={rng.choice(common)}&sort=newest&page=50" for _ in range(runs)],
        "search: common + site + section + dates": [
            f"/?q={rng.choice(common)}&site=bao{rng.randrange(10)}.vn&section=kinh+te&from={day}&to=2020-12-31"
            for _ in range(runs)],
        "search: common + author (1 of 500)": [f"/?q={rng.choice(common)}&author={quote(rng.choice(authors))}"
                                               for _ in range(runs)],
        "search: common + tag (1 of 8)": [f"/?q={rng.choice(common)}&tag={quote(rng.choice(TAGS))}"
                                          for _ in range(runs)],
        "search: less common word + site": [f"/?q={rng.choice(rare)}&site=bao{rng.randrange(10)}.vn" for _ in range(runs)],
        "search.json: common, page 2": [f"/search.json?q={rng.choice(common)}&page=2" for _ in range(runs)],
        "sites: /sites": ["/sites"] * max(3, runs // 4),
        "sites: /sites/<site>": [f"/sites/bao{rng.randrange(10)}.vn" for _ in range(max(3, runs // 4))],
    }
    has_article = any(r[0].startswith("^/article") for r in reading.routes())
    print(f"\n{'page':<42} {'p50 ms':>8} {'p95 ms':>8}")
    worst_search = 0.0
    table: dict[str, tuple[float, float]] = {}
    for name, paths in cases.items():
        times = []
        for p in paths:
            times += await timed(client, p, 1)
        p95 = percentile(times, 95)
        if name.startswith("search"):
            worst_search = max(worst_search, p95)
        print(f"{name:<42} {statistics.median(times):>8.1f} {p95:>8.1f}")
        table[name] = (round(statistics.median(times), 1), round(p95, 1))
    article_p95 = None
    if has_article:
        times = []
        for i in ids:
            times += await timed(client, f"/article/{i}", 1)
        article_p95 = percentile(times, 95)
        print(f"{'article: /article/<random id>':<42} {statistics.median(times):>8.1f} {article_p95:>8.1f}")
        table["article: /article/<random id>"] = (round(statistics.median(times), 1), round(article_p95, 1))
    else:
        print("article: no /article/<id> route installed (newsarchive.reading has no article page yet): not measured")
    print(f"\nsearch p95, worst case {worst_search:.1f} ms (target < 150 ms): {'met' if worst_search < 150 else 'NOT met'}")
    if article_p95 is not None:
        print(f"article p95 {article_p95:.1f} ms (target < 50 ms): {'met' if article_p95 < 50 else 'NOT met'}")
    return {"cases": table, "worst_search_p95_ms": round(worst_search, 1),
            "article_p95_ms": round(article_p95, 1) if article_p95 is not None else None}


def reading_fold(word: str) -> str:
    from newsarchive.store.search import fold

    return fold(word)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="build (or reuse) the archive here (default: a temporary folder)")
    ap.add_argument("--requests", type=int, default=40, help="requests per case")
    ap.add_argument("--record", action="store_true", help="write bench/results/bench_reading.json (README table)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "reading.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    n = args.articles
    free = shutil.disk_usage(db.parent).free
    if not db.exists() and free < n * BYTES_PER_ARTICLE * 1.5:
        raise SystemExit(f"only {free / 2**30:.1f} GiB free at {db.parent}: too little for {n:,} articles")
    t = time.perf_counter()
    build(db, n)
    print(f"build: {time.perf_counter() - t:,.0f} s; archive {db.stat().st_size / 2**30:.2f} GiB")
    print(f"conditions: {n:,} articles, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
          f" {os.cpu_count()} CPUs (shared with other work), Datasette in-process (test client),"
          f" {args.requests} requests per case, one at a time, after one warm-up request")
    load = os.getloadavg()[0]
    out = asyncio.run(measure(db, n, args.requests))
    load = f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(load)
    if args.record:
        from results import record

        worst, article = out["worst_search_p95_ms"], out["article_p95_ms"]
        slowest = max((k for k in out["cases"] if k.startswith("search")), key=lambda k: out["cases"][k][1])
        unfiltered = max(v[1] for k, v in out["cases"].items() if k.startswith("search") and "+" not in k)
        record("bench_reading", command=f"python bench/bench_reading.py --articles {n}",
               measures="the reading room's pages (search with and without filters, page 50, data export, sites,"
                        " article) requested in-process through Datasette's test client: p50/p95",
               conditions=f"{n:,} synthetic articles ({db.stat().st_size / 2**30:.1f} GiB; 10 sites, 500 authors,"
                          f" 8 tags), {args.requests} requests per case one at a time, SQLite {sqlite3.sqlite_version}, {load}",
               figures=f"search page p95 without filters {unfiltered:.0f} ms, worst case {worst:.0f} ms ({slowest});"
                       f" target 150 ms; article page p95 {article if article is not None else 'n/a'} ms"
                       " (target 50 ms)",
               data={"articles": n, **out})


if __name__ == "__main__":
    main()
