"""The README's benchmark figures are generated (bench/figures.py) from what the benchmark scripts
recorded (bench/results/*.json), never typed: the table must be what the results give, and each
result must state its conditions beside its figures."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT


def test_the_readme_figures_table_is_what_the_recorded_results_give() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "figures.py"), "--check"], capture_output=True,
                         text=True, cwd=ROOT / "bench")
    assert out.returncode == 0, out.stderr


def test_every_recorded_result_states_its_command_conditions_and_figures() -> None:
    results = sorted((ROOT / "bench" / "results").glob("*.json"))
    assert results, "no benchmark has recorded a result"
    for path in results:
        r = json.loads(path.read_text(encoding="utf-8"))
        assert r["script"] == path.stem
        for key in ("command", "measures", "conditions", "figures"):
            assert len(r[key].strip()) > 10, (path.name, key)
        assert r["run"]["at"].endswith("Z")
        script = ROOT / "bench" / f"{r['script']}.py"
        if script.exists():  # a result comes from a script that can write it again
            assert "--record" in script.read_text(encoding="utf-8"), script.name
