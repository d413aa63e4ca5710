"""Helpers of the operations tests (scheduler, alarms, notifications): a local webhook receiver,
a local SMTP server (aiosmtpd), demo sites that publish now, the scheduler as a process."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from newsarchive.demo.site import VN, DemoSite

ROOT = Path(__file__).resolve().parent.parent
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False}


def fresh_site(n: int = 12, hours_ago: float = 1.0, spacing_minutes: int = 30) -> DemoSite:
    """A demo site whose newest article was published ``hours_ago`` (no quiet alarm unless old)."""
    return DemoSite(n, newest=datetime.now(VN).replace(microsecond=0) - timedelta(hours=hours_ago),
                    spacing=timedelta(minutes=spacing_minutes))


def break_robots(site: DemoSite, status: int = 500) -> dict[str, bool]:
    """robots.txt answers ``status`` while ``switch["broken"]``: every crawl of the site fails (exit 3)."""
    switch = {"broken": True}
    original = site.route

    def route(path: str, headers: Any) -> Any:
        if switch["broken"] and path.split("?")[0] == "/robots.txt":
            return status, {"Content-Type": "text/plain"}, b"server error"
        return original(path, headers)

    site.route = route  # type: ignore[method-assign]
    return switch


def hang_robots(site: DemoSite, seconds: float = 120.0) -> None:
    """robots.txt never answers (within the test): the crawl hangs."""
    original = site.route

    def route(path: str, headers: Any) -> Any:
        if path.split("?")[0] == "/robots.txt":
            time.sleep(seconds)
        return original(path, headers)

    site.route = route  # type: ignore[method-assign]


class WebhookReceiver:
    """An HTTP server on loopback that records every POST (JSON bodies); the first ``fail_first``
    POSTs are answered 503."""

    def __init__(self, host: str = "127.0.0.1", fail_first: int = 0) -> None:
        self.posts: list[tuple[int, dict[str, Any], dict[str, str]]] = []  # (status answered, body, headers)
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with receiver.lock:
                    status = 503 if len(receiver.posts) < receiver.fail_first else 200
                    receiver.posts.append((status, body, dict(self.headers)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for status, body, _ in self.posts if status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpReceiver:
    """aiosmtpd on loopback, AUTH offered without TLS (for the test), every login and message kept."""

    def __init__(self, user: str, password: str, host: str = "127.0.0.1") -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[Any] = []
        self.logins: list[tuple[str, str]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                import email
                from email import policy

                receiver.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            secret = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            receiver.logins.append((login, secret))
            return AuthResult(success=(login, secret) == (user, password))

        self.port = free_port(host)
        self.controller = Controller(Handler(), hostname=host, port=self.port, authenticator=authenticator,
                                     auth_required=False, auth_require_tls=False)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def settings_toml(settings: dict[str, Any]) -> str:
    """The end of a [[sites]] table: media off (the demo site's images are on a host that is not
    on loopback), then [sites.settings] with ``settings``."""
    return "media = false\n[sites.settings]\n" + "\n".join(
        f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}" for k, v in settings.items())


def schedule(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "newsarchive.cli", "schedule", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent,
                            env={**os.environ, **(env or {})})


def run_once(config: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsarchive.cli", "schedule", "--config", str(config), "--once"],
                          capture_output=True, text=True, cwd=config.parent, timeout=timeout,
                          env={**os.environ, **(env or {})})


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # a table the scheduler has not made yet
        return []
    except sqlite3.DatabaseError:  # a read torn by a crawl that started writing after it opened (a known
        return []  # race of read-only opens without a -shm file, noted in the closing note): poll again
    finally:
        con.close()


def wait_for(check: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen[str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the scheduler ended (exit {proc.returncode}) waiting for {what}:"
                                 f" {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
