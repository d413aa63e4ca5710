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

from .store import RawPage

PREFIX = "newsarchive"
RECORDS = f"{PREFIX}:records"  # worker -> writer items (LPUSH by workers, taken from the right)
INGESTING = f"{PREFIX}:records:ingesting"  # the batch the writer has claimed and not acknowledged
INGESTING_ID = f"{PREFIX}:records:ingesting:id"

_CLAIM = """
if redis.call('LLEN', KEYS[2]) > 0 then
  local id = redis.call('GET', KEYS[3])
  if not id then id = ARGV[2]; redis.call('SET', KEYS[3], id) end
  return {id, redis.call('LRANGE', KEYS[2], 0, -1)}
end
local items = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('RPOP', KEYS[1])
  if not v then break end
  redis.call('RPUSH', KEYS[2], v)
  items[#items + 1] = v
end
if #items > 0 then redis.call('SET', KEYS[3], ARGV[2]) end
return {ARGV[2], items}
"""


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
        self._claim = client.register_script(_CLAIM)

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

    def pending(self) -> int:
        return int(self.client.llen(RECORDS)) + int(self.client.llen(INGESTING))
