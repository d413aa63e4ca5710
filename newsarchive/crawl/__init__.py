"""Crawling a site into the archive.

- ``plan``: what a run has to do, from the archive (no Scrapy);
- ``frontier``: the frontier protocol and the local frontier (depends on the store only);
- ``lock``: one crawl per site and database;
- ``items``, ``writer``: what spiders fetch, and the extract + store side that archives it;
- ``settings``, ``middlewares``, ``pipelines``, ``extensions``: the Scrapy components (scrapy.cfg
  points at ``settings``; every component is registered there and disables itself when not wanted);
- ``compat``: the Scrapy internals those components rely on, checked when imported;
- ``profiles``, ``runner``: settings profiles, one crawl in this process, exit codes, ``--every``.

The spiders are ``newsarchive.spiders``; a cluster worker's parts are ``newsarchive.cluster``. The
names below are the library's entry points (none of them imports Scrapy until it is called).
"""

from __future__ import annotations

from .lock import SiteLock
from .plan import CrawlPlan, make_plan, parse_duration, parse_schedule, parse_since
from .runner import EXIT_FOR_OUTCOME, child_command, every, run_crawl

__all__ = ["EXIT_FOR_OUTCOME", "CrawlPlan", "SiteLock", "child_command", "every", "make_plan", "parse_duration",
           "parse_schedule", "parse_since", "run_crawl"]
