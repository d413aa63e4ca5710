"""Regenerate the expected records of the real pages, for review: ``python tests/regen_golden.py``.

Finds the pages by convention: every ``*.html`` in ../shared/real-pages, named ``{site}__{id}.html``,
fetched from the address of its own canonical link. Writes ``tests/golden/{name}.json`` (the
record, sorted keys) and adds a ``snippets.json`` entry (empty) for a new page.

Review every diff by reading the page: a golden record is a claim about the page, not a snapshot
of whatever the extractor printed. Then record the review in ``tests/golden/review.json``: the
extractor_version you checked the record at and what each field was checked against. Until then
tests/test_real_pages.py fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsarchive import extract
from newsarchive.extract.page import Page

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "real-pages"
GOLDEN = HERE / "golden"
FETCHED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def pages() -> dict[str, tuple[str, bytes]]:
    """{name: (url, bytes)} of every real page; the URL is the page's own canonical link."""
    out = {}
    for path in sorted(REAL.glob("*.html")):
        body = path.read_bytes()
        page = Page.from_html(body, "file:///" + path.name)
        url = page.canonical or page.meta.get("og:url") if page is not None else None
        if not url:
            raise SystemExit(f"{path.name}: no canonical link; give it one or leave it out of real-pages")
        out[path.stem] = (url, body)
    return out


def record(url: str, body: bytes) -> dict[str, object]:
    return extract(body, url, fetched_at=FETCHED, strict=True)


if __name__ == "__main__":
    snippets_path = GOLDEN / "snippets.json"
    snippets = json.loads(snippets_path.read_text(encoding="utf-8"))
    for name, (url, body) in pages().items():
        out = GOLDEN / f"{name}.json"
        out.write_text(json.dumps(record(url, body), ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                       encoding="utf-8")
        print("wrote", out)
        if name not in snippets:
            snippets[name] = {"must_contain": [], "must_not_contain": []}
            print("  new page: write its must_contain / must_not_contain snippets in", snippets_path)
    snippets_path.write_text(json.dumps(snippets, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
