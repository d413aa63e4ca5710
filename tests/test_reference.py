"""README, `--help` and docs/cli.md agree: the reference tables are what docs/gen_reference.py makes
from the commands' own click objects (so a new command or option cannot go undocumented), and what
the README cites lives in docs/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_reference_tables_are_current() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_reference.py"), "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_every_option_of_every_command_is_in_docs_cli_md() -> None:
    from newsarchive.cli import cli

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"### `newsarchive {name}`" in text, name
        section = text.split(f"### `newsarchive {name}`", 1)[1].split("\n### ", 1)[0]
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in section, f"{name} {opt}"


def test_readme_and_docs_cite_only_what_the_repository_holds() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert "shared/spec" not in text, doc.name
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which is not in the repository"
