"""The plan a run starts from: what the archive says is to do (no Scrapy, no Redis here).

The archive is the record of what is done: a run reads what is archived (the newest article, what is
due for a re-check, what failed before, whether the last run was killed) and decides from that
alone, so a crawl killed with ``kill -9`` and started again loses nothing and duplicates nothing.
Which URLs are archived is not loaded here: the frontier looks each one up as the crawl meets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..dates import utc_now
from ..sites import resolve
from ..store import Archive, default_db_path
from ..store.crawlstate import DEFAULT_SCHEDULE, CrawlState

DEFAULT_WINDOW = timedelta(days=7)  # an empty archive reaches back this far before the newest article


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``7d`` (or plain seconds)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 15m, 6h or 7d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return timedelta(seconds=float(m.group(1)) * unit)


def parse_schedule(text: str | None) -> tuple[timedelta, ...]:
    if not text:
        return DEFAULT_SCHEDULE
    return tuple(sorted(parse_duration(part) for part in text.split(",") if part.strip()))


def parse_since(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight at +07:00) or ISO 8601."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+07:00"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=datetime.fromisoformat("2000-01-01T00:00:00+07:00").tzinfo)


@dataclass
class CrawlPlan:
    key: str  # the site's one identity (sites.SiteRef.key): lock, failures, run records
    base: str
    site: str  # the records' site (host without www. and port)
    floor: datetime | None  # None: an empty archive, decided from the newest article found
    window: timedelta
    stop_at_known: bool  # incremental: a listing stops where it meets archived articles
    newest_archived: datetime | None
    revisits: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    resumed: bool = False
    # UTC, when the plan was made: articles first seen before it are "known" (archived before this run)
    started: str = field(default_factory=utc_now)


def db_path(settings: Any) -> Path:
    value = settings.get("NEWSARCHIVE_DB")
    return Path(value) if value else default_db_path()


def make_plan(settings: Any, site_arg: str, since: str | None = None, recheck: bool = False) -> CrawlPlan:
    """What a run of ``site_arg`` has to do, from the archive's state."""
    ref = resolve(site_arg)
    key, base, site = ref.key, ref.base, ref.host
    window = parse_duration(settings.get("NEWSARCHIVE_WINDOW") or "7d")
    schedule = parse_schedule(settings.get("NEWSARCHIVE_REVISIT"))
    started = utc_now()
    with Archive(db_path(settings)) as archive:
        state = CrawlState(archive)
        newest = state.newest_published(key)  # this site's articles (its port included)
        # clamped to the present: an article dated ahead (stored before dates were range-checked)
        # must not push the window past everything the site will ever publish
        newest_dt = min(datetime.fromisoformat(newest), datetime.now(UTC)) if newest else None
        interrupted = state.interrupted_run(key)
        since_dt = parse_since(since)
        if since_dt is not None:
            floor, stop = since_dt, False  # a backfill walks the whole window
        elif interrupted is not None:
            # the last run was killed: walk its whole window again (what it archived is skipped)
            bound = interrupted.get("since_bound")
            floor = datetime.fromisoformat(bound) if bound else (newest_dt - window if newest_dt else None)
            stop = False
        elif newest_dt is not None:
            floor, stop = newest_dt - window, True
        else:
            floor, stop = None, False
        plan = CrawlPlan(
            key=key, base=base, site=site, floor=floor, window=window, stop_at_known=stop,
            newest_archived=newest_dt, failures=state.failures(key), resumed=interrupted is not None,
            started=started,
        )
        if recheck:  # every archived article in the window, conditionally
            plan.revisits = state.articles_since(key, floor)
        else:
            plan.revisits = state.due_for_revisit(key, schedule)
    return plan


def media_enabled(settings: Any, base: str | None) -> bool:
    """Media are archived unless ``NEWSARCHIVE_MEDIA`` is off (``crawl --no-media``) or the site's
    profile says ``media=False``. A cluster worker's are stored by the writer (docs/cluster.md)."""
    if not settings.getbool("NEWSARCHIVE_MEDIA", True):
        return False
    if base:
        from ..sites import profile_for

        profile = profile_for(base)
        if profile is not None and not profile.media:
            return False
    return True
