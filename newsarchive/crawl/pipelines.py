"""Item pipelines: what the spiders fetched → the archive (through the writer process).

The items that leave the pipelines are record objects (shared/spec/record.md), so a feed export
(``scrapy crawl onecms -a site=… -O out.jsonl``) writes records. The other items (a 304, a failed
fetch, a media file) are recorded here, by the pipeline that owns the archive, and go no further.

Extraction and storage run in the writer process (``worker.py``: the one ``ArchiveWriter`` of the
run, the only writer of the archive and the media file), so the reactor fetches on one core while
the other extracts and stores. Each item waits for the writer's answer (its transaction committed),
so Scrapy's scraper bounds what is in flight (SCRAPER_SLOT_MAX_ACTIVE_SIZE: the responses whose items
are not answered hold the downloader back) and a media request is made only once the article is
stored. A writer that dies stops the crawl as a storage error (exit 7), never a hang or a success.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import protocol
from twisted.internet.defer import Deferred, DeferredSemaphore

from ..store import Archive, StorageError
from .compat import engine_slot, stop_crawl
from .items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified, RecordItem
from .plan import db_path, media_enabled
from .worker import HEADER, MAX_MESSAGE, frame
from .writer import Stored


def _done(what: str) -> DropItem:
    """The end of a bookkeeping item's way: recorded, not exported (quiet: it is not a warning)."""
    return DropItem(what, log_level="DEBUG")


class WriterError(Exception):
    """The writer's answer to one request was not "done": ``kind`` is storage_error, rejected,
    error (a bug, for this item) or died (the writer process is gone)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Channel(protocol.Protocol):
    """The reactor's end of the socket: length-prefixed pickles, read without blocking."""

    def __init__(self, client: WriterClient) -> None:
        self.client = client
        self.buffer = bytearray()

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= HEADER:
            n = int.from_bytes(self.buffer[:HEADER], "big")
            if n > MAX_MESSAGE:
                self.transport.loseConnection()
                return
            if len(self.buffer) < HEADER + n:
                return
            data, self.buffer = bytes(self.buffer[HEADER:HEADER + n]), self.buffer[HEADER + n:]
            self.client.answered(pickle_loads(data))

    def connectionLost(self, reason: Any = None) -> None:
        self.client.lost()


def pickle_loads(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)  # our own writer process's answer, over a socketpair only it holds


class _Adopt(protocol.Factory):
    def __init__(self, channel: _Channel) -> None:
        self.channel = channel

    def buildProtocol(self, addr: Any) -> _Channel:
        return self.channel


