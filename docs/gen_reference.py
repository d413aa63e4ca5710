"""Write the command reference from click's own objects, so that README, ``--help`` and the docs say
the same thing:

- ``docs/cli.md``, between its ``reference`` markers: every command, its usage, its help and every
  option with its help and default, as ``newsarchive COMMAND --help`` gives them;
- ``README.md``, between its ``commands`` markers: a short table of the commands.

    python docs/gen_reference.py          # rewrite both
    python docs/gen_reference.py --check  # exit 1 if either differs from what it would write

``tests/test_reference.py`` runs the check, so a new command or option cannot go undocumented.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    ROOT / "docs" / "cli.md": ("<!-- reference: start (python docs/gen_reference.py) -->", "<!-- reference: end -->"),
    ROOT / "README.md": ("<!-- commands: start (python docs/gen_reference.py) -->", "<!-- commands: end -->"),
}
_UNSET = {None, False, ()}


def _commands() -> list[tuple[str, click.Command, click.Context]]:
    from newsarchive.cli import cli

    root = click.Context(cli, info_name="newsarchive")
    out = []
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        if command is None or command.hidden:
            continue
        out.append((name, command, click.Context(command, info_name=name, parent=root)))
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(param: click.Parameter, help_text: str) -> str:
    value: Any = param.default
    if "[default:" in help_text or callable(value) or type(value).__name__ == "Sentinel":
        return ""
    if value in _UNSET or (isinstance(value, str) and not value):
        return ""
    return f"`{value}`"


def _usage(name: str, command: click.Command, ctx: click.Context) -> str:
    return " ".join(["newsarchive", name, *command.collect_usage_pieces(ctx)])


def reference() -> str:
    """The body of docs/cli.md's reference section."""
    parts = []
    for name, command, ctx in _commands():
        parts.append(f"### `newsarchive {name}`\n\n```\n{_usage(name, command, ctx)}\n```\n")
        parts.append(inspect.cleandoc(command.help or "").replace("\b\n", "") + "\n")
        rows = []
        for param in command.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is None:
                continue
            opts, help_text = record
            rows.append(f"| `{_cell(opts)}` | {_cell(help_text)} | {_default(param, help_text)} |")
        if rows:
            parts.append("| option | what it does | default |\n|---|---|---|\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def commands_table() -> str:
    """The body of README.md's commands table."""
    rows = ["| command | what it does |", "|---|---|"]
    for name, command, ctx in _commands():
        pieces = [p for p in command.collect_usage_pieces(ctx) if p != "[OPTIONS]"]
        usage = " ".join([f"[`newsarchive {name}`](docs/cli.md#newsarchive-{name})", *(f"`{p}`" for p in pieces)])
        rows.append(f"| {usage} | {_cell(command.get_short_help_str(limit=300))} |")
    return "\n".join(rows) + "\n"


def render(path: Path, text: str) -> str:
    start, end = TARGETS[path]
    body = reference() if path.name == "cli.md" else commands_table()
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"{path}: the markers {start!r} … {end!r} are missing")
    return head + start + "\n\n" + body + "\n" + end + rest.split(end, 1)[1]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path in TARGETS:
        text = path.read_text(encoding="utf-8")
        new = render(path, text)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(map(str, stale))} (run python docs/gen_reference.py)", file=sys.stderr)
        return 1
    if not check:
        print("written: " + (", ".join(map(str, stale)) or "nothing changed"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
