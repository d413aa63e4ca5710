"""The article-extraction-benchmark's scoring (its README): 4-token shingles over ``\\w+`` tokens,
per-page precision and recall by shingle counts, averaged over pages, F1 of the averages."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_scores(predicted: str, truth: str) -> tuple[float, float]:
    p, t = shingles(predicted), shingles(truth)
    if not p and not t:
        return 1.0, 1.0
    if not p:
        return 0.0, 0.0
    tp = sum((p & t).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    tp, fp, fn = tp / total, fp / total, fn / total
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def load(root: Path) -> list[tuple[str, str, str, str]]:
    """(id, url, html, expected body) for every page of the benchmark."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    out = []
    for key, item in sorted(truth.items()):
        raw = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        out.append((key, item.get("url") or "", raw.decode("utf-8", errors="replace"), item.get("articleBody") or ""))
    return out


def score(pages: list[tuple[str, str, str, str]], system: Callable[[str, str], str]) -> dict[str, float]:
    precisions, recalls = [], []
    for _key, url, html, truth in pages:
        p, r = page_scores(system(html, url), truth)
        precisions.append(p)
        recalls.append(r)
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
