"""Hot reload: how the config and the router artifacts stay fresh without a deploy.

One mechanism for both:
- ``CheckSchedule``: when to look at the source again. Every ``interval`` seconds with hot reload
  on; while nothing ever loaded, every ``COLD_RETRY_SECONDS`` whatever the setting (a crash loop
  helps nobody); ``force_check()`` makes the next refresh look at once (after a SnapStart restore
  the serving copy is as old as the snapshot). One thread checks at a time; the others keep serving.
- the look itself is cheap and source-specific: the config asks for an ETag (an S3 HEAD) or a
  file's mtime (``gateway.config.source``); the artifacts list their prefix once (one
  ListObjectsV2 gives every file's ETag; ``gateway.learned_routing.artifact_sync``). Only a changed
  version is downloaded, verified and built;
- last good: a document or artifact that fails to parse, verify or build is reported (``status()``,
  ``/_health/ready``) and the copy serving before keeps serving; the same bad version is not
  fetched again.
``Reloads`` is the pair the runtime holds; requests (``middleware``), batch invocations and the
SnapStart restore hook go through it.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator, Protocol

from gateway.observability import subsegment

COLD_RETRY_SECONDS = 5.0  # while no copy has ever loaded


class CheckSchedule:
    """When a store should look at its source again, and who may do it now."""

    def __init__(self, *, hot_reload: bool, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.hot_reload = hot_reload
        self.interval = interval
        self._clock = clock
        self._last_check: float | None = None
        self.lock = threading.Lock()

    def due(self, *, loaded: bool, reloadable: bool = True) -> bool:
        """``loaded``: a copy is serving; ``reloadable``: there is a source to look at."""
        now = self._clock()
        if not loaded:
            return self._last_check is None or now - self._last_check >= COLD_RETRY_SECONDS
        if not self.hot_reload or not reloadable:
            return False
        return self._last_check is None or now - self._last_check >= self.interval

    def mark_checked(self) -> None:
        self._last_check = self._clock()

    def force_check(self) -> None:
        """The next ``due()`` is true whatever the interval."""
        self._last_check = None

    @contextlib.contextmanager
    def checking(self) -> Iterator[bool]:
        """``with schedule.checking() as mine:`` - ``mine`` is False when another thread is checking."""
        if not self.lock.acquire(blocking=False):
            yield False
            return
        try:
            self.mark_checked()
            yield True
        finally:
            self.lock.release()


class Reloadable(Protocol):
    def due(self) -> bool: ...

    def refresh(self) -> object: ...

    def force_check(self) -> None: ...


class Reloads:
    """The stores one execution environment keeps fresh (the config, then the router artifacts)."""

    def __init__(self, *stores: Reloadable) -> None:
        self.stores = stores

    def due(self) -> bool:
        """True when ``refresh()`` would call a source (S3 HEAD or LIST); otherwise it is a no-op."""
        return any(store.due() for store in self.stores)

    def refresh(self) -> None:
        with subsegment("reload.refresh"):
            for store in self.stores:
                store.refresh()

    def force_check(self) -> None:
        for store in self.stores:
            store.force_check()
