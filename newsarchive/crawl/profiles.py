"""Settings profiles: what a kind of run changes in the project's settings (newsarchive.crawl.settings).

``cluster`` is applied by the OneCMS spider itself (``update_settings``) whenever
``NEWSARCHIVE_REDIS`` is set, so ``scrapy crawl onecms -a site=… -s NEWSARCHIVE_REDIS=…`` is the same
cluster worker as ``newsarchive crawl --redis``. ``FAST_LOCAL`` is for the demo and benchmarks.
"""

from __future__ import annotations

import os
from typing import Any

# Politeness off, for the built-in demo site and benchmarks on loopback only.
FAST_LOCAL: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
}


def apply_cluster(settings: Any) -> None:
    """A worker of a cluster run (docs/cluster.md): the frontier and scrapy-redis's scheduler in
    Redis on the run's keys, the site's delay kept across workers (SharedSitePoliteness) rather
    than by this process's downloader (a ``-s DOWNLOAD_DELAY=2`` becomes the site's shared delay)."""

    def put(name: str, value: Any) -> None:
        # above "cmdline" (40): the profile's values hold when Scrapy merges the process's settings
        # into the crawler's again (CrawlerRunner.create_crawler does, at equal priority)
        settings.set(name, value, priority=max(settings.getpriority(name) or 0, 40) + 1)

    if settings.get("NEWSARCHIVE_SITE_DELAY") is None:  # (once: the profile may be applied twice)
        put("NEWSARCHIVE_SITE_DELAY", settings.getfloat("DOWNLOAD_DELAY"))
    put("DOWNLOAD_DELAY", 0)
    put("AUTOTHROTTLE_ENABLED", False)
    put("NEWSARCHIVE_FRONTIER", "newsarchive.cluster.worker.RedisFrontier")
    put("SCHEDULER", "newsarchive.cluster.worker.ClusterScheduler")
    # scrapy-redis's scheduler builds Scrapy's own filter through from_settings, which Scrapy 2.13+
    # no longer has: its own filter (on the run's key, set in ClusterScheduler.open) instead
    put("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter")
    put("REDIS_URL", settings.get("NEWSARCHIVE_REDIS"))
    put("SCHEDULER_PERSIST", True)
    if settings.get("NEWSARCHIVE_CLUSTER_PLAN") is None:
        # the worker that can read the archive plans the run; the others join it
        put("NEWSARCHIVE_CLUSTER_PLAN", bool(settings.get("NEWSARCHIVE_DB") or os.environ.get("NEWSARCHIVE_DB")))
