"""Cluster crawling: articles per second with 1, 2 and 4 worker processes sharing one Redis frontier,
against the demo site on loopback (politeness off), and the one writer's ingest rate. Needs
redis-server (Debian's) and the cluster extra. How close the scaling comes to linear depends on this
machine's cores and load (both printed); the target is 2 workers >= 1.5x one worker.

    python bench/bench_cluster.py [--articles 2000] [--workers 1,2,4] [--record]

A figure counts what was archived: the articles in the archive once the writer has taken every
record the workers pushed (not the number asked for), divided by the workers' time (first start to
last exit). Every worker's and the writer's exit code is checked: a failed process, or an archive
short of the site's articles, makes the run invalid (said, exit 1, nothing recorded). Beside each
rate: the workers' CPU time per article (less moved than the rate by other processes on the
machine) and the 1-minute load before and after the run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newsarchive.demo.site import DemoSite, serve

CONCURRENCY = 16
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
        "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={CONCURRENCY}", "-s", f"CONCURRENT_REQUESTS={CONCURRENCY}"]


def cli(*args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))


def one(n: int, articles: int, binary: str) -> dict:
    """One cluster run with ``n`` workers; raises SystemExit when a process failed."""
    import redis

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(url)
            for _ in range(200):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            site = DemoSite(articles)
            db = Path(tmp) / "a.db"
            logs = [Path(tmp) / f"worker-{i}.log" for i in range(n)]
            with serve(site):
                started = time.monotonic()
                workers = [cli("crawl", site.base, "--redis", url, "--db", str(db), "--since", "2020-01-01", "-q",
                               *FAST, cwd=Path(tmp), log=logs[0])]
                workers += [cli("crawl", site.base, "--redis", url, "-q", *FAST, cwd=Path(tmp), log=logs[i])
                            for i in range(1, n)]
                codes, cpu_s = [], 0.0
                for w in workers:  # exit code and CPU time of each worker
                    _, status, usage = os.wait4(w.pid, 0)
                    w.returncode = os.waitstatus_to_exitcode(status)
                    codes.append(w.returncode)
                    cpu_s += usage.ru_utime + usage.ru_stime
                crawl_s = time.monotonic() - started
            items = client.llen("newsarchive:records")
            started = time.monotonic()
            wlog = Path(tmp) / "writer.log"
            writer = cli("ingest", "--redis", url, "--db", str(db), "--until-idle", "0.3", cwd=Path(tmp), log=wlog)
            writer_code = writer.wait()
            ingest_s = max(1e-3, time.monotonic() - started - 0.3)
            archived = sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0] if db.exists() else 0
            client.close()
            failed = [(f"worker {i + 1}", c, logs[i]) for i, c in enumerate(codes) if c != 0]
            if writer_code != 0:
                failed.append(("writer", writer_code, wlog))
            if failed:
                for name, code, log in failed:
                    print(f"INVALID: {name} exited {code}: {log.read_text(errors='replace')[-600:].strip()}",
                          file=sys.stderr)
                raise SystemExit(1)
            if archived < articles:
                print(f"INVALID: {n} worker(s) archived {archived:,} of the site's {articles:,} articles",
                      file=sys.stderr)
                raise SystemExit(1)
        finally:
            server.terminate()
            server.wait()
    return {"workers": n, "archived": archived, "crawl_s": crawl_s, "rate": archived / crawl_s,
            "worker_cpu_ms_per_article": 1000 * cpu_s / max(1, archived), "load_after": os.getloadavg()[0],
            "pushed": items, "ingest_s": ingest_s, "ingest_rate": items / ingest_s, "exit_codes": codes}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--record", action="store_true", help="write bench/results/bench_cluster.json")
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (Debian: apt install redis-server)")
    conditions = (f"{args.articles:,} demo articles on loopback; politeness off (no delay, no AutoThrottle),"
                  f" CONCURRENT_REQUESTS {CONCURRENCY} per worker; workers push records and raw pages to Redis,"
                  " the one writer (newsarchive ingest) stores them after the workers end; media on: the demo"
                  " site's 1-2 images per article are at an address the guard refuses (127.0.0.9), so ~1.3 media"
                  " requests per article go through the shared queue and fail without a connection; the rate"
                  " counts articles in the archive at the end over the workers' time")
    print(f"{conditions}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    runs: dict[int, dict] = {}
    for n in (int(x) for x in args.workers.split(",")):
        load = os.getloadavg()[0]
        r = runs[n] = one(n, args.articles, binary)
        r["load_before"] = load
        base = runs[min(runs)]["rate"]
        print(f"{n} worker(s): {r['archived']:,} articles archived, {r['rate']:7.1f} articles/s ({r['crawl_s']:.1f} s;"
              f" {r['rate'] / base:.2f}x {min(runs)} worker(s), linear would be {n / min(runs):.0f}x; exit codes"
              f" {r['exit_codes']}; workers' CPU {r['worker_cpu_ms_per_article']:.1f} ms per article; load"
              f" {r['load_before']:.1f} -> {r['load_after']:.1f}); the writer then stored {r['pushed']:,} items at"
              f" {r['ingest_rate']:,.0f}/s")
    if 1 in runs and 2 in runs:
        scale = runs[2]["rate"] / runs[1]["rate"]
        print(f"2 workers / 1 worker: {scale:.2f}x (target >= 1.5x)")
    if args.record:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from results import record

        parts = [f"{n} worker(s) {r['rate']:.0f} articles/s" + (f" ({r['rate'] / runs[min(runs)]['rate']:.2f}x)"
                                                                  if n != min(runs) else "") for n, r in runs.items()]
        ingest = max(r["ingest_rate"] for r in runs.values())
        record("bench_cluster", command=f"python bench/bench_cluster.py --articles {args.articles}"
                                        f" --workers {args.workers}",
               measures="articles archived per second by 1, 2, 4 cluster workers sharing a Redis frontier;"
                        " the one writer's store rate",
               conditions=conditions,
               figures="; ".join(parts) + f"; the writer stored up to {ingest:,.0f} items/s (target: 2 workers"
                                          " >= 1.5x one)",
               data={"articles": args.articles, "runs": runs})


if __name__ == "__main__":
    main()
