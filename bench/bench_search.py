"""Search speed: a synthetic archive of Vietnamese-like articles (1,000,000 by default), built through
the archive's own bulk path with the search indexes kept in sync, then p50/p95 latency of 1-, 2- and
3-word queries (rare terms, common terms that match most of the archive, with and without
diacritics) in relevance and newest-first order, against a plain bm25 ranking over every match in
the same run.

    python bench/bench_search.py [--articles 1000000] [--db PATH] [--queries 40]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsarchive.store import Archive
from newsarchive.store import search as fts

BYTES_PER_ARTICLE = 6_000  # measured on this generator: text, revisions, indexes
ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "s", "t", "th",
          "tr", "v", "x"]
VOWELS = list("aàáảãạăắằẳẵặâấầẩẫậeèéẻẽẹêếềểễệiìíỉĩịoòóỏõọôốồổỗộơớờởỡợuùúủũụưứừửữựy")
CODAS = ["", "n", "ng", "nh", "m", "c", "ch", "t", "i", "o", "u"]


def vocabulary(rng: random.Random, size: int = 12_000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS))
    # sorted first: a set's order changes with the process's hash seed, the shuffle must not
    return sorted(sorted(words), key=lambda w: rng.random())


def make_records(n: int, seed: int = 7):
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(vocab))]
    sites = [f"bao{i}.vn" for i in range(10)]
    sections = ["Xã hội", "Kinh tế", "Thế giới", "Giáo dục", "Y tế", "Thể thao", "Văn hóa", "Pháp luật"]
    authors = [" ".join(rng.choice(vocab).capitalize() for _ in range(2)) for _ in range(500)]
    start = datetime(2020, 1, 1, tzinfo=UTC)
    batch = 20_000
    for offset in range(0, n, batch):
        words = rng.choices(vocab, weights=weights, k=min(batch, n - offset) * 260)
        for i in range(min(batch, n - offset)):
            k = offset + i
            w = words[i * 260:(i + 1) * 260]
            body = ". ".join(" ".join(w[j:j + 20]) for j in range(35, 260, 20))
            yield {
                "url": f"https://{sites[k % 10]}/bai-{k}-{k}.html", "site": sites[k % 10], "article_id": str(k),
                "kind": "article", "title": " ".join(w[:10]).capitalize(), "sapo": " ".join(w[10:35]).capitalize(),
                "dateline": None, "authors": [authors[k % 500]],
                "published_at": (start + timedelta(minutes=3 * k)).astimezone().isoformat(timespec="seconds"),
                "modified_at": None, "section": sections[k % 8], "breadcrumb": [sections[k % 8]], "tags": [],
                "body_text": body, "images": [], "source": None, "language": "vi", "extractor": "bench",
                "extractor_version": "1", "fetched_at": "2026-11-26T00:00:00Z",
            }
    return vocab


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bulk_ingest(archive: Archive, records, n: int) -> float:
    """Store ``n`` records through the bulk path (``save_many``, 2,000 per transaction, no raw
    pages); the seconds spent in the archive only, not in making up the articles."""
    saving = 0.0
    chunk: list = []
    done = 0
    for record in records:
        chunk.append((record, None))
        if len(chunk) == 2000 or done + len(chunk) == n:
            t = time.perf_counter()
            archive.save_many(chunk)
            saving += time.perf_counter() - t
            done += len(chunk)
            chunk = []
            if done % 100_000 == 0:
                print(f"  {done:,} articles, {done / saving:,.0f}/s", file=sys.stderr)
    return saving


def crawl_path(n: int) -> tuple[float, float]:
    """Articles per second stored as a crawl stores them: one ``save()`` (one transaction) per
    article, with its raw page (bench_extract's ~100 KB synthetic pages) compressed beside it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_extract import synthetic_pages

    from newsarchive import extract
    from newsarchive.store import RawPage

    headers = {"Content-Type": "text/html; charset=utf-8"}
    base = synthetic_pages()
    items = []
    for k in range(n):
        url, body = base[k % len(base)]
        old = url.rsplit("-", 1)[1].split(".")[0]
        url, body = url.replace(old, str(3_000_000 + k)), body.replace(f"-{old}.html".encode(), f"-{3_000_000 + k}.html".encode())
        items.append((extract(body, url, headers=headers), RawPage(url, body, 200, headers, None)))
    size = sum(len(p.body) for _, p in items) / n
    with tempfile.TemporaryDirectory() as tmp, Archive(Path(tmp) / "crawl.db") as archive:
        started = time.perf_counter()
        for record, page in items:
            archive.save(record, page)
        rate = n / (time.perf_counter() - started)
    print(f"crawl path: {n:,} articles at {rate:,.0f} articles/s, one transaction each with its {size / 1024:.0f} KB"
          " raw page compressed")
    return rate, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="keep the archive here (default: a temporary folder)")
    ap.add_argument("--queries", type=int, default=40, help="queries per class")
    ap.add_argument("--crawl-path", type=int, default=5_000, metavar="N",
                    help="also store N articles the way a crawl does (default 5,000; 0: skip)")
    ap.add_argument("--record", action="store_true", help="write bench/results/bench_search.json (the README's figures)")
    args = ap.parse_args()
    crawl_rate = crawl_path(args.crawl_path) if args.crawl_path else None
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "bench.db"
    free = shutil.disk_usage(db.parent).free
    n = args.articles
    if free < n * BYTES_PER_ARTICLE * 1.5:
        n = max(10_000, int(free / BYTES_PER_ARTICLE / 1.5) // 10_000 * 10_000)
        print(f"only {free / 2**30:.1f} GiB free: building {n:,} articles instead of {args.articles:,}")
    archive = Archive(db)
    rng = random.Random(11)
    vocab = vocabulary(random.Random(7))
    rate = None
    if archive.count() < n:
        rate = n / bulk_ingest(archive, make_records(n), n)
        print(f"ingest: {n:,} articles at {rate:,.0f} articles/s with the search index in sync (target >= 5,000)")
    conn = archive.conn
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    total = conn.execute("PRAGMA page_count").fetchone()[0] * page_size
    try:
        index_bytes = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_%'").fetchone()[0]
    except Exception:
        index_bytes = None
    print(f"archive: {n:,} articles, {total / 2**30:.2f} GiB"
          + (f", search indexes {index_bytes / 2**30:.2f} GiB" if index_bytes else ""))

    common = vocab[:5]  # the generator's most frequent words: each matches most of the archive
    rare = vocab[6000:12000]
    classes = {}
    for words in (1, 2, 3):
        classes[f"{words}-word rare, diacritics"] = [" ".join(rng.sample(rare, words)) for _ in range(args.queries)]
        classes[f"{words}-word rare, folded"] = [fts.fold(q) for q in classes[f"{words}-word rare, diacritics"]]
        classes[f"{words}-word common, diacritics"] = [" ".join(rng.sample(common, words)) for _ in range(args.queries)]
        classes[f"{words}-word common, folded"] = [fts.fold(q) for q in classes[f"{words}-word common, diacritics"]]
    print(f"{'query class':<32} {'relevance p50/p95 ms':>22} {'newest p50/p95 ms':>20} {'matches (median)':>17}")
    worst = 0.0
    for name, queries in classes.items():
        rel, new, hits = [], [], []
        for q in queries:
            t = time.perf_counter()
            fts.search(conn, q, limit=20, sort="relevance")
            rel.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            fts.search(conn, q, limit=20, sort="newest")
            new.append((time.perf_counter() - t) * 1000)
        for q in queries[:5]:
            hits.append(conn.execute("SELECT count(*) FROM search_folded WHERE search_folded MATCH ?",
                                     (fts.parse_query(q).folded,)).fetchone()[0])
        worst = max(worst, percentile(rel, 95), percentile(new, 95))
        print(f"{name:<32} {percentile(rel, 50):>10.1f} /{percentile(rel, 95):>8.1f} "
              f"{percentile(new, 50):>9.1f} /{percentile(new, 95):>7.1f} {statistics.median(hits):>17,.0f}")
    print(f"worst p95: {worst:.1f} ms (target < 50 ms for every class)")
    q = fts.parse_query(" ".join(common[:2])).folded
    t = time.perf_counter()
    conn.execute("SELECT rowid FROM search_folded WHERE search_folded MATCH ? ORDER BY bm25(search_folded) LIMIT 20",
                 (q,)).fetchall()
    plain = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    fts.search(conn, " ".join(common[:2]), limit=20)
    ours = (time.perf_counter() - t) * 1000
    print(f"baseline, plain bm25 over every match of a 2-word common query: {plain:.0f} ms; newsarchive: {ours:.1f} ms"
          f" ({plain / max(ours, 0.001):.0f}x faster)")
    if args.record:
        from results import record

        ingest = (f"bulk ingest (`save_many`, 2,000 records per transaction, no raw pages, every index in sync)"
                  f" {rate:,.0f} articles/s (target 5,000); " if rate else "")
        crawl = (f"the crawl's store path (one transaction per article with its ~{crawl_rate[1] / 1024:.0f} KB raw"
                 f" page compressed) {crawl_rate[0]:,.0f} articles/s; " if crawl_rate else "")
        record("bench_search", command="python bench/bench_search.py",
               measures="search latency (p50/p95) of 1-, 2-, 3-word queries, rare and common, with and without"
                        " diacritics, relevance and newest-first; ingest rates",
               conditions=f"{n:,} synthetic Vietnamese-like articles ({total / 2**30:.1f} GiB), {args.queries} queries"
                          " per class, 20 results each; the baseline is plain bm25 over every match",
               figures=f"{ingest}{crawl}worst p95 of any query class {worst:.1f} ms (target 50 ms); plain bm25 over"
                       f" every match of a common 2-word query {plain:,.0f} ms against {ours:.1f} ms"
                       f" ({plain / max(ours, 0.001):.0f}×)",
               data={"articles": n, "ingest_rate": rate, "crawl_path": crawl_rate, "worst_p95_ms": worst,
                     "plain_ms": plain, "ours_ms": ours})
    archive.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
