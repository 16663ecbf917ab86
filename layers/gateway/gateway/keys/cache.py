"""A small per-process TTL cache for resolved keys.

How long a revoked key keeps working: a key that is blocked, deleted, regenerated or changed is
refused by the very next *model request* on any instance, because admission asserts the key's
config version in its conditional write (see ``limits.py``). Only requests that do not admit
(``/v1/models``, an admin key on the admin API) rely on this cache, and for those a revoked key works
for at most ``KEY_CACHE_TTL_SECONDS`` (default 10 s) on instances that had it cached. ``0`` disables
caching (one GetItem per request).

Unknown tokens are remembered too, for ``KEY_NEGATIVE_CACHE_SECONDS`` (default 5 s, ``0`` disables), so
a client retrying one bad key in a loop costs one GetItem per window instead of one per request. That
cache is separate and capped at ``NEGATIVE_MAX_ENTRIES`` (oldest dropped first): a flood of distinct
random keys can neither grow memory nor push valid keys out of the positive cache. A key created on
another instance is refused here for at most that window; one created in this process is usable at
once (``resolve.invalidate``).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

from gateway.keys import settings

V = TypeVar("V")


NEGATIVE_MAX_ENTRIES = 10_000  # hashes, about 3 MB when full


def ttl_seconds() -> float:
    return settings.get().cache_ttl_seconds


def negative_ttl_seconds() -> float:
    return settings.get().negative_cache_seconds


class TTLCache(Generic[V]):
    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if time.monotonic() >= hit[0]:
                del self._data[key]
                return None
            return hit[1]

    def put(self, key: str, value: V, ttl: float | None = None) -> None:
        ttl = ttl_seconds() if ttl is None else ttl
        if ttl <= 0:
            return
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def pop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
