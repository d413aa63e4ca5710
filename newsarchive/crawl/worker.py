"""The writer process: extraction and storage beside the reactor, so a crawl uses two cores.

The crawl's reactor process fetches; this process (``python -m newsarchive.crawl.worker FD``, a fresh
interpreter: nothing is forked from a process holding a running reactor or open SQLite connections)
owns the one ``ArchiveWriter`` of the run — the only writer of the archive and of the media file
while the crawl runs. It reads requests from a socket, in order, and answers each once its
transaction is committed (one per article, as in-process), so the pipeline's Deferred fires only
for what is stored.

Protocol (both ways): an 8-byte big-endian length, then a pickle. Requests ``(seq, op, item)``;
answers ``(seq, kind, payload)`` with kind ``ok``, ``storage_error``, ``rejected`` (a media file that
is not what it claims) or ``error`` (a bug: the item fails, the run goes on). The socket is the
process's lifeline: when the crawl dies (kill -9), the kernel kills this process too (Linux:
PR_SET_PDEATHSIG; elsewhere the next read ends it), in or between transactions, each committed or
rolled back whole — SQLite's own guarantee. Ctrl-C and SIGTERM
sent to the process group are ignored here: the crawl drains what it handed over and then says
``close``. Pickle is safe here: both ends are this package, over a socketpair nobody else holds.

No Scrapy or Twisted here (the reactor side is ``pipelines.WriterClient``).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sqlite3
import sys
from dataclasses import replace
from typing import Any

from ..media import Rejected
from ..store import StorageError
from .items import FetchedPage, FetchFailed, MediaFailed, MediaFile, NotModified

HEADER = 8  # bytes of the length prefix
MAX_MESSAGE = 2**31  # a 256 MiB video file is the largest thing sent; a longer length is a broken stream


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB). Linux: ``VmHWM``, which starts again at exec;
    ``ru_maxrss`` keeps the high-water mark of the process that forked us (a writer started by a
    100 MB crawl reported 100 MB however little it used; a crawl started by pytest, pytest's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (Linux counts KiB; macOS bytes)


def frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "big") + data


def _read_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            return None  # the other end is gone
        got += k
    return bytes(buf)


def read_message(sock: socket.socket) -> Any:
    """The next message, or None at the end of the stream."""
    head = _read_exact(sock, HEADER)
    if head is None:
        return None
    n = int.from_bytes(head, "big")
    if n > MAX_MESSAGE:
        raise ValueError(f"message of {n} bytes: the stream is broken")
    data = _read_exact(sock, n)
    return None if data is None else pickle.loads(data)


def handle(writer: Any, op: str, item: Any) -> Any:
    """What the pipeline needs back from one request (never the page's body: it has it)."""
    if op == "page":
        assert isinstance(item, FetchedPage)
        stored = writer.page(item)
        return replace(stored, raw=None)
    if op == "not_modified":
        assert isinstance(item, NotModified)
        return writer.not_modified(item)
    if op == "failed":
        assert isinstance(item, FetchFailed)
        return writer.failed(item)
    if op == "media_file":
        assert isinstance(item, MediaFile)
        return writer.media_file(item)
    if op == "media_failed":
        assert isinstance(item, MediaFailed)
        return writer.media_failed(item)
    raise ValueError(f"unknown request {op!r}")


def serve(sock: socket.socket) -> int:
    """Answer requests until ``close`` (exit 0) or the crawl is gone (exit 3)."""
    from .writer import ArchiveWriter

    first = read_message(sock)
    if first is None:
        return 3
    seq, op, spec = first
    assert op == "open"
    try:
        writer = ArchiveWriter(spec["db"], spec["key"], max_bytes=spec.get("max_bytes"), media=spec.get("media", False),
                               media_video=spec.get("media_video", False))
    except (StorageError, sqlite3.OperationalError) as exc:
        sock.sendall(frame((seq, "storage_error", str(exc))))
        return 7
    sock.sendall(frame((seq, "ok", os.getpid())))
    try:
        while True:
            message = read_message(sock)
            if message is None:  # the crawl died: what was committed stays, nothing is half-written
                return 3
            seq, op, item = message
            if op == "close":
                peak = peak_rss_mib()
                sock.sendall(frame((seq, "ok", {"coverage": writer.coverage.as_dict(), "peak_rss_mb": peak})))
                return 0
            try:
                answer: tuple[Any, ...] = (seq, "ok", handle(writer, op, item))
            except (StorageError, sqlite3.OperationalError) as exc:
                answer = (seq, "storage_error", str(exc))
            except Rejected as exc:
                answer = (seq, "rejected", str(exc))
            except Exception as exc:  # a bug in extraction or storage: this item fails, loudly, not the run
                answer = (seq, "error", f"{type(exc).__name__}: {exc}")
            sock.sendall(frame(answer))
    finally:
        writer.close()


def die_with(parent: int) -> None:
    """Linux: the kernel kills this process when the crawl's dies (PR_SET_PDEATHSIG), so a kill -9 of
    the crawl stops both at once, as a power cut would, rather than leaving a writer running on."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the end of the socket stops it instead
        return
    if os.getppid() != parent:  # the crawl died before the call above
        os._exit(3)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        die_with(int(args[1]))
    # the crawl drains on the first Ctrl-C and then closes this process; a group signal must not
    # kill the writer under it (kill -9 still does: SQLite's atomic commit covers that)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock = socket.socket(fileno=int(args[0]))
    profile = os.environ.get("NEWSARCHIVE_WRITER_PROFILE")  # bench/bench_crawl.py --profile: a cProfile dump
    try:
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            try:
                return profiler.runcall(serve, sock)
            finally:
                profiler.dump_stats(profile)
        return serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        return 3  # the crawl is gone
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
