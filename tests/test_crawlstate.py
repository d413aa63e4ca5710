"""The crawl state kept in the archive: the re-check schedule, failures, runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_store import rec

from newsarchive.crawl import parse_duration, parse_schedule
from newsarchive.store import Archive
from newsarchive.store.crawlstate import CrawlState

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def at(delta: timedelta) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


def test_revisits_taper_after_publication(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "a.db")
    state = CrawlState(archive)
    cases = {
        # published (before NOW), last checked (relative to NOW), due?
        "fresh-1.html": (timedelta(minutes=30), -timedelta(minutes=29), False),  # no step reached yet
        "hour-2.html": (timedelta(hours=2), -timedelta(hours=1, minutes=50), True),  # 1 h step passed since check
        "checked-3.html": (timedelta(hours=2), -timedelta(minutes=30), False),  # checked after the 1 h step
        "day-4.html": (timedelta(hours=30), -timedelta(hours=20), True),  # 24 h step passed since check
        "week-5.html": (timedelta(days=8), -timedelta(days=6), True),  # 7 d step passed since check
        "old-6.html": (timedelta(days=30), -timedelta(days=20), False),  # checked after its last step
    }
    for name, (age, checked, _) in cases.items():
        published = (NOW - age).astimezone().isoformat()
        archive.save(rec(url=f"https://baodemo.vn/{name}", article_id=name.split("-")[1][:-5],
                         published_at=published, fetched_at=at(checked)))
    due = {d["url"].rsplit("/", 1)[1] for d in state.due_for_revisit("baodemo.vn", now=NOW)}
    assert due == {name for name, (_, _, is_due) in cases.items() if is_due}
    custom = {d["url"].rsplit("/", 1)[1] for d in state.due_for_revisit("baodemo.vn", [timedelta(minutes=10)], NOW)}
    assert custom == {"fresh-1.html"}


def test_failures_count_attempts_and_clear(tmp_path: Path) -> None:
    state = CrawlState(Archive(tmp_path / "a.db"))
    for _ in range(3):
        state.record_failure("https://x.vn/a-1.html", "x.vn", "HTTP 500")
    assert state.failures("x.vn") == ["https://x.vn/a-1.html"]
    assert state.failures("x.vn", max_attempts=3) == []
    state.clear_failure("https://x.vn/a-1.html")
    assert state.failures("x.vn") == []


def test_durations_and_schedules() -> None:
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_schedule("7d,1h") == (timedelta(hours=1), timedelta(days=7))
    for bad in ("", "soon", "5 weeks", "-1h"):
        try:
            parse_duration(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
