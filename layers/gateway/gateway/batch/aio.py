"""One event loop per process, on its own thread, for all batch work.

litellm caches async HTTP clients that belong to the loop that made them, so running each Lambda
invocation under a fresh ``asyncio.run`` would leave those clients on a closed loop. Here every
invocation (and the local worker, and tests calling the handlers from any thread) submits its
coroutine to the same long-lived loop. Blocking boto3 calls go to a wide thread pool: the default
one has cpu+4 threads, fewer than the lines a chunk keeps in flight.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="batch-io")


def _ensure() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            loop.set_default_executor(_pool)
            threading.Thread(target=loop.run_forever, name="batch-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Awaitable[T], timeout: float | None = None) -> T:
    """Run ``coro`` on the batch loop and wait for it (never call from the batch loop itself)."""
    return asyncio.run_coroutine_threadsafe(coro, _ensure()).result(timeout)  # type: ignore[arg-type]


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking call (boto3) off the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool, lambda: fn(*args, **kwargs))
