"""The scheduler: every configured site crawled when it is due, several at once, each crawl in its
own child process (``python -m newsarchive.cli crawl SITE --db … -q``: the Twisted reactor cannot
restart, and a child that hangs can be killed without touching the others).

Rules (docs/operations.md):
- a site is due ``every`` after its last start, read from the archive (its last run, or the
  scheduler's last attempt in ``schedule_log``): a scheduler killed with ``kill -9`` and started
  again re-runs what was due and nothing else; a site missed for hours (the machine asleep) runs
  once, then keeps its interval from that start;
- at most ``concurrency`` crawls at once, the most overdue first; never one site twice (the
  crawl's own per-site lock: a site whose lock another process holds is left until it is free);
- a crawl still running after its ``timeout`` gets SIGTERM, then SIGKILL after ``stop_grace``,
  and counts as failed; it never delays the other sites;
- SIGTERM or Ctrl-C: every crawl gets SIGTERM (each records its run as interrupted), is killed if
  still running after ``stop_grace``, and the scheduler exits 6;
- after each crawl, and every 30 s, the alarms are judged and the saved searches run; notices go
  to the notifiers' threads (newsarchive.notify), never in the way of the crawls.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .config import Config, SiteConfig
from .health import iso, last_start, lock_held, reconcile, search_matches
from .notify import Dispatcher
from .store import Archive, StorageError

EXIT_OK, EXIT_FAILED, EXIT_STOPPED = 0, 1, 6
TICK = 30.0  # seconds between two judgements of every alarm (repeats, quiet, disk) and the saved searches
LOCK_RETRY = timedelta(seconds=60)  # a site whose lock another process holds is looked at again after this


def log_line(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write(f"{stamp} {message}\n")
    sys.stderr.flush()


@dataclass
class Job:
    site: SiteConfig
    commands: list[list[str]]
    log_id: int | None
    started: float  # monotonic: the job
    proc: subprocess.Popen[bytes] | None = None
    command_started: float = 0.0  # monotonic: the current command (the timeout is per command)
    codes: list[int] = field(default_factory=list)
    note: str | None = None
    term_sent: float | None = None
    reader: threading.Thread | None = None


def _start_of(config: Config, key: str) -> datetime | None:
    try:
        with Archive(config.archive, readonly=True) as archive:
            return last_start(archive.conn, key)
    except (StorageError, sqlite3.Error):
        return None


class Scheduler:
    def __init__(self, config: Config, *, once: bool = False, log: Callable[[str], None] = log_line,
                 python: str = sys.executable) -> None:
        self.config = config
        self.once = once
        self.log = log
        self.python = python
        self.stop = threading.Event()
        self.jobs: dict[str, Job] = {}
        self.launched: dict[str, datetime] = {}  # in memory too: a site whose attempt could not be logged
        self.not_before: dict[str, datetime] = {}  # a site whose lock another process holds
        self.done_once: set[str] = set()
        self.signals = 0

    # -- the archive -------------------------------------------------------------------------------

    def archive(self) -> Archive:
        return Archive(self.config.archive)

    def due(self, now: datetime) -> list[SiteConfig]:
        """The sites due now, the most overdue first."""
        due: list[tuple[datetime, SiteConfig]] = []
        with self.archive() as archive:
            for site in self.config.sites:
                if site.key in self.jobs or (self.once and site.key in self.done_once):
                    continue
                if self.not_before.get(site.key, now) > now:
                    continue
                starts = [s for s in (last_start(archive.conn, site.key), self.launched.get(site.key)) if s]
                at = max(starts) + site.every if starts else now - timedelta(days=36500)
                if at <= now:
                    due.append((at, site))
        due.sort(key=lambda d: d[0])
        return [s for _, s in due]

    # -- running crawls ----------------------------------------------------------------------------

    def launch(self, site: SiteConfig, now: datetime) -> None:
        if lock_held(self.config.archive, site.key):
            self.log(f"{site.key}: another crawl of it is running; looked at again in {LOCK_RETRY.seconds} s")
            self.not_before[site.key] = now + LOCK_RETRY
            return
        log_id = None
        try:
            with self.archive() as archive:
                log_id = int(archive.conn.execute(
                    "INSERT INTO schedule_log(site, started_at) VALUES (?, ?)", (site.key, iso(now))).lastrowid)
        except (StorageError, sqlite3.Error) as exc:
            self.log(f"{site.key}: cannot record the attempt ({exc}); crawling anyway")
        self.launched[site.key] = now
        self.done_once.add(site.key)
        job = Job(site, site.commands(self.config.archive, self.python), log_id, time.monotonic())
        self.jobs[site.key] = job
        self.log(f"{site.key}: crawl started" + (f" ({len(job.commands)} categories)" if len(job.commands) > 1 else ""))
        self._next_command(job)

    def _next_command(self, job: Job) -> None:
        command = job.commands.pop(0)
        job.command_started = time.monotonic()
        job.term_sent = None
        try:
            # its own process group: a Ctrl-C on the terminal reaches the scheduler, which passes
            # SIGTERM on (a crawl's second signal would stop it without its graceful end)
            job.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, process_group=0)
        except OSError as exc:
            self.log(f"{job.site.key}: cannot start the crawl: {exc}")
            job.proc = None
            job.codes.append(EXIT_FAILED)
            job.note = f"error: {exc}"
            return
        job.reader = threading.Thread(target=self._relay, args=(job.site.key, job.proc), daemon=True)
        job.reader.start()

    def _relay(self, key: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.log(f"{key}: {line.removeprefix('error: ')}")

    def poll(self) -> list[Job]:
        """Reap ended crawls, stop those past their timeout; the jobs that ended."""
        ended = []
        for key, job in list(self.jobs.items()):
            proc = job.proc
            if proc is not None:
                code = proc.poll()
                if code is None:
                    self._watch(job)
                    continue
                if job.reader is not None:
                    job.reader.join(2.0)
                job.codes.append(code if code >= 0 else 128 - code)
                job.proc = None
                if job.commands and not self.stop.is_set() and job.note is None:
                    self._next_command(job)
                    continue
            del self.jobs[key]
            self._finish(job)
            ended.append(job)
        return ended

    def _watch(self, job: Job) -> None:
        assert job.proc is not None
        now = time.monotonic()
        if job.term_sent is None and now - job.command_started > job.site.timeout.total_seconds():
            self.log(f"{job.site.key}: still running after its timeout ({job.site.timeout}): stopping it")
            job.note = "timeout"
            self._signal(job, signal.SIGTERM)
        elif job.term_sent is not None and now - job.term_sent > self.config.stop_grace.total_seconds():
            self._signal(job, signal.SIGKILL)

    def _signal(self, job: Job, signum: int) -> None:
        if job.proc is None or job.proc.poll() is not None:
            return
        if signum == signal.SIGTERM:
            job.term_sent = time.monotonic()
        try:
            job.proc.send_signal(signum)
        except ProcessLookupError:
            pass

    def _finish(self, job: Job) -> None:
        code = job.codes[-1] if job.codes else EXIT_FAILED
        worst = max(job.codes, key=lambda c: (c not in (0, 5), c)) if job.codes else code
        note = job.note or ("stopped" if self.stop.is_set() else "lock_held" if worst == 4 else None)
        finished = datetime.now(UTC)
        try:
            with self.archive() as archive:
                since = archive.conn.execute("SELECT started_at FROM schedule_log WHERE id = ?",
                                             (job.log_id,)).fetchone() if job.log_id else None
                run = archive.conn.execute(
                    "SELECT id FROM runs WHERE site = ? AND started_at >= ? ORDER BY id DESC LIMIT 1",
                    (job.site.key, since[0] if since else iso(finished - timedelta(seconds=time.monotonic()
                                                                                    - job.started + 2)))).fetchone()
                if job.log_id:
                    archive.conn.execute("UPDATE schedule_log SET finished_at = ?, exit_code = ?, run = ?, note = ?"
                                         " WHERE id = ?", (iso(finished), worst, run[0] if run else None, note,
                                                           job.log_id))
        except (StorageError, sqlite3.Error) as exc:
            self.log(f"{job.site.key}: cannot record the end of its crawl ({exc})")
        took = time.monotonic() - job.started
        started = max(s for s in (self.launched[job.site.key], _start_of(self.config, job.site.key)) if s)
        self.log(f"{job.site.key}: crawl ended, exit {worst}" + (f" ({note})" if note else "")
                 + f" after {took:.0f} s; next at {iso(started + job.site.every)}")

    def terminate_all(self) -> None:
        """SIGTERM to every crawl, SIGKILL to those still running after the grace."""
        for job in self.jobs.values():
            job.commands.clear()
            self._signal(job, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_grace.total_seconds()
        while self.jobs and time.monotonic() < deadline:
            self.poll()
            time.sleep(0.1)
        for job in list(self.jobs.values()):
            self._signal(job, signal.SIGKILL)
        end = time.monotonic() + 5
        while self.jobs and time.monotonic() < end:
            self.poll()
            time.sleep(0.05)

    # -- alarms and searches -----------------------------------------------------------------------

    def judge(self, dispatcher: Dispatcher, sites: list[SiteConfig] | None = None) -> None:
        try:
            with self.archive() as archive:
                for notice in reconcile(archive.conn, self.config, datetime.now(UTC), sites):
                    dispatcher.send(notice)
                for search in self.config.searches:
                    notice = search_matches(archive.conn, search)
                    if notice is not None:
                        dispatcher.send(notice)
        except (StorageError, sqlite3.Error) as exc:
            self.log(f"alarms and saved searches not judged this time: {exc}")

    # -- the loop ----------------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: Any) -> None:
        self.signals += 1
        if self.signals == 1:
            sys.stderr.write(f"\nstopping: {len(self.jobs)} crawl(s) get SIGTERM and {self.config.stop_grace} to end\n")
            sys.stderr.flush()
        self.stop.set()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)
        with self.archive():
            pass  # migrations, and a writable archive, before anything starts
        for warning in self.config.warnings:
            self.log(f"warning: {warning}")
        self.log(f"scheduling {len(self.config.sites)} site(s) into {self.config.archive}, {self.config.concurrency}"
                 f" at once" + (" (once)" if self.once else ""))
        dispatcher = Dispatcher(self.config, self.log)
        self.judge(dispatcher)  # saved searches start here: what is archived already is not news
        last_tick = time.monotonic()
        try:
            while not self.stop.is_set():
                for job in self.poll():
                    self.judge(dispatcher, [job.site])
                if self.stop.is_set():
                    break
                now = datetime.now(UTC)
                free = self.config.concurrency - len(self.jobs)
                if free > 0:
                    try:
                        for site in self.due(now)[:free]:
                            self.launch(site, now)
                    except (StorageError, sqlite3.Error) as exc:
                        self.log(f"cannot read the archive's runs: {exc}")
                if self.once and not self.jobs and not self._pending_once(now):
                    break
                if time.monotonic() - last_tick >= TICK:
                    last_tick = time.monotonic()
                    self.judge(dispatcher)
                self.stop.wait(0.2)
        finally:
            if self.stop.is_set():
                self.terminate_all()
        if not self.stop.is_set():
            self.judge(dispatcher)
        dispatcher.close(5.0 if self.stop.is_set() else 120.0)
        if self.stop.is_set():
            self.log("stopped")
            return EXIT_STOPPED
        return EXIT_OK

    def _pending_once(self, now: datetime) -> bool:
        """--once: a site due now but not started yet (its lock was held: not waited for)."""
        try:
            return bool([s for s in self.due(now) if s.key not in self.not_before])
        except (StorageError, sqlite3.Error):
            return False
