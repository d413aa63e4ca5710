"""One crawl per site and database (no Scrapy here)."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path


class SiteLock:
    """One crawl per site and database: an exclusive ``flock`` that the kernel drops when the
    process dies, so a ``kill -9`` never leaves a stale lock behind. The file lives beside the
    archive (``archive.db-crawl-SITE.lock``, which .gitignore's ``*.db-*`` covers) and is removed
    when its crawl ends."""

    def __init__(self, db: Path, key: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
        self.path = db.with_name(f"{db.name}-crawl-{safe}.lock")
        self.fd: int | None = None

    def acquire(self) -> bool:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the file was removed (its crawl ended) between our open and our lock: again
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            try:
                self.path.unlink()  # (while still locked: whoever opened it before sees it gone, above)
            except FileNotFoundError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
