"""Bookkeeping after the response has left: a Lambda internal extension that drains a work queue.

Lambda hands the handler's result to the caller as soon as the runtime posts it, but keeps the
execution environment running (and sends it no new request) until every registered extension has
asked for its next event. The gateway registers an *internal* extension (a thread in this process,
Extensions API) and queues each request's spend settlement on it: the client gets its answer
without waiting for the DynamoDB transaction, and the environment is not frozen before the
transaction is done. What a failing settlement does is unchanged (``gateway.keys.spend``: retries,
then an ERROR line and the replay queue); the work only moves from before the response to after it.

The invocation's duration (what Lambda bills, and what the function timeout bounds) still includes
the work. Off outside Lambda (no ``AWS_LAMBDA_RUNTIME_API``), under SnapStart (a snapshot must not
hold a half-open Extensions API call), when ``GATEWAY_SETTLE_AFTER_RESPONSE=false``, and if the
Extensions API fails; work then runs inline, as before.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
import urllib.request
from typing import Callable, Coroutine

from gateway.settings import get_settings

log = logging.getLogger(__name__)

EXTENSION_NAME = "gateway-after-response"
_END = object()  # marks the end of one invocation's work
DEADLINE_MARGIN_S = 0.5  # stop waiting for a hung invocation this long before its deadline


class AfterResponse:
    """The extension: register, then for each INVOKE run queued work until the handler is done."""

    def __init__(self, runtime_api: str, name: str = EXTENSION_NAME) -> None:
        self._base = f"http://{runtime_api}/2020-01-01/extension"
        self._name = name
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._extension_id = ""
        self._carried: list[object] = []  # work of an invocation that hit its deadline, run first next time
        self._late_ends = 0  # end markers still to come from invocations given up at their deadline
        self._lock = threading.Lock()  # submit() vs. switching off: nothing may be queued after the last drain
        self.active = False

    def start(self) -> None:
        """Register (during init, as the Extensions API requires) and start the worker thread."""
        request = urllib.request.Request(
            f"{self._base}/register", data=json.dumps({"events": ["INVOKE"]}).encode(), method="POST",
            headers={"Lambda-Extension-Name": self._name, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            self._extension_id = response.headers["Lambda-Extension-Identifier"]
        self.active = True
        threading.Thread(target=self._loop, name=self._name, daemon=True).start()

    def submit(self, work: Callable[[], None]) -> bool:
        """Queue ``work`` for after the response; False (caller runs it inline) when not active."""
        with self._lock:
            if not self.active:
                return False
            self._queue.put(work)
            return True

    def invocation_done(self) -> None:
        """Called by the handler as it returns: everything this invocation queued is now queued."""
        if self.active:
            self._queue.put(_END)

    def _next_event(self) -> dict:
        request = urllib.request.Request(f"{self._base}/event/next",
                                         headers={"Lambda-Extension-Identifier": self._extension_id})
        with urllib.request.urlopen(request) as response:  # blocks until the next invocation
            return json.loads(response.read() or b"{}")

    def _loop(self) -> None:
        while True:
            try:
                event = self._next_event()
            except Exception:
                log.exception("Extensions API failed; settling inline from now on")
                with self._lock:
                    self.active = False
                self._run_leftovers()
                return
            if event.get("eventType") == "INVOKE":
                self._drain(deadline=float(event.get("deadlineMs", 0)) / 1000 or time.time() + 900)

    def _drain(self, deadline: float) -> None:
        # Nothing runs until the handler is done: work started mid-request would compete with the
        # response for the GIL (up to a whole switch interval, 5 ms, per hand-over).
        batch, self._carried = self._carried, []
        while True:
            try:
                work = self._queue.get(timeout=max(0.0, deadline - time.time() - DEADLINE_MARGIN_S))
            except queue.Empty:  # too close to the timeout to start writes now: they run next time
                log.error("the invocation did not finish before its deadline; its work runs with the next one")
                self._carried = batch
                self._late_ends += 1  # its end marker, if it ever comes, must not end the next drain
                return
            if work is _END:
                if self._late_ends:
                    self._late_ends -= 1
                    continue
                break
            batch.append(work)
        for work in batch:
            _run(work)

    def _run_leftovers(self) -> None:
        carried, self._carried = self._carried, []
        for work in carried:
            _run(work)
        while True:
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                return
            if work is not _END:
                _run(work)


def _run(work: object) -> None:
    try:
        work()  # type: ignore[operator]
    except Exception:  # the work logs its own failures; this keeps the extension alive
        log.exception("post-response work failed")


_extension: AfterResponse | None = None


def enabled_here() -> bool:
    """On Lambda, not restored from a SnapStart snapshot, not switched off."""
    settings = get_settings()
    if not settings.lambda_runtime_api:
        return False
    if settings.lambda_initialization_type == "snap-start":
        return False
    return settings.settle_after_response


def start() -> bool:
    """Start the extension if this environment allows it (call once, during init)."""
    global _extension
    if _extension is not None or not enabled_here():
        return bool(_extension and _extension.active)
    extension = AfterResponse(get_settings().lambda_runtime_api)
    try:
        extension.start()
    except Exception:
        log.exception("could not register the post-response extension; settling inline")
        return False
    _extension = extension
    return True


def active() -> bool:
    """True while work submitted now would run after the response."""
    return _extension is not None and _extension.active


def submit(work: Callable[[], None]) -> bool:
    """Run ``work`` after the response if the extension is active; False means: run it yourself."""
    return _extension is not None and _extension.submit(work)


def submit_on_loop(loop: asyncio.AbstractEventLoop, make_coroutine: Callable[[], Coroutine[object, object, object]],
                   timeout: float) -> bool:
    """Run a coroutine on the handler's event loop after the response, at most ``timeout`` seconds.

    Background tasks that a library leaves on the loop (litellm's success callbacks) would otherwise
    run at the first ``await`` of the *next* request, since the loop only turns during an
    invocation. After the response the handler's thread is parked in the runtime's next-event call
    and the loop is idle, so this extension's thread may drive it; Lambda sends no new event before
    the extension asks for one.
    """
    def run() -> None:
        if loop.is_closed() or loop.is_running():
            return
        try:
            loop.run_until_complete(asyncio.wait_for(make_coroutine(), timeout))
        except asyncio.TimeoutError:
            log.warning("background work on the event loop did not finish within %.1f s; it resumes "
                        "with the next request", timeout)

    return submit(run)


def invocation_done() -> None:
    if _extension is not None:
        _extension.invocation_done()
