"""Running crawls: one crawl in this process (``run_crawl``), its exit codes, and the ``--every``
loop (each run a child process: the reactor cannot restart)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .profiles import FAST_LOCAL

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ROBOTS, EXIT_LOCKED, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 6
EXIT_STORAGE = 7  # the archive cannot be written (disk full, quota, read-only): nothing half-written
EXIT_DEGRADED = 8  # the run archived, but fields the site's pages always had came out empty


def project_settings(overrides: dict[str, Any] | None = None) -> Any:
    """The project's Scrapy settings (newsarchive.crawl.settings, as scrapy.cfg names them), with overrides."""
    from scrapy.settings import Settings

    from . import settings as module

    s = Settings()
    s.setmodule(module, priority="project")
    if overrides:
        s.setdict(overrides, priority="cmdline")
    return s


EXIT_FOR_OUTCOME = {
    "success": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "failed": EXIT_FAILED,
    "robots_denied": EXIT_ROBOTS,
    "lock_held": EXIT_LOCKED,
    "interrupted": EXIT_INTERRUPTED,
    "storage_error": EXIT_STORAGE,
    "degraded": EXIT_DEGRADED,  # the drift alarm: fields the site always had dropped (newsarchive.drift)
    "unknown_category": EXIT_USAGE,  # --category (or the URL's path) names no category of the site
    "not_onecms": EXIT_FAILED,  # nothing on the site looked like a OneCMS listing, feed, sitemap or article
}


def run_crawl(site: str, db: Path, *, since: str | None = None, max_articles: int | None = None,
              category: str | None = None, recheck: bool = False, quiet: bool = False, verbose: bool = False,
              revisit: str | None = None, settings: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """One crawl in this process (the Twisted reactor cannot restart: call once per process).
    Returns the outcome and the final stats."""
    from scrapy.crawler import CrawlerProcess

    from ..spiders.onecms import OneCMSSpider

    overrides: dict[str, Any] = {
        "NEWSARCHIVE_DB": str(db),
        "NEWSARCHIVE_QUIET": quiet,
        # what goes wrong is counted, recorded in the run and summed up in one line; Scrapy's own
        # error log (tracebacks included) is for --verbose
        "LOG_LEVEL": "DEBUG" if verbose else "CRITICAL",
    }
    if revisit:
        overrides["NEWSARCHIVE_REVISIT"] = revisit
    overrides.update(settings or {})
    crawl_settings = project_settings(overrides)
    if not crawl_settings.get("NEWSARCHIVE_REDIS") or crawl_settings.getbool("NEWSARCHIVE_CLUSTER_PLAN"):
        from .plan import make_plan

        # the archive's state, read once before Scrapy starts: a page damaged past the header (the
        # failures, the articles due for a re-check) fails here, as one error, not inside the engine
        # (a traceback, and a run without stats)
        make_plan(crawl_settings, site, since, recheck)
    process = CrawlerProcess(crawl_settings)
    crawler = process.create_crawler(OneCMSSpider)
    process.crawl(crawler, site=site, since=since, max_articles=max_articles, category=category,
                  recheck=recheck)
    process.start()
    stats = crawler.stats.get_stats()
    return str(stats.get("newsarchive/outcome", "failed")), stats


def child_command(site: str, db: Path, args: dict[str, Any]) -> list[str]:
    """The command line of one run of an ``--every`` loop."""
    command = [sys.executable, "-m", "newsarchive.cli", "crawl", site, "--db", str(db)]
    for flag in ("since", "max_articles", "category", "revisit"):
        if args.get(flag):  # a relative --since (7d) as written, so each run's cut-off moves with time
            command += [f"--{flag.replace('_', '-')}", str(getattr(args[flag], "given", args[flag]))]
    for flag in ("recheck", "quiet", "verbose"):
        if args.get(flag):
            command.append(f"--{flag}")
    for name, value in (args.get("settings") or {}).items():
        command += ["-s", f"{name}={value}"]
    return command


def every(site: str, db: Path, interval: timedelta, args: dict[str, Any]) -> int:
    """Crawl again and again, each run in a child process (the reactor cannot restart), until
    SIGTERM or Ctrl-C, which stop the loop cleanly after passing the signal to a running child."""
    import signal
    import subprocess

    stop = {"flag": False}
    child: dict[str, Any] = {"proc": None}

    def on_signal(signum: int, frame: Any) -> None:
        stop["flag"] = True
        if child["proc"] is not None and child["proc"].poll() is None:
            child["proc"].send_signal(signal.SIGTERM)  # a child still starting just dies (as after kill -9)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    command = child_command(site, db, args)
    code = EXIT_OK
    number = 0
    while not stop["flag"]:
        started = time.monotonic()
        number += 1
        child["proc"] = subprocess.Popen(command)
        code = child["proc"].wait()
        child["proc"] = None
        if not stop["flag"]:
            wait = max(0.0, interval.total_seconds() - (time.monotonic() - started))
            ended = datetime.now(UTC)
            sys.stderr.write(f"{ended.strftime('%Y-%m-%dT%H:%M:%SZ')} run {number} of {site} ended (exit {code});"
                             f" next run at {(ended + timedelta(seconds=wait)).strftime('%Y-%m-%dT%H:%M:%SZ')}\n")
            sys.stderr.flush()
        while not stop["flag"] and time.monotonic() - started < interval.total_seconds():
            time.sleep(0.2)
    return code if code in (EXIT_OK, EXIT_PARTIAL) else EXIT_OK


__all__ = ["EXIT_DEGRADED", "EXIT_FAILED", "EXIT_FOR_OUTCOME", "EXIT_INTERRUPTED", "EXIT_LOCKED", "EXIT_OK",
           "EXIT_PARTIAL", "EXIT_ROBOTS", "EXIT_STORAGE", "EXIT_USAGE", "FAST_LOCAL", "child_command", "every",
           "project_settings", "run_crawl"]
