"""The project as a user meets it: Scrapy's command line, docs that cannot drift, the spec's fields."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT, shared_path

from newsarchive.cli import cli
from newsarchive.record import FIELDS


def test_scrapy_list_from_the_project_root() -> None:
    out = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "url" in out.stdout.split()


def test_spiders_ship_inside_the_package() -> None:
    import newsarchive.spiders.url as mod

    assert mod.__name__ == "newsarchive.spiders.url"
    assert "spiders" not in sys.modules  # no generic top-level package is installed or imported


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert command.help and command.help.strip(), name
        assert f"newsarchive {name}" in readme, name


def test_readme_starts_with_the_two_commands() -> None:
    lines = [ln for ln in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert lines[2].startswith("python3 -m venv .venv") and "newsarchive demo" in lines[2]
    assert "pytest" in lines[3]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q '.[test]'" in ci and "pytest" in ci


def test_record_fields_match_the_spec() -> None:
    spec = shared_path("spec", "record.md").read_text(encoding="utf-8")
    fields_table = spec.split("**body_text**")[0]  # the first table; the kinds table follows
    table = re.findall(r"^\| `(\w+)` \|", fields_table, flags=re.M)
    assert tuple(table) == FIELDS
