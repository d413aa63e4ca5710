"""Notifications: a webhook (HTTP POST of the JSON payload), e-mail (SMTP, STARTTLS optional, the
password from an environment variable) and a command hook (the payload on stdin).

Each target has its own thread and queue, so a slow or failing one never delays the others nor
the crawls; a failed delivery is retried with doubling waits and logged, never fatal. Delivery is
at most once per notice and target (the payload's ``id`` is the same on every retry, for
receivers that deduplicate).

The payload (version 1; docs/operations.md)::

    {"source": "newsarchive", "version": 1, "id": "…", "event": "alarm" | "search",
     "state": "open" | "repeat" | "resolved" | "match", "text": "one line", "sent_at": "…Z",
     "host": "…", "archive": "/srv/news/archive.db",
     "alarm": {"id", "kind", "site", "opened_at", "closed_at", "message", "detail"} | null,
     "search": {"name", "query", "site", "section", "author"} | null,
     "articles": [{"id", "title", "url", "site", "published_at"}], "more": 0}
"""

from __future__ import annotations

import json
import queue
import smtplib
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from . import __version__
from .config import Config, Notifier
from .health import Notice

PAYLOAD_VERSION = 1


def payload(notice: Notice, config: Config) -> dict[str, Any]:
    return {
        "source": "newsarchive",
        "version": PAYLOAD_VERSION,
        "id": uuid.uuid4().hex,
        "event": notice.event,
        "state": notice.state,
        "text": notice.text,
        "sent_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "host": socket.gethostname(),
        "archive": str(config.archive),
        "alarm": notice.alarm,
        "search": notice.search,
        "articles": notice.articles,
        "more": notice.more,
    }


def wants(target: Notifier, notice: Notice) -> bool:
    return notice.event in target.events and (not notice.targets or target.name in notice.targets)


class DeliveryError(Exception):
    pass


def deliver_webhook(target: Notifier, body: dict[str, Any]) -> None:
    import urllib.error
    import urllib.request

    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(target.url or "", data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": f"newsarchive/{__version__}",
        "X-Newsarchive-Event": body["event"], **target.headers})
    try:
        with urllib.request.urlopen(request, timeout=target.timeout.total_seconds()) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", None) or exc)) from None


def email_text(body: dict[str, Any]) -> str:
    lines = [body["text"], ""]
    alarm = body.get("alarm")
    if alarm:
        lines += [f"alarm:   {alarm['kind']} ({body['state']})", f"site:    {alarm['site'] or '(the archive)'}",
                  f"opened:  {alarm['opened_at']}"]
        if alarm.get("closed_at"):
            lines.append(f"closed:  {alarm['closed_at']}")
        lines += ["", json.dumps(alarm.get("detail") or {}, ensure_ascii=False, indent=2)]
    search = body.get("search")
    if search:
        lines.append(f"query:   {search['query']}")
        lines.append("")
        for a in body.get("articles") or []:
            lines += [f"- {a['title']}", f"  {a['url']}  ({a.get('published_at') or 'no date'})"]
        if body.get("more"):
            lines.append(f"… and {body['more']} more")
    lines += ["", f"archive: {body['archive']} on {body['host']}"]
    return "\n".join(lines) + "\n"


def deliver_email(target: Notifier, body: dict[str, Any]) -> None:
    message = EmailMessage()
    message["Subject"] = f"{target.subject_prefix} {body['text']}".strip()
    message["From"] = target.sender or ""
    message["To"] = ", ".join(target.to)
    message["Message-ID"] = make_msgid(idstring=body["id"], domain=body["host"] or None)
    message["X-Newsarchive-Event"] = f"{body['event']} {body['state']}"
    message.set_content(email_text(body))
    try:
        with smtplib.SMTP(target.host or "", target.port, timeout=target.timeout.total_seconds()) as smtp:
            smtp.ehlo()
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if target.user:
                smtp.login(target.user, target.password() or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {target.host}:{target.port}: {exc}") from None


def deliver_command(target: Notifier, body: dict[str, Any]) -> None:
    import os

    env = {**os.environ, "NEWSARCHIVE_EVENT": body["event"], "NEWSARCHIVE_STATE": body["state"],
           "NEWSARCHIVE_TEXT": body["text"]}
    try:
        done = subprocess.run(list(target.command), input=json.dumps(body, ensure_ascii=False).encode(),
                              capture_output=True, timeout=target.timeout.total_seconds(), env=env)
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"{target.command[0]}: no exit after {target.timeout.total_seconds():g} s") from None
    except OSError as exc:
        raise DeliveryError(f"{target.command[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        tail = " ".join(done.stderr.decode(errors="replace").split())[-200:]
        raise DeliveryError(f"{target.command[0]} exited {done.returncode}" + (f": {tail}" if tail else ""))


DELIVER: dict[str, Callable[[Notifier, dict[str, Any]], None]] = {
    "webhook": deliver_webhook, "email": deliver_email, "command": deliver_command}


class Dispatcher:
    """One worker thread per target; ``send`` never blocks on delivery."""

    def __init__(self, config: Config, log: Callable[[str], None]) -> None:
        self.config = config
        self.log = log
        self.stopping = threading.Event()
        self.queues: dict[str, queue.Queue[dict[str, Any] | None]] = {}
        self.threads: list[threading.Thread] = []
        self.sent = 0
        self.failed = 0
        for target in config.notifiers:
            q: queue.Queue[dict[str, Any] | None] = queue.Queue()
            self.queues[target.name] = q
            t = threading.Thread(target=self._work, args=(target, q), name=f"notify-{target.name}", daemon=True)
            t.start()
            self.threads.append(t)

    def send(self, notice: Notice) -> None:
        body = payload(notice, self.config)
        targets = [t for t in self.config.notifiers if wants(t, notice)]
        self.log(f"{notice.text}" + (f" → {', '.join(t.name for t in targets)}" if targets else " (no target)"))
        for target in targets:
            self.queues[target.name].put(body)

    def _work(self, target: Notifier, q: queue.Queue[dict[str, Any] | None]) -> None:
        while True:
            body = q.get()
            if body is None:
                return
            self._deliver(target, body)

    def _deliver(self, target: Notifier, body: dict[str, Any]) -> None:
        attempts = 1 + target.retries
        for attempt in range(1, attempts + 1):
            try:
                DELIVER[target.kind](target, body)
                self.sent += 1
                return
            except DeliveryError as exc:
                if attempt == attempts:
                    self.failed += 1
                    self.log(f"notify {target.name}: {body['event']} {body['state']} not delivered after {attempts}"
                             f" attempt(s): {exc}")
                    return
                wait = target.backoff.total_seconds() * 2 ** (attempt - 1)
                self.log(f"notify {target.name}: attempt {attempt}/{attempts} failed: {exc}; again in {wait:g} s")
                if self.stopping.wait(wait):
                    self.failed += 1
                    self.log(f"notify {target.name}: {body['event']} {body['state']} not delivered: stopping")
                    return

    def close(self, timeout: float) -> None:
        """Deliver what is queued (retries included) for up to ``timeout`` seconds, then give up."""
        import time

        for q in self.queues.values():
            q.put(None)
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            self.stopping.set()
            for t in self.threads:
                t.join(2.0)
