"""An article's versions (``/article/<id>/history``) and the word-level difference between any two
of them (``/article/<id>/diff?a=<rev>&b=<rev>``), over every field of the record.

Reads by ``(article, revision)``, the unique key of ``revisions``: a few rows whatever the archive's
size. The comparison itself (reading/diff.py) is bounded, and runs off the database's thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from typing import Any

from ..record import FIELDS
from . import archive_path, page, read
from .article import ID, _utc, article_id, bounded, media_store, not_found
from .diff import LABELS, MAX_SHOWN, record_diff

REASONS = {  # revisions.reason, as a reader says it
    "first": "Lần đầu lưu",
    "edit": "Trang báo sửa bài",
    "reextract": "Trích xuất lại (bộ trích xuất mới)",
}
MAX_SUMMARIES = 50  # versions whose changed fields the history lists (each needs its record)
# versions the history lists: the first and the newest (a site that changes a page at every visit
# gives an article thousands; 10,000 made a 4.5 MB page in 1.2 s); the others are compared by number
MAX_LISTED = 500
SUMMARY_CHARS = 64 * 1024 * 1024  # and at most this much record text read for it
_REV = re.compile(r"[0-9]{1,9}")


def _title(conn: sqlite3.Connection, article: int) -> str | None:
    row = conn.execute("SELECT title FROM articles WHERE id = ?", (article,)).fetchone()
    return row[0] if row else None


def versions(conn: sqlite3.Connection, article: int, limit: int | None = None) -> list[dict[str, Any]]:
    """Every version (or, past ``limit``, the first and the newest ``limit - 1``), oldest first:
    number, reason, archive time, whether its page is kept, and which fields changed from the
    version before (for the first MAX_SUMMARIES versions and SUMMARY_CHARS of records: two records
    in memory at a time, each read once)."""
    # not the record: each is up to a whole page's text, and only the first MAX_SUMMARIES are read
    columns = "SELECT revision, reason, fetched_at, page IS NOT NULL FROM revisions WHERE article = ?"
    if limit is None:
        rows = conn.execute(f"{columns} ORDER BY revision", (article,)).fetchall()
    else:  # by the (article, revision) key from both ends: a few rows read however many there are
        newest = conn.execute(f"{columns} ORDER BY revision DESC LIMIT ?", (article, max(limit - 1, 1))).fetchall()
        first = conn.execute(f"{columns} ORDER BY revision LIMIT 1", (article,)).fetchall()
        rows = sorted({r[0]: r for r in first + newest}.values(), key=lambda r: r[0])
    out = [{"revision": r[0], "reason": r[1], "reason_text": REASONS.get(r[1], r[1]), "fetched_at": r[2],
            "fetched_utc": _utc(r[2]), "has_page": bool(r[3]), "changed": None} for r in rows]
    by_number = {v["revision"]: v for v in out}
    previous: dict[str, Any] | None = None
    budget = SUMMARY_CHARS
    for n, text in conn.execute("SELECT revision, record FROM revisions WHERE article = ? ORDER BY revision"
                                " LIMIT ?", (article, MAX_SUMMARIES)):
        budget -= len(text)
        if budget < 0:
            break
        record = json.loads(text)
        if previous is not None and n in by_number:
            by_number[n]["changed"] = [LABELS[f] for f in FIELDS
                                       if f != "fetched_at" and previous.get(f) != record.get(f)]
        previous = record
    return out


async def history_page(request: Any, datasette: Any) -> Any:
    article = article_id(request)
    if article is None:
        return not_found(datasette, request.url_vars.get("id", ""))

    def run(conn: sqlite3.Connection) -> tuple[str | None, list[dict[str, Any]], int]:
        title = _title(conn, article)
        if title is None:
            return None, [], 0
        total = conn.execute("SELECT count(*) FROM revisions WHERE article = ?", (article,)).fetchone()[0]
        return title, versions(conn, article, MAX_LISTED), total

    title, revs, total = await read(datasette, run)
    if title is None:
        return not_found(datasette, str(article))
    b = revs[-1]["revision"] if revs else None
    a = revs[-2]["revision"] if len(revs) > 1 else None
    return page(datasette, "history.html", {"id": article, "title": title, "versions": revs, "a": a, "b": b,
                                            "unlisted": total - len(revs)})


def ranges(numbers: list[int]) -> str:
    """Version numbers as a reader reads them: each, or past 20 in runs ("1, 3–10000"): the message
    of a missing version is not ten thousand numbers long."""
    if len(numbers) <= 20:
        return ", ".join(map(str, numbers))
    spans: list[tuple[int, int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return ", ".join(str(lo) if lo == hi else f"{lo}–{hi}" for lo, hi in spans)


def _rev(value: str | None) -> int | None:
    """A version number from the query string (None when absent); ValueError when not one."""
    if value is None or not value.strip():
        return None
    if not _REV.fullmatch(value.strip()):
        raise ValueError(value)
    return int(value)


async def diff_page(request: Any, datasette: Any) -> Any:
    """Two versions compared, the older first whichever order they are given in. Without ``a``:
    the version before ``b``; without ``b``: the current one."""
    article = article_id(request)
    if article is None:
        return not_found(datasette, request.url_vars.get("id", ""))
    try:
        a, b = _rev(request.args.get("a")), _rev(request.args.get("b"))
    except ValueError:
        a = b = None
        bad = True
    else:
        bad = False

    def run(conn: sqlite3.Connection) -> tuple[str | None, list[int], dict[int, dict[str, Any]]]:
        title = _title(conn, article)
        if title is None or bad:
            return title, [], {}
        numbers = [r[0] for r in conn.execute(
            "SELECT revision FROM revisions WHERE article = ? ORDER BY revision", (article,))]
        new = b if b is not None else (numbers[-1] if numbers else -1)
        old = a if a is not None else max((n for n in numbers if n < new), default=-1)
        chosen = {}
        for n, reason, fetched, rec in conn.execute(
                "SELECT revision, reason, fetched_at, record FROM revisions WHERE article = ? AND revision IN (?, ?)",
                (article, old, new)):
            chosen[n] = {"revision": n, "reason": reason, "reason_text": REASONS.get(reason, reason),
                         "fetched_at": fetched, "fetched_utc": _utc(fetched), "record": json.loads(rec)}
        return title, numbers, chosen

    title, numbers, chosen = await read(datasette, run)
    if title is None:
        return not_found(datasette, str(article))
    context: dict[str, Any] = {"id": article, "title": title, "numbers": numbers}
    if bad:
        return page(datasette, "diff.html", {**context, "error": "a và b là số thứ tự phiên bản (1, 2, …)."},
                    status=400)
    if len(numbers) < 2 and a is None:
        return page(datasette, "diff.html",
                    {**context, "error": "Bài viết này chỉ có một phiên bản: không có gì để so sánh."})
    missing = [n for n in (a, b) if n is not None and n not in chosen]
    if missing:
        available = ranges(numbers)
        return page(datasette, "diff.html", {**context, "error": f"Không có phiên bản {', '.join(map(str, missing))}"
                    f" (bài viết này có các phiên bản {available})."}, status=404)
    ordered = sorted(chosen.values(), key=lambda v: v["revision"])
    old, new = ordered[0], ordered[-1]  # one version asked for twice: compared with itself
    path = archive_path(datasette)

    def compare() -> tuple[list[Any], dict[str, str]]:
        from ..media import image_view

        store = media_store(path)
        thumbs = {}
        for version in (old, new):  # each image the archive holds, shown beside its line
            shown = {**version["record"], "images": (version["record"].get("images") or [])[:MAX_SHOWN]}
            for image in image_view(shown, store):  # the images a field shows, not all 20,000 (1 s)
                if image.get("sha256") and isinstance(image.get("src"), str):
                    thumbs[image["src"]] = image["sha256"]
        return record_diff(old["record"], new["record"]), thumbs

    fields, thumbs = await asyncio.to_thread(compare)
    return page(datasette, "diff.html", {**context, "old": old, "new": new, "fields": fields, "thumbs": thumbs,
                                         "changed": [f for f in fields if f.changed],
                                         "unchanged": [f for f in fields if not f.changed]})


ROUTES = [
    (rf"^/article/{ID}/history$", bounded(history_page)),
    (rf"^/article/{ID}/diff$", bounded(diff_page)),
]
