"""What crawl workers and the one archive writer exchange through Redis.

Workers (``newsarchive crawl … --redis URL``) push what they fetched and extracted onto one list;
the writer (``newsarchive ingest --redis URL``) moves it into the archive in batches. An item is
JSON (never pickle: whoever can write to the list must not be able to run code in the writer);
a raw page travels zlib-compressed and base64-encoded.

A batch is claimed atomically (moved to an "ingesting" list under a batch id, by a Lua script) and
acknowledged (deleted) only after the transaction that stored it has committed and recorded the
batch id: a writer killed before the commit finds the batch still claimed and stores it; one
killed after the commit finds the id already recorded and only acknowledges it. Nothing is lost
and nothing is stored twice.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from typing import Any

from ..store import RawPage


def script(name: str) -> str:
    """A Lua script of this package (scripts/NAME.lua): run by Redis atomically."""
    from importlib.resources import files

    return files(__package__).joinpath("scripts", f"{name}.lua").read_text(encoding="utf-8")


PREFIX = "newsarchive"
RECORDS = f"{PREFIX}:records"  # worker -> writer items (LPUSH by workers, taken from the right)
INGESTING = f"{PREFIX}:records:ingesting"  # the batch the writer has claimed and not acknowledged
INGESTING_ID = f"{PREFIX}:records:ingesting:id"


def connect(url: str) -> Any:
    """A Redis client for ``redis://HOST:PORT/N`` (checked with a PING: a wrong address is one line)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, retry_on_timeout=True)
    client.ping()
    return client


def encode_page(page: RawPage) -> dict[str, Any]:
    return {"url": page.url, "status": page.status, "headers": dict(page.headers or {}),
            "body_z": base64.b64encode(zlib.compress(page.body, 6)).decode("ascii"), "fetched_at": page.fetched_at}


def decode_page(data: dict[str, Any]) -> RawPage:
    return RawPage(data["url"], zlib.decompress(base64.b64decode(data["body_z"])), data.get("status"),
                   data.get("headers"), data.get("fetched_at"))


def push(client: Any, item: dict[str, Any]) -> None:
    client.lpush(RECORDS, json.dumps(item, ensure_ascii=False, separators=(",", ":")))


class RecordQueue:
    """The writer's side of the list: claim a batch, acknowledge it once stored."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._claim = client.register_script(script("claim_batch"))

    def claim(self, size: int) -> tuple[str, list[dict[str, Any]]]:
        """The claimed, unacknowledged batch if there is one (a writer died with it), else up to
        ``size`` new items: (batch id, items), oldest first."""
        batch_id, raws = self._claim(keys=[RECORDS, INGESTING, INGESTING_ID], args=[size, uuid.uuid4().hex])
        return (batch_id.decode() if isinstance(batch_id, bytes) else batch_id), [json.loads(r) for r in raws]

    def ack(self, batch_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(INGESTING)
        pipe.delete(INGESTING_ID)
        pipe.execute()


# -- workers -----------------------------------------------------------------------------------------
#
# A run of a site is shared under newsarchive:site:<key>:. The worker started with the archive
# (--db) plans it from the archive (read only) and seeds the frontier; the others join it.
# Requests live in scrapy-redis's priority queue and duplicate filter; a worker that pops a request
# records it in its own claims hash until the request's callback or errback has finished (or a
# retry or redirect has queued its successor), so the requests of a worker that died are put back.

HEARTBEAT = 2.0  # seconds between a worker's signs of life
DEAD_AFTER = 20.0  # a worker silent for this long is dead: its claimed requests go back to the queue
CLAIM = "newsarchive_claim"  # request.meta key of the claim id


def site_prefix(key: str) -> str:
    return f"{PREFIX}:site:{key}:"


def worker_id() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


WORKER = worker_id()  # this process, as the other workers see it


# Requests travel as JSON too: bytes tagged, anything else refused (no pickle in a shared queue).
def _tag(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"__b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, bytes) else k.decode("latin-1"): _tag(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tag(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot queue a request carrying {type(value).__name__}")


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b"}:
            return base64.b64decode(value["__b"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value


class RequestSerializer:
    """scrapy-redis SCHEDULER_SERIALIZER: JSON with tagged bytes."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(_tag(obj), separators=(",", ":"))

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return _untag(json.loads(data))
