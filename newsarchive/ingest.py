"""The one archive writer of a cluster: items from Redis into the archive, in batches.

The same rules as a local crawl (the upsert by URL, alias and CMS id, revisions by content,
validators, failures kept for the next run) are applied by the same store code; each batch is one
transaction that also records the batch's id, and the batch is acknowledged in Redis only after
that transaction has committed (see newsarchive.cluster).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cluster import RecordQueue, decode_page
from .cluster.protocol import PREFIX
from .store import Archive
from .store.crawlstate import CrawlState, header


@dataclass
class IngestReport:
    batches: int = 0
    items: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    failed: int = 0  # failures recorded (retried by a later run)
    checked: int = 0  # re-checks that found an article unchanged (304)
    replayed: int = 0  # batches found already stored (a writer died between commit and acknowledgement)
    skipped: int = 0  # items of a kind this writer does not know (a newer worker)
    media_new: int = 0  # media files stored (new bytes; a file held already is deduplicated)
    media_failed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


def failpoint(name: str) -> None:
    """Die here, as kill -9 would, when NEWSARCHIVE_FAILPOINT names this point (fault tests)."""
    if os.environ.get("NEWSARCHIVE_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


MEDIA_SETTLED = f"{PREFIX}:media:settled"  # media URLs held or given up on: workers do not ask for them again


class WriterMedia:
    """The media file beside the archive, written by the writer only (docs/cluster.md): the files
    workers fetched, and the URLs settled (held, or given up) told back to them through Redis."""

    def __init__(self, archive: Archive, client: Any) -> None:
        self.archive, self.client = archive, client
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from .media import MediaStore, media_path

            self._store = MediaStore(media_path(self.archive.path))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def file(self, item: dict[str, Any], report: IngestReport) -> None:
        import base64
        import zlib

        from .crawl.writer import content_type
        from .media import Rejected, measure

        body = zlib.decompress(base64.b64decode(item["body_z"]))
        url = item.get("request_url") or item["url"]
        try:
            measured = measure(body, item["kind"], content_type(item.get("headers")))
        except Rejected as exc:
            self.failed({**item, "error": f"not stored: {exc}"}, report)
            return
        # its own file and transaction: a replayed batch stores the same bytes again, deduplicated
        _, new = self.store.store(url, body, measured, status=int(item.get("status") or 200),
                                  headers=item.get("headers"), fetched_at=item.get("fetched_at"))
        report.media_new += new
        if self.client is not None:
            self.client.sadd(MEDIA_SETTLED, url)

    def failed(self, item: dict[str, Any], report: IngestReport) -> None:
        self.store.fail(item["url"], item.get("site") or item.get("key"), item["error"])
        report.media_failed += 1
        if self.client is not None and self.store.given_up([item["url"]]):
            self.client.sadd(MEDIA_SETTLED, item["url"])


def apply(state: CrawlState, item: dict[str, Any], report: IngestReport, media: WriterMedia | None = None) -> None:
    """One worker item, inside the batch's transaction."""
    kind, run = item.get("type"), item.get("run")
    if kind == "page":
        result = state.keep(item["record"], decode_page(item["page"]), item.get("request_url"))
        setattr(report, result.status, getattr(report, result.status) + 1)
        state.count_in_run(run, f"articles_{result.status}")
        if "refs" in item:  # the media the article references, in the article's transaction
            from .media import Ref, write_refs

            write_refs(state.conn, result.id, [Ref(u, r) for u, r in item["refs"]])
    elif kind == "media" and media is not None:
        media.file(item, report)
    elif kind == "media_failed" and media is not None:
        media.failed(item, report)
    elif kind == "failed":
        state.record_failure(item["url"], item["key"], item["error"])
        report.failed += 1
        state.count_in_run(run, "articles_failed")
    elif kind == "checked":
        headers = item.get("headers") or {}
        state.touch(item["url"], item["fetched_at"], header(headers, "ETag"), header(headers, "Last-Modified"))
        report.checked += 1
        state.count_in_run(run, "articles_unchanged")
    elif kind == "run" and item.get("event") == "start":
        state.start_cluster_run(run, item["key"], item["base"], item.get("since_bound"), item["started_at"])
    elif kind == "run" and item.get("event") == "finish":
        state.finish_cluster_run(run, item["finished_at"], int(item.get("pages") or 0), list(item.get("errors") or []))
    else:
        report.skipped += 1


def ingest(archive: Archive, queue: RecordQueue, *, batch: int = 200, idle_exit: float | None = None,
           should_stop: Callable[[], bool] = lambda: False,
           progress: Callable[[IngestReport], None] | None = None) -> IngestReport:
    """Move items into the archive until ``should_stop()`` or, with ``idle_exit``, until nothing has
    arrived for that many seconds."""
    state = CrawlState(archive)
    media = WriterMedia(archive, getattr(queue, "client", None))
    report = IngestReport()
    started = idle_since = time.monotonic()
    while not should_stop():
        batch_id, items = queue.claim(batch)
        if not items:
            if idle_exit is not None and time.monotonic() - idle_since >= idle_exit:
                break
            time.sleep(0.1)
            continue
        idle_since = time.monotonic()
        if archive.batch_stored(batch_id):
            queue.ack(batch_id)
            report.replayed += 1
            continue
        with archive.transaction():
            for item in items:
                apply(state, item, report, media)
            failpoint("ingest-before-commit")
            archive.record_batch(batch_id, len(items))
        failpoint("ingest-after-commit")
        queue.ack(batch_id)
        report.batches += 1
        report.items += len(items)
        report.seconds = time.monotonic() - started
        if progress:
            progress(report)
    report.seconds = time.monotonic() - started
    media.close()
    return report
