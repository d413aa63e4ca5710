"""Regenerate the expected records of the real pages, for review: ``python tests/regen_golden.py``.

Review every diff by reading the page: a golden record is a claim about the page, not a snapshot
of whatever the extractor printed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from newsarchive import extract

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "real-pages"
FETCHED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PAGES = {
    "baonghean.vn__10230827": "https://baonghean.vn/benh-vien-da-khoa-thanh-pho-vinh-tiem-vac-xin-covid-19-an-toan-cho-cong-dong-10230827.html",
    "baohaiphong.vn__457674": "https://baohaiphong.vn/151-mau-cua-cac-truong-hop-lien-quan-den-chuyen-gia-an-do-co-ket-qua-xet-nghiem-am-tinh-voi-virus-sars-cov-2-457674.html",
}

if __name__ == "__main__":
    for name, url in PAGES.items():
        record = extract((REAL / f"{name}.html").read_bytes(), url, fetched_at=FETCHED)
        out = HERE / "golden" / f"{name}.json"
        out.write_text(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print("wrote", out)
