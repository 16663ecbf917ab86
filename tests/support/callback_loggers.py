"""Custom loggers a test config names the LiteLLM way (``callbacks: tests.support.callback_loggers.recorder``).

Real ``litellm.integrations.custom_logger.CustomLogger`` subclasses, importable from the deployment
(here: the test tree), as a user's ``custom_callbacks.py`` would be from the function's code or a layer.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class Recorder(CustomLogger):
    """Records each success and failure event: (kind, model group, stream, thread, time)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay  # a slow integration (a network call to Langfuse, say)
        self.events: list[dict[str, Any]] = []

    def _record(self, kind: str, kwargs: dict[str, Any]) -> None:
        self.events.append({"kind": kind, "model": (kwargs.get("litellm_params") or {}).get("metadata", {}).get(
            "model_group") or kwargs.get("model"), "stream": bool(kwargs.get("stream")),
            "thread": threading.current_thread().name, "at": time.monotonic()})

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        await asyncio.sleep(self.delay)
        self._record("success", kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._record("failure", kwargs)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["kind"] == kind]


class Raising(CustomLogger):
    """A broken integration: every hook raises."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.calls += 1
        raise RuntimeError("callback exploded")

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self.calls += 1
        raise RuntimeError("callback exploded")


class Hung(CustomLogger):
    """An integration whose endpoint never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.started = 0

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.started += 1
        await asyncio.sleep(3600)


class Blocker(CustomLogger):
    """Uses a proxy-only hook (to block requests): the gateway would never call it."""

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        raise ValueError("blocked")


recorder = Recorder()
slow_recorder = Recorder(delay=0.3)
raising = Raising()
hung = Hung()
blocker = Blocker()
RecorderClass = Recorder
failures_seen: list[dict[str, Any]] = []


def failure_function(kwargs, completion_response, start_time, end_time) -> None:
    """A plain callback function (``failure_callback: [module.function]``), as litellm accepts."""
    failures_seen.append({"model": kwargs.get("model")})


class FileRecorder(CustomLogger):
    """Appends one JSON line per success to ``$CALLBACK_EVENTS_FILE``: a logger a gateway running in
    another process can be observed by (tests/gateway/test_litellm_dropin_config.py)."""

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        import json
        import os

        path = os.environ.get("CALLBACK_EVENTS_FILE")
        if path:
            group = (kwargs.get("litellm_params") or {}).get("metadata", {}).get("model_group") or kwargs.get("model")
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": "success", "model": group}) + "\n")


file_recorder = FileRecorder()
