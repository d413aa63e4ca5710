"""The crawl side's structure (issue 14): no import cycles, every module imports on its own, a
local crawl imports no Redis code, and a Scrapy internal we override cannot go missing silently."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "newsarchive"


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (the top-level spiders/ is newsarchive.spiders)."""
    out = {}
    for base, prefix in ((PACKAGE, "newsarchive"), (ROOT / "spiders", "newsarchive.spiders")):
        for path in base.rglob("*.py"):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = path
    return out


def imports(name: str, path: Path, known: set[str], module_level: bool) -> set[str]:
    """The package's modules ``name`` imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = ast.walk(tree) if not module_level else _module_level(tree.body)
    found = set()
    for node in nodes:
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _module_level(body: list[ast.stmt]) -> list[ast.AST]:
    out: list[ast.AST] = []
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            out.append(stmt)
        elif isinstance(stmt, ast.If | ast.Try):
            out += _module_level([*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", []),
                                  *[s for h in getattr(stmt, "handlers", []) for s in h.body]])
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def graph(module_level: bool) -> dict[str, set[str]]:
    mods = modules()
    # a package imports its own parent only implicitly: edges to a parent package are not counted
    return {n: {m for m in imports(n, p, set(mods), module_level) if not n.startswith(m + ".")}
            for n, p in mods.items()}


def test_the_import_graph_has_no_cycles() -> None:
    assert cycles(graph(module_level=True)) == []


def test_no_cycles_even_through_imports_made_late_inside_functions() -> None:
    assert cycles(graph(module_level=False)) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_store_and_the_plan_know_nothing_of_scrapy_or_redis() -> None:
    for name in ("newsarchive.crawl.plan", "newsarchive.crawl.frontier", "newsarchive.crawl.lock",
                 "newsarchive.crawl.items", "newsarchive.crawl.writer", "newsarchive.cluster.protocol"):
        out = subprocess.run([sys.executable, "-c", f"import sys, {name}; "
                              "print(sorted(m for m in ('scrapy', 'twisted', 'redis', 'scrapy_redis') if m in sys.modules))"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "[]", (name, out.stdout, out.stderr[-500:])


@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith(("newsarchive.crawl", "newsarchive.cluster",
                                                                              "newsarchive.spiders"))))
def test_every_crawl_module_imports_on_its_own(name: str) -> None:
    out = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1500:]


def test_a_local_crawl_imports_no_redis_code(tmp_path: Path) -> None:
    from newsarchive.demo.site import DemoSite, serve

    site = DemoSite(6)
    with serve(site) as base:
        code = ("import sys; from pathlib import Path; from newsarchive.crawl import run_crawl; "
                f"outcome, _ = run_crawl({base!r}, Path({str(tmp_path / 'a.db')!r}), since='2020-01-01', quiet=True,"
                " settings={'DOWNLOAD_DELAY': 0, 'AUTOTHROTTLE_ENABLED': False, 'NEWSARCHIVE_MEDIA': False}); "
                "print(outcome, sorted(m for m in ('redis', 'scrapy_redis', 'newsarchive.cluster.worker')"
                " if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "success []", out.stdout


def test_a_missing_scrapy_hook_fails_the_check_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    from newsarchive.crawl import compat

    compat.check()  # as installed: every hook there
    monkeypatch.delattr(RobotsTxtMiddleware, "_robots_error")
    with pytest.raises(compat.CompatError, match=r"RobotsTxtMiddleware\._robots_error\(\)"):
        compat.check()


def test_a_missing_scrapy_redis_hook_fails_the_cluster_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy_redis.dupefilter import RFPDupeFilter

    from newsarchive.crawl import compat

    compat.check_scrapy_redis()  # as installed
    monkeypatch.delattr(RFPDupeFilter, "request_fingerprint")
    with pytest.raises(compat.CompatError, match=r"RFPDupeFilter\.request_fingerprint\(\)"):
        compat.check_scrapy_redis()


def test_a_renamed_robots_hook_stops_the_crawl_from_starting(tmp_path: Path) -> None:
    """A Scrapy that renamed the hook making an unreadable robots.txt "disallow" would silently
    allow again: the import of our middlewares fails instead, with one clear line."""
    code = ("from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as R\n"
            "R._parse_robots_renamed = R._parse_robots\ndel R._parse_robots\n"
            "import newsarchive.crawl.middlewares\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "CompatError: newsarchive does not support Scrapy" in out.stderr and "_parse_robots()" in out.stderr


def test_the_spiders_items_are_typed_and_read_through_itemadapter() -> None:
    from itemadapter import ItemAdapter, is_item

    from newsarchive.crawl.items import BOOKKEEPING, FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified

    items = [FetchedPage("http://127.0.0.1/a-1.html", 200, {"ETag": ['"1"']}, b"<html>", "2026-01-01T00:00:00Z"),
             NotModified("http://127.0.0.1/a-1.html", {}, "2026-01-01T00:00:00Z"),
             FetchFailed("http://127.0.0.1/a-2.html", "HTTP 500", "2026-01-01T00:00:00Z"),
             MediaFile("http://127.0.0.2/x.png", "image", 200, {}, b"\x89PNG", "2026-01-01T00:00:00Z"),
             MediaFailed("http://127.0.0.2/y.png", "HTTP 404")]
    assert all(is_item(i) for i in items)
    assert ItemAdapter(items[0])["status"] == 200 and ItemAdapter(items[2]).asdict()["error"] == "HTTP 500"
    assert set(BOOKKEEPING) == {type(i) for i in items[1:]}  # recorded by the pipeline, never exported
