from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
GOLDEN = Path(__file__).resolve().parent / "golden"


def shared_path(*parts: str) -> Path:
    """A file of ../shared, or a clear skip when the reference material is absent; in CI
    (``CI=true``) its absence fails the test: CI must run the golden pages."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"../shared is absent in CI ({path} not found): the reference-material tests must run")
        pytest.skip(f"../shared is absent here ({path} not found): reference-material test skipped")
    return path


Route = tuple[int, dict[str, str], bytes] | Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class LoopbackSite:
    """A web server on 127.0.0.1 (or another loopback address) serving a dict of routes; records
    every request path."""

    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1") -> None:
        self.routes = routes
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.times: list[float] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append(self.path)
                site.times.append(time.monotonic())
                site.user_agents.append(self.headers.get("User-Agent", ""))
                route = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"
                else:
                    status, headers, body = route(self) if callable(route) else route
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Callable[[dict[str, Route]], LoopbackSite]]:
    started: list[LoopbackSite] = []

    def start(routes: dict[str, Route], host: str = "127.0.0.1") -> LoopbackSite:
        s = LoopbackSite(routes, host)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def html_route(body: bytes | str, ctype: str = "text/html; charset=utf-8", status: int = 200) -> Route:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return (status, {"Content-Type": ctype}, data)


ROBOTS_OK = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /print/\n")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it (a subprocess: Scrapy's reactor cannot restart)."""
    full_env = {**os.environ, **(env or {})}
    if env is None or "NEWSARCHIVE_DB" not in env:
        full_env.pop("NEWSARCHIVE_DB", None)
    # Never the checkout as working directory: "python -m" would import the source tree instead of
    # the installed distribution (which is what users run, spiders included).
    with tempfile.TemporaryDirectory() as neutral:
        return subprocess.run(
            [sys.executable, "-m", "newsarchive.cli", *args],
            cwd=cwd or neutral, env=full_env, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def load_golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


# -- figures for docs/reliability.md (bench/reliability.py runs the marked tests and writes it) --

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_OUTCOME] = report.outcome
    return report


_OUTCOME = pytest.StashKey[str]()


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Callable[..., None]]:
    """``reliability(case, name, done, **figures)``: one row of docs/reliability.md. Written (with the
    test's outcome) only when NEWSARCHIVE_RELIABILITY names a file, as bench/reliability.py does."""
    rows: list[dict[str, Any]] = []

    def add(case: int, name: str, done: str, **figures: Any) -> None:
        rows.append({"case": case, "name": name, "done": done, "figures": figures, "test": request.node.nodeid})

    yield add
    target = os.environ.get("NEWSARCHIVE_RELIABILITY")
    if target and rows:
        outcome = request.node.stash.get(_OUTCOME, "failed")
        with open(target, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({**row, "outcome": outcome}, ensure_ascii=False) + "\n")


def slow_pages(site: Any, seconds: float = 0.05) -> None:
    """Make every page of a demo site take a while to answer: overlapping requests then show."""
    answer = site.route

    def slow(path: str, headers: Any) -> Any:
        time.sleep(seconds)
        return answer(path, headers)

    site.route = slow
