"""Crawl speed and memory: a whole crawl (fetch, extract, store) of the demo site on loopback with
politeness off, against a bare Scrapy spider that only fetches the same article pages, in the same
run; then the crawl's peak memory at growing sizes.

    python bench/bench_crawl.py [--articles 5000] [--memory 5000,20000,50000]

Each crawl runs in its own process (the Twisted reactor cannot restart); the demo site is served
from this process on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from newsarchive.demo.site import DemoSite, serve

FAST = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "RETRY_ENABLED": False,
    "LOG_LEVEL": "ERROR",
}

CRAWL = """
import json, sys, resource
from pathlib import Path
from newsarchive.crawl import run_crawl
base, db, settings = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
outcome, stats = run_crawl(base, db, since="2000-01-01", quiet=True, settings=settings)
print(json.dumps({"outcome": outcome, "new": stats.get("newsarchive/new", 0),
                  "pages": stats.get("response_received_count", 0),
                  "elapsed": stats.get("elapsed_time_seconds"),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BARE = """
import json, sys, resource, scrapy
from scrapy.crawler import CrawlerProcess
urls, settings = json.loads(open(sys.argv[1]).read()), json.loads(sys.argv[2])

class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for url in urls:
            yield scrapy.Request(url, callback=self.parse)
    def parse(self, response):
        pass

process = CrawlerProcess({**settings, "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False})
crawler = process.create_crawler(Bare)
process.crawl(crawler)
process.start()
stats = crawler.stats.get_stats()
print(json.dumps({"pages": stats.get("response_received_count", 0), "elapsed": stats.get("elapsed_time_seconds"),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_json(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def crawl(n: int, tmp: Path) -> tuple[dict, DemoSite]:
    site = DemoSite(n, spacing=timedelta(minutes=10), page_size=15, sitemap_days=10_000, rss_items=40)
    with serve(site) as base:
        result = run_json(CRAWL, base, str(tmp / f"crawl-{n}.db"), json.dumps(FAST))
    return result, site


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--memory", default="5000,20000,50000", help="crawl sizes for the memory figures ('' to skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        result, site = crawl(args.articles, tmp)
        rate = result["new"] / result["elapsed"]
        site2 = DemoSite(args.articles, spacing=timedelta(minutes=10), page_size=15, sitemap_days=10_000)
        with serve(site2):
            urls = tmp / "urls.json"
            urls.write_text(json.dumps([site2.url(a) for a in site2.order]))
            bare = run_json(BARE, str(urls), json.dumps(FAST))
        bare_rate = bare["pages"] / bare["elapsed"]
        print(f"demo site: {args.articles} articles on 127.0.0.1, politeness off")
        print(f"newsarchive crawl : {result['new']} articles ({result['pages']} pages) in {result['elapsed']:.1f} s"
              f" = {rate:7.1f} articles/s   (target >= 150)   outcome {result['outcome']}")
        print(f"bare Scrapy fetch : {bare['pages']} pages in {bare['elapsed']:.1f} s = {bare_rate:7.1f} pages/s")
        print(f"ratio crawl / bare fetch: {rate / bare_rate:5.2f}   (target >= 0.40)")
        sizes = [int(x) for x in args.memory.split(",") if x.strip()]
        if sizes:
            print("peak memory of the crawl process (target < 300 MB at 50,000):")
            print(f"  bare fetch of {args.articles}: {bare['peak_rss_mb']:.0f} MB")
            for n in sizes:
                started = time.monotonic()
                r, _ = crawl(n, tmp) if n != args.articles else (result, site)
                wall = time.monotonic() - started
                print(f"  crawl of {n:>6} articles: {r['peak_rss_mb']:6.0f} MB  ({r['new']} new, "
                      f"{r['new'] / r['elapsed']:.0f} articles/s, {wall:.0f} s wall)")


if __name__ == "__main__":
    main()
