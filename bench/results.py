"""What a benchmark run leaves for the README: ``record()`` writes ``bench/results/<script>.json``
(the command, its conditions, the figures as the script computed them, and the raw numbers), and
``python bench/figures.py`` rebuilds the README's figures table from those files. No figure in the
README is typed by hand: rerun the script with ``--record``, then ``figures.py``."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def record(script: str, *, command: str, measures: str, conditions: str, figures: str,
           data: dict[str, Any] | None = None) -> Path:
    """Write one script's latest result. ``figures``: the sentence the README shows, built from the
    numbers measured in this run; ``conditions``: what the figures depend on (sizes, politeness,
    what the baseline is, raw pages stored or not)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{script}.json"
    path.write_text(json.dumps({
        "script": script, "command": command, "measures": measures, "conditions": conditions,
        "figures": figures, "data": data or {},
        "run": {"at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "python": platform.python_version(),
                "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
    }, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"recorded: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}", file=sys.stderr)
    return path


def load() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob("*.json"))]
