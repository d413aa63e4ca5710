"""A cluster: crawl workers on a frontier shared in Redis, and the one archive writer.

- ``protocol``: what workers and the writer exchange (JSON items, the record queue, keys, Lua
  scripts in ``scripts/``); imports no Redis code until a client is made;
- ``components``: the Scrapy components of a worker, registered in the project's settings and off
  unless ``NEWSARCHIVE_REDIS`` is set;
- ``worker``: the Redis frontier and scrapy-redis's scheduler, adapted (the ``cluster`` extra).
The writer is ``newsarchive.ingest`` (``newsarchive ingest --redis``).
"""

from __future__ import annotations

from .protocol import RecordQueue, connect, decode_page, encode_page, push

__all__ = ["RecordQueue", "connect", "decode_page", "encode_page", "push"]
