"""The generic extractor's quality: word-shingle F1 of the main text against the hand-made truth of
the 181 pages of ``../shared/benchmarks/article-extraction-benchmark`` (MIT), and trafilatura's on
the same pages in the same run (the baseline).

    python bench/bench_generic.py [--record]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from extraction_benchmark import load, score  # noqa: E402

from newsarchive import NotAnArticle, extract  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", action="store_true", help="write bench/results/bench_generic.json (the README's figures)")
    args = ap.parse_args()
    root = ROOT.parent / "shared" / "benchmarks" / "article-extraction-benchmark"
    if not root.is_dir():
        print(f"error: the benchmark pages are not at {root}", file=sys.stderr)
        return 1
    import trafilatura

    warnings.simplefilter("ignore")
    pages = load(root)

    def ours(html: str, url: str) -> str:
        try:
            return extract(html.encode("utf-8"), url or "https://example.com/")["body_text"] or ""
        except NotAnArticle:
            return ""

    mine = score(pages, ours)
    base = score(pages, lambda html, url: trafilatura.extract(html, include_comments=False) or "")
    for name, s in (("newsarchive", mine), ("trafilatura", base)):
        print(f"{name:<12} precision {s['precision']:.4f}  recall {s['recall']:.4f}  F1 {s['f1']:.4f}")
    if args.record:
        from results import record

        record("bench_generic", command="python bench/bench_generic.py",
               measures="the generic (non-OneCMS) extractor's main-text F1 (word 4-shingles) against hand-made truth",
               conditions=f"the {len(pages)} pages of shared/benchmarks/article-extraction-benchmark; the baseline is"
                          " trafilatura (include_comments=False) on the same pages in the same run",
               figures=f"F1 {mine['f1']:.3f} against trafilatura's {base['f1']:.3f} (precision {mine['precision']:.3f},"
                       f" recall {mine['recall']:.3f})",
               data={"newsarchive": mine, "trafilatura": base, "pages": len(pages)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
