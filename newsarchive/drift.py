"""The drift alarm: when a site's redesign silently empties a field, its runs say so.

Each crawl run measures the field coverage of what it extracted (the share of articles with
authors, a publication time, images, captions, tags, a sapo; the median body length; the share of
pages the extractor failed on or no longer read as articles) and compares it with the site's own
baseline, the coverage of its last good runs. A field that drops far below what the site normally
has marks the run **degraded** (``crawl`` exit 8). A field the site never had is no alarm, and a
site's first run only builds the baseline. Pure: numbers in, numbers out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

SHARE_FIELDS = ("authors", "published_at", "images", "captions", "tags", "sapo")
MIN_ARTICLES = 5  # fewer pages than this in a run (or in a baseline run) say nothing either way
DROP = 0.5  # a share or the body length below half the baseline's is a drop
PRESENT = 0.3  # ...of a field the site has on at least this share of its articles
FAILURE_RISE = 0.2  # extractor errors or "not an article" up by this share of the pages
EXAMPLES = 3


class Coverage:
    """What one run extracted, field by field (fed by the archive pipeline)."""

    def __init__(self) -> None:
        self.articles = 0
        self.counts = dict.fromkeys(SHARE_FIELDS, 0)
        self.body_chars: list[int] = []
        self.errors = 0  # extractor errors (parser bugs)
        self.not_articles = 0
        self.missing: dict[str, list[str]] = {}  # field -> example URLs of articles without it

    def add(self, record: Mapping[str, Any]) -> None:
        self.articles += 1
        images = record.get("images") or []
        has = {
            "authors": bool(record.get("authors")),
            "published_at": bool(record.get("published_at")),
            "images": bool(images),
            "captions": any(img.get("caption") for img in images),
            "tags": bool(record.get("tags")),
            "sapo": bool(record.get("sapo")),
        }
        for name, present in has.items():
            if present:
                self.counts[name] += 1
            else:
                self._example(name, record.get("url") or "")
        chars = len(record.get("body_text") or "")
        self.body_chars.append(chars)
        if chars < 200:
            self._example("body", record.get("url") or "")

    def error(self, url: str) -> None:
        self.errors += 1
        self._example("extractor_errors", url)

    def not_article(self, url: str) -> None:
        self.not_articles += 1
        self._example("not_articles", url)

    def _example(self, name: str, url: str) -> None:
        shown = self.missing.setdefault(name, [])
        if len(shown) < EXAMPLES:
            shown.append(url)

    def as_dict(self) -> dict[str, Any]:
        pages = self.articles + self.errors + self.not_articles
        return {
            "articles": self.articles,
            "pages": pages,
            "share": {k: round(v / self.articles, 4) if self.articles else 0.0 for k, v in self.counts.items()},
            "body_chars": int(median(self.body_chars)) if self.body_chars else 0,
            "extractor_errors": round(self.errors / pages, 4) if pages else 0.0,
            "not_articles": round(self.not_articles / pages, 4) if pages else 0.0,
            "examples": self.missing,
        }


def judge(current: Mapping[str, Any], baseline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The fields that dropped in ``current`` against the mean of ``baseline`` (earlier runs'
    ``Coverage.as_dict()``): ``[{"field", "baseline", "now", "examples"}]``, empty when nothing did
    or when either side is too small to say."""
    usable = [b for b in baseline if b.get("pages", b.get("articles", 0)) >= MIN_ARTICLES]
    if current.get("pages", 0) < MIN_ARTICLES or not usable:
        return []
    examples = current.get("examples", {})
    drops = []

    def mean(get: Any) -> float:
        return sum(get(b) for b in usable) / len(usable)

    if current.get("articles", 0):
        for name in SHARE_FIELDS:
            base = mean(lambda b, n=name: b.get("share", {}).get(n, 0.0))
            now = current["share"].get(name, 0.0)
            if base >= PRESENT and now < base * DROP:
                drops.append({"field": name, "baseline": round(base, 3), "now": now,
                              "examples": examples.get(name, [])})
    base_body = mean(lambda b: b.get("body_chars", 0))
    now_body = current.get("body_chars", 0) if current.get("articles", 0) else 0
    if base_body >= 200 and now_body < base_body * DROP:
        drops.append({"field": "body", "baseline": round(base_body), "now": now_body,
                      "examples": examples.get("body", []) or examples.get("not_articles", [])})
    for name in ("extractor_errors", "not_articles"):
        base = mean(lambda b, n=name: b.get(n, 0.0))
        now = current.get(name, 0.0)
        if now > base + FAILURE_RISE:
            drops.append({"field": name, "baseline": round(base, 3), "now": now, "examples": examples.get(name, [])})
    return drops


def describe(drops: Sequence[Mapping[str, Any]]) -> str:
    """One line: ``body 5,180 → 0 chars; authors 100% → 0% (e.g. URL)``."""
    parts = []
    for d in drops:
        if d["field"] == "body":
            text = f"body {d['baseline']:,} → {d['now']:,} chars (median)"
        else:
            text = f"{d['field']} {d['baseline']:.0%} → {d['now']:.0%}"
        if d.get("examples"):
            text += f" (e.g. {d['examples'][0]})"
        parts.append(text)
    return "; ".join(parts)
