"""Cluster crawling: articles per second with 1, 2 and 4 worker processes sharing one Redis frontier,
against the demo site on loopback (politeness off), and the one writer's ingest rate. Needs
redis-server (Debian's) and the cluster extra. Figures to report, not targets: how close the
scaling comes to linear depends on this machine's cores (os.cpu_count() is printed).

    python bench/bench_cluster.py [--articles 2000] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newsarchive.demo.site import DemoSite, serve

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=16",
        "-s", "CONCURRENT_REQUESTS=16"]


def cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "newsarchive.cli", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (Debian: apt install redis-server)")
    import redis

    print(f"{args.articles:,} demo articles on loopback, politeness off, {os.cpu_count()} CPUs")
    rates: dict[int, float] = {}
    for n in (int(x) for x in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
            url = f"redis://127.0.0.1:{port}/0"
            client = redis.Redis.from_url(url)
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            site = DemoSite(args.articles)
            db = Path(tmp) / "a.db"
            with serve(site):
                started = time.monotonic()
                workers = [cli("crawl", site.base, "--redis", url, "--db", str(db), "--since", "2020-01-01", "-q",
                               *FAST, cwd=Path(tmp))]
                workers += [cli("crawl", site.base, "--redis", url, "-q", *FAST, cwd=Path(tmp)) for _ in range(n - 1)]
                for w in workers:
                    w.wait()
                crawl_s = time.monotonic() - started
            items = client.llen("newsarchive:records")
            started = time.monotonic()
            writer = cli("ingest", "--redis", url, "--db", str(db), "--until-idle", "0.3", cwd=Path(tmp))
            writer.wait()
            ingest_s = time.monotonic() - started - 0.3
            client.close()
            server.terminate()
            server.wait()
        rates[n] = args.articles / crawl_s
        print(f"{n} worker(s): {rates[n]:7.1f} articles/s ({crawl_s:.1f} s; {rates[n] / rates[min(rates)]:.2f}x one"
              f" worker, linear would be {n}x); the writer then stored {items:,} items at {items / ingest_s:,.0f}/s")


if __name__ == "__main__":
    main()