class WriterClient:
    """Starts the writer process (a fresh interpreter: never a fork of this one, which runs a
    reactor and holds SQLite connections) and sends it requests; each answer fires its Deferred."""

    def __init__(self, spec: dict[str, Any], on_death: Any) -> None:
        from twisted.internet import reactor

        mine, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # as multiprocessing's spawn
        # a process group of its own: a Ctrl-C at the terminal reaches the crawl, which drains and
        # then closes the writer; it must not reach the writer while it is still importing (before
        # it can ignore it), which killed it and turned the crawl's interruption into a failure
        self.proc = subprocess.Popen([sys.executable, "-m", "newsarchive.crawl.worker", str(theirs.fileno()),
                                      str(os.getpid())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
                                     process_group=0)
        theirs.close()
        mine.setblocking(False)
        self.channel = _Channel(self)
        reactor.adoptStreamConnection(mine.fileno(), socket.AF_UNIX, _Adopt(self.channel))  # a duplicate
        mine.close()
        self.on_death = on_death
        self.pending: dict[int, Deferred[Any]] = {}
        self.seq = 0
        self.closing: Deferred[Any] | None = None
        self.closed: Deferred[Any] = Deferred()
        self.error: str | None = None
        self.exit_code: int | None = None
        # its answer is the worker's pid once the archive is open; a refusal stops the run as a storage error
        self.ready = self.request("open", spec)
        self.ready.addErrback(lambda f: None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def request(self, op: str, item: Any) -> Deferred[Any]:
        if self.error is not None:
            d: Deferred[Any] = Deferred()
            d.errback(WriterError("died", self.error))
            return d
        self.seq += 1
        d = self.pending[self.seq] = Deferred()
        self.channel.transport.write(frame((self.seq, op, item)))
        return d

    def answered(self, message: Any) -> None:
        seq, kind, payload = message
        d = self.pending.pop(seq, None)
        if d is None:
            return
        if kind == "ok":
            d.callback(payload)
        else:
            if seq == 1:  # the archive could not be opened
                self.error = str(payload)
                self.on_death(self.error)
            d.errback(WriterError(kind, str(payload)))

    def close(self) -> Deferred[Any]:
        """Ask the writer to finish (after every answer): fires with its coverage once it exited."""
        if self.error is None and self.closing is None:
            self.closing = self.request("close", None)
            self.closing.addErrback(lambda f: None)
        elif self.closing is None:
            self.closed.callback(None) if not self.closed.called else None
        return self.closed

    def lost(self) -> None:
        """The socket closed: after close, the normal end; otherwise the writer died."""
        try:
            self.exit_code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it closed its end yet lives on: it is no writer of ours now
            self.proc.kill()
            self.exit_code = self.proc.wait()
        closing = self.closing
        if closing is not None and closing.called and self.exit_code == 0:
            if not self.closed.called:
                self.closed.callback(closing.result)
            return
        if self.error is None:
            self.error = (f"the writer process (pid {self.proc.pid}) died with exit code {self.exit_code}:"
                          f" {len(self.pending)} item(s) in flight were not archived")
            self.on_death(self.error)
        pending, self.pending = self.pending, {}
        for d in pending.values():
            d.errback(WriterError("died", self.error))
        if not self.closed.called:
            self.closed.callback(None)


class InProcessWriter:
    """``NEWSARCHIVE_WRITER_PROCESS = False``: the same requests answered on the reactor thread (one
    core; for a debugger, or a test that patches the extractor in this process)."""

    def __init__(self, spec: dict[str, Any], on_death: Any) -> None:
        from twisted.internet.defer import succeed

        from .writer import ArchiveWriter

        self.writer = ArchiveWriter(spec["db"], spec["key"], max_bytes=spec.get("max_bytes"),
                                    media=spec.get("media", False), media_video=spec.get("media_video", False))
        self.pid = os.getpid()
        self.ready = succeed(self.pid)

    def request(self, op: str, item: Any) -> Deferred[Any]:
        from twisted.internet.defer import fail, succeed

        from ..media import Rejected
        from .worker import handle

        try:
            return succeed(handle(self.writer, op, item))
        except (StorageError, sqlite3.OperationalError) as exc:
            return fail(WriterError("storage_error", str(exc)))
        except Rejected as exc:
            return fail(WriterError("rejected", str(exc)))

    def close(self) -> Deferred[Any]:
        from twisted.internet.defer import succeed

        coverage = self.writer.coverage.as_dict()
        self.writer.close()
        return succeed({"coverage": coverage})


class ArchivePipeline:
    """Archives what a crawl of the ``onecms`` spider fetched; keeps the crawl state (re-checks,
    failures) and the media, through the writer process. Off for other spiders and for a cluster
    worker (whose items go to the writer through Redis: newsarchive.cluster.components.PushPipeline)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.writer: WriterClient | InProcessWriter | None = None  # extract + store (started when the spider opens)
        self.media = False
        self.write_ms: list[float] = []  # time of each article's write transaction
        self.media_failed: list[str] = []  # examples for the run record
        # items handed to the writer and not answered: enough to keep it busy while the reactor
        # fetches, few enough that a kill -9 refetches little (fetched, not committed, is lost)
        self.window = DeferredSemaphore(max(1, crawler.settings.getint("NEWSARCHIVE_WRITER_WINDOW", 8)))
        # items fetched and not yet answered: past this many, the engine schedules no new request until
        # half are stored (each holds its response, parsed: ~130 KB; Scrapy's own bound is 5 MB of
        # bodies, ~700 small pages); the requests already downloading still arrive
        self.backlog = 0
        self.backlog_max = max(2, crawler.settings.getint("NEWSARCHIVE_WRITER_BACKLOG", 32))
        self.paused = False
        self.paused_at = 0.0

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArchivePipeline:
        if not getattr(crawler.spidercls, "archives", False):  # one-off scrapes store themselves (or not)
            raise NotConfigured
        if crawler.settings.get("NEWSARCHIVE_REDIS"):  # a cluster worker: the writer stores
            raise NotConfigured
        pipeline = cls(crawler)
        # after the run recorder (an extension, connected first) has written the run
        crawler.signals.connect(pipeline.record_errors, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self, spider: Any = None) -> None:
        settings = self.crawler.settings
        spider = self.crawler.spider
        quota = settings.getfloat("NEWSARCHIVE_MAX_DB_MB")
        self.media = media_enabled(settings, spider.plan.base)
        spec = {"db": str(db_path(settings)), "key": spider.plan.key,
                "max_bytes": int(quota * 2**20) if quota else None, "media": self.media,
                "media_video": settings.getbool("NEWSARCHIVE_MEDIA_VIDEO")}
        process = settings.getbool("NEWSARCHIVE_WRITER_PROCESS", True)
        self.writer = (WriterClient if process else InProcessWriter)(spec, self.writer_died)
        self.stats.set_value("newsarchive/writer_pid", self.writer.pid)
        # the writer ready before the first page arrives: pages fetched while it starts (~1 s of
        # imports) would all be lost to a kill -9 then
        await maybe_deferred_to_future(self.writer.ready)

    def writer_died(self, error: str) -> None:
        """The archive cannot be written any more: the crawl stops as after a full disk (exit 7)."""
        self.storage_error(error)

    def storage_error(self, error: str) -> None:
        # disk full (or quota, or a read-only file, or the writer gone): what was being written was
        # rolled back whole; fetching more would only lose more, so the run stops and says why
        if not self.stats.get_value("newsarchive/storage_error"):
            self.stats.set_value("newsarchive/storage_error", error)
            if self.crawler.engine is not None and getattr(self.crawler.engine, "running", True):
                stop_crawl(self.crawler, "storage_error")

    async def close_spider(self, spider: Any = None) -> None:
        if self.writer is None:
            return
        done = await maybe_deferred_to_future(self.writer.close())  # every item was answered (Scrapy waits)
        if done and done.get("coverage") is not None:
            self.stats.set_value("newsarchive/coverage", done["coverage"])  # for the drift alarm
        if done and done.get("peak_rss_mb"):
            self.stats.set_value("newsarchive/writer_peak_rss_mb", round(done["peak_rss_mb"], 1))
        if self.write_ms:  # in the stats dump (LOG_LEVEL=INFO): how long the archive kept the write lock
            ms = sorted(self.write_ms)
            for name, q in (("p50", 0.5), ("p99", 0.99)):
                self.stats.set_value(f"newsarchive/write_ms_{name}", round(ms[min(len(ms) - 1, int(q * len(ms)))], 2))
            self.stats.set_value("newsarchive/write_ms_max", round(ms[-1], 2))

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        op = ("page" if isinstance(item, FetchedPage) else "not_modified" if isinstance(item, NotModified)
              else "failed" if isinstance(item, FetchFailed) else "media_file" if isinstance(item, MediaFile)
              else "media_failed" if isinstance(item, MediaFailed) else None)
        if op is None:
            return item
        if op == "media_failed" and not self.media:
            raise _done(f"media not archived: {item.error}")
        assert self.writer is not None
        self.hold(+1)
        try:
            await maybe_deferred_to_future(self.window.acquire())
        except BaseException:
            self.hold(-1)
            raise
        try:
            answer = await maybe_deferred_to_future(self.writer.request(op, item))
        except WriterError as exc:
            if exc.kind == "rejected":  # a media file that is not what it claims (recorded as its failure)
                self.count_media_failure(item.url, f"not stored: {exc}")
                raise _done(f"media not stored: {exc}") from exc
            if exc.kind in ("storage_error", "died"):
                self.storage_error(str(exc))
                raise DropItem(f"not archived: {exc}") from exc
            raise RuntimeError(f"writer: {exc}") from exc  # a bug, for this item: an item error (partial run)
        finally:
            self.window.release()
            self.hold(-1)
        return self.answered(item, answer)

    def hold(self, n: int) -> None:
        """Count the items waiting for the writer; pause the engine's scheduling past the bound."""
        self.backlog += n
        engine = self.crawler.engine
        if engine is None:
            return
        if not self.paused and self.backlog >= self.backlog_max:
            self.paused = True
            self.paused_at = time.monotonic()
            engine.pause()
        elif self.paused and self.backlog <= self.backlog_max // 2:
            self.paused = False
            # how long the fetching waited for the writer (the stats dump: where a crawl's time goes)
            self.stats.inc_value("newsarchive/writer_waits")
            self.stats.inc_value("newsarchive/writer_wait_s", round(time.monotonic() - self.paused_at, 3))
            engine.unpause()
            slot = engine_slot(self.crawler)
            if slot is not None:  # at once, not at the engine's next heartbeat (5 s)
                slot.nextcall.schedule()

    def answered(self, item: Any, answer: Any) -> Any:
        if isinstance(item, FetchedPage):
            return self.page(answer)
        if isinstance(item, NotModified):
            self.stats.inc_value("newsarchive/unchanged")
            raise _done("not modified")
        if isinstance(item, FetchFailed):
            self.stats.inc_value("newsarchive/failed")
            raise _done(f"failed: {item.error}")
        if isinstance(item, MediaFile):
            sha, new = answer
            self.stats.inc_value("newsarchive/media_stored")
            if new:
                self.stats.inc_value("newsarchive/media_files_new")
                self.stats.inc_value("newsarchive/media_bytes_new", len(item.body))
            else:
                self.stats.inc_value("newsarchive/media_deduplicated")
            raise _done(f"media stored: {sha}")
        self.count_media_failure(item.url, item.error)  # MediaFailed
        raise _done(f"media not archived: {item.error}")

    def page(self, stored: Stored) -> RecordItem:
        if stored.status == "extractor_error":
            self.stats.inc_value("newsarchive/extractor_errors")
        if stored.record is None:
            self.stats.inc_value("newsarchive/failed")
            raise _done(stored.error or "not archived")
        self.write_ms.append(stored.write_ms)
        self.stats.inc_value(f"newsarchive/{stored.status}")
        if stored.refs:
            self.want_media(stored)
        out = RecordItem(stored.record)
        out.raw = stored.raw  # None: the raw page stayed in the writer process (it is archived)
        return out

    # -- media ---------------------------------------------------------------------------------------

    def want_media(self, stored: Stored) -> None:
        """The article is archived: ask for the files it references that are not held. Requests go
        through the engine like any other."""
        spider = self.crawler.spider
        self.stats.inc_value("newsarchive/media_refs", len(stored.refs))
        self.stats.inc_value("newsarchive/media_held_already", stored.held)
        for ref in stored.wanted:
            self.crawler.engine.crawl(spider.media_request(ref, spider.plan.key))

    def count_media_failure(self, url: str, error: str) -> None:
        self.stats.inc_value("newsarchive/media_failed")
        if len(self.media_failed) < 20:
            self.media_failed.append(f"{url}: {error}")

    def record_errors(self, spider: Any = None, reason: str = "") -> None:
        """The run record says what happened to media: files not archived (retried by the next
        run) are listed in its errors, which does not make the run partial (docs/media.md); and
        why the archive could not be written (a full disk, the writer process gone)."""
        run_id = self.stats.get_value("newsarchive/run_id")
        if run_id is None:
            return
        lines = []
        storage = self.stats.get_value("newsarchive/storage_error")
        if storage:
            lines.append(f"archive not written: {storage}")
        failed = int(self.stats.get_value("newsarchive/media_failed", 0) or 0)
        if failed:
            lines.append(f"media: {failed} file(s) not archived (retried by the next run): "
                         + "; ".join(self.media_failed[:5]))
        if not lines:
            return
        try:
            with Archive(db_path(self.crawler.settings)) as archive:
                _append_run_error(archive, run_id, lines)
        except (StorageError, sqlite3.OperationalError):
            pass


def _append_run_error(archive: Archive, run_id: int, lines: list[str]) -> None:
    import json

    row = archive.conn.execute("SELECT errors FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is not None:
        errors = json.loads(row[0] or "[]")
        archive.conn.execute("UPDATE runs SET errors = ? WHERE id = ?",
                             (json.dumps([*errors, *lines], ensure_ascii=False), run_id))


__all__ = ["ArchivePipeline", "InProcessWriter", "WriterClient", "WriterError", "media_enabled"]
