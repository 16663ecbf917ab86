"""LiteLLM's logging callbacks named in the config, set on litellm as its proxy sets them.

``litellm_settings.success_callback`` / ``failure_callback`` / ``callbacks`` take the names of
litellm's integrations (``langfuse``, ``otel``, ``s3``, ``aws_sqs``, ``datadog``, ...) and
``module.attribute`` paths to a custom logger instance or callback function, resolved the way
``litellm/proxy/types_utils/utils.py:get_instance_fn`` does without a config file path: a plain
``importlib.import_module``. The config comes from S3, so the module must already be importable from
the deployment (the function's code or a layer); nothing is ever loaded from the config bucket
(``s3://`` / ``gcs://`` paths, which the proxy would ``exec``, are refused) or from a request.

Installing replaces the previous config's callbacks in every litellm list they may have been
promoted into (``utils.function_setup`` copies ``litellm.callbacks`` into the success, failure and
input lists on the first call), so a reload never accumulates them. Only the callbacks a config
named are touched: the Router's own (deployment usage, cooldowns) stay.

The callbacks run where litellm runs them (``litellm_logging.py``: async success handlers on
``GLOBAL_LOGGING_WORKER``, sync ones on the logging thread pool, stream ends in a task of their
own); ``providers.flush_background_work`` waits for all of them after the response.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import re
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Iterable

import litellm

from gateway.config.errors import ConfigError

MAX_CALLBACKS = 20  # per setting; admin input is bounded
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,9}")

#: litellm's string callbacks that are not CustomLogger-compatible classes
#: (``litellm_logging.py:set_callbacks``, 1.106.2)
_LEGACY_NAMES = frozenset({"athina", "datadog", "dynamodb", "greenscale", "helicone", "langfuse", "logfire", "lunary",
                           "openmeter", "promptlayer", "s3", "sentry", "slack", "supabase", "traceloop", "wandb"})
#: Hooks litellm's *proxy* calls (``ProxyLogging`` in ``litellm/proxy/utils.py``), never ``Router``;
#: a logger that relies on them (to block or rewrite requests) would silently not do its job here.
_PROXY_ONLY_HOOKS = ("async_pre_call_hook", "async_moderation_hook", "async_post_call_success_hook",
                     "async_post_call_failure_hook", "async_post_call_streaming_hook",
                     "async_post_call_streaming_iterator_hook", "async_post_call_response_headers_hook",
                     "async_filter_listed_models", "async_post_mcp_tool_call_hook")
#: Every litellm list a configured callback can end up in (``LoggingCallbackManager``, ``function_setup``)
_LISTS = ("callbacks", "success_callback", "failure_callback", "_async_success_callback", "_async_failure_callback",
          "input_callback", "_async_input_callback")


@dataclass(frozen=True)
class ConfiguredCallbacks:
    """What one config names, resolved: strings (litellm's integrations) or loaded objects."""

    success: tuple[Any, ...] = ()
    failure: tuple[Any, ...] = ()
    both: tuple[Any, ...] = ()  # ``litellm.callbacks``: success and failure

    def entries(self) -> tuple[Any, ...]:
        return self.success + self.failure + self.both


def resolve(litellm_settings: dict[str, Any]) -> ConfiguredCallbacks:
    """Resolve the config's callback settings; a bad entry fails the config (ConfigError)."""
    return ConfiguredCallbacks(**{
        field: tuple(_resolve_entry(setting, entry) for entry in _entries(setting, litellm_settings.get(setting)))
        for field, setting in (("success", "success_callback"), ("failure", "failure_callback"), ("both", "callbacks"))
    })


def _entries(setting: str, value: Any) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value  # the proxy takes a single path too
    if not isinstance(values, list) or len(values) > MAX_CALLBACKS:
        raise ConfigError(f"litellm_settings.{setting} must be a list of at most {MAX_CALLBACKS} names")
    for entry in values:
        if not isinstance(entry, str) or not _NAME.fullmatch(entry):
            raise ConfigError(f"litellm_settings.{setting}: {str(entry)[:80]!r} is neither one of litellm's callback "
                              "names nor a module.attribute path importable from the deployment")
    return values


def _resolve_entry(setting: str, entry: str) -> Any:
    if "." not in entry:
        if entry in litellm._known_custom_logger_compatible_callbacks or (
                setting != "callbacks" and entry in _LEGACY_NAMES):
            return entry
        raise ConfigError(f"litellm_settings.{setting}: {entry!r} is not a litellm logging integration this gateway "
                          "runs (proxy hooks such as presidio or llamaguard_moderations are not served)")
    module_name, attribute = entry.rsplit(".", 1)
    try:
        loaded = getattr(importlib.import_module(module_name), attribute)
    except Exception as err:  # ImportError, AttributeError, or the module's own import failing
        raise ConfigError(f"litellm_settings.{setting}: {entry!r} could not be loaded from the deployment "
                          f"({type(err).__name__}); ship the module in the function's code or a layer") from None
    from litellm.integrations.custom_logger import CustomLogger

    if isinstance(loaded, CustomLogger):
        unserved = [hook for hook in _PROXY_ONLY_HOOKS if _overridden_outside_litellm(type(loaded), hook)]
        if unserved:
            raise ConfigError(f"litellm_settings.{setting}: {entry!r} implements {', '.join(unserved)}, which only "
                              "litellm's proxy calls; the gateway would never run it")
        return loaded
    if callable(loaded) and not isinstance(loaded, type):
        return loaded
    raise ConfigError(f"litellm_settings.{setting}: {entry!r} is not a CustomLogger instance or a function "
                      "(point it at an instance, e.g. module.proxy_handler_instance)")


def _overridden_outside_litellm(cls: type, hook: str) -> bool:
    """The user's own code implements ``hook`` (litellm's integrations add proxy hooks as extras)."""
    function = getattr(cls, hook, None)
    return function is not None and not getattr(function, "__module__", "").startswith("litellm")


_installed: ConfiguredCallbacks = ConfiguredCallbacks()
_lock = threading.Lock()


def install(configured: ConfiguredCallbacks) -> None:
    """Replace the previous config's callbacks on litellm with these, as the proxy's config load does
    (``proxy_server.py``: ``initialize_callbacks_on_proxy`` for ``callbacks``,
    ``logging_callback_manager.add_litellm_success_callback`` / ``..._failure_callback`` for the others)."""
    global _installed
    with _lock:
        _remove(_installed.entries())
        manager = litellm.logging_callback_manager
        for entry in configured.success:
            manager.add_litellm_success_callback(entry)
        for entry in configured.failure:
            manager.add_litellm_failure_callback(entry)
        if configured.both:
            litellm.callbacks.extend(configured.both)
        _installed = configured


def _remove(entries: Iterable[Any]) -> None:
    """Take these entries out of every list, with the logger instances litellm made from their names.

    litellm turns a name into an instance on first use and caches it
    (``litellm_logging.py:_init_custom_logger_compatible_class``, ``_in_memory_loggers``); in the
    gateway only config-named integrations get there (callers cannot send ``callbacks``).
    """
    from litellm.litellm_core_utils.litellm_logging import _in_memory_loggers

    entries = list(entries)
    named = any(isinstance(entry, str) for entry in entries)
    made_from_names = list(_in_memory_loggers) if named else []

    def stale(callback: Any) -> bool:
        return (any(callback is entry or (isinstance(entry, str) and callback == entry) for entry in entries)
                or any(callback is made for made in made_from_names))

    for name in _LISTS:
        callbacks = getattr(litellm, name, None)
        if isinstance(callbacks, list):
            callbacks[:] = [c for c in callbacks if not stale(c)]


# --- after the response ------------------------------------------------------------------------
_LITELLM_DIR = os.path.dirname(litellm.__file__)
#: The logging worker's own long-lived tasks: its loop never ends, its timeout summary only logs.
_NOT_CALLBACKS = ("LoggingWorker._worker_loop", "LoggingWorker._flush_timeout_summary")
_given_up: "weakref.WeakSet[asyncio.Task]" = weakref.WeakSet()  # still running when a wait ran out
_given_up_in_pool = 0


async def wait_for_logging() -> None:
    """Return once litellm has run the callbacks of the calls made so far.

    Three places hold them (litellm 1.106.2): ``GLOBAL_LOGGING_WORKER`` (the async success handler
    of a non-streamed call, ``utils.py:_client_async_logging_helper``; each one it runs is a
    ``LoggingWorker._process_log_task`` task); a task of its own for a stream's end or failure
    (``streaming_handler.py:_finalize_completed_stream`` creates ``Logging.dispatch_success_handlers``);
    and the logging thread pool for sync callbacks such as ``langfuse`` or ``s3``
    (``thread_pool_executor.py``, ``Logging.handle_sync_success_callbacks_for_async_calls``). One can
    lead to another (a stream's task submits to the pool), so this loops until all three are done.

    It has no bound of its own: the caller's ``asyncio.wait_for`` is the bound. What was still
    running when a wait ran out is not waited for again (a hung callback costs one bound, not one
    per later request; litellm's worker cancels it after ``LOGGING_WORKER_MAX_TIME_PER_COROUTINE``).
    """
    global _given_up_in_pool
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    from litellm.litellm_core_utils.thread_pool_executor import executor

    GLOBAL_LOGGING_WORKER.start()  # idempotent; moves a queue left on another loop onto this one
    try:
        while True:
            await asyncio.sleep(0)  # what the response scheduled starts (the worker takes its queue)
            pending = [task for task in _litellm_tasks() if task not in _given_up]
            _given_up_in_pool = min(_given_up_in_pool, _pool_busy(executor))
            if pending:
                await asyncio.wait(pending)
            elif _queued(GLOBAL_LOGGING_WORKER):
                await asyncio.sleep(0.001)
            elif _pool_busy(executor) > _given_up_in_pool:
                await asyncio.sleep(0.005)
            else:
                return
    except asyncio.CancelledError:  # the bound ran out: remember what is still running
        _given_up.update(_litellm_tasks())
        _given_up_in_pool = _pool_busy(executor)
        raise


def _litellm_tasks() -> list[asyncio.Task]:
    """litellm's own unfinished tasks on this loop, but not the logging worker's endless ones."""
    current = asyncio.current_task()
    tasks = []
    for task in asyncio.all_tasks():
        coroutine = task.get_coro()
        code = getattr(coroutine, "cr_code", None)
        if task is current or task.done() or code is None or not code.co_filename.startswith(_LITELLM_DIR):
            continue
        if getattr(coroutine, "__qualname__", "") in _NOT_CALLBACKS:
            continue
        tasks.append(task)
    return tasks


def _queued(worker: object) -> bool:
    """Coroutines in the logging worker's queue that it has not started yet."""
    queue = getattr(worker, "_queue", None)
    return bool(queue is not None and queue.qsize())


def _pool_busy(executor: object) -> int:
    """Sync callbacks queued or running on litellm's bounded pool: its taken slots
    (``BoundedLoggingThreadPoolExecutor._pending_slots``, a ``threading.Semaphore``)."""
    slots = getattr(executor, "_pending_slots", None)
    maximum = getattr(executor, "_max_pending_tasks", None)
    if slots is None or maximum is None:  # another litellm: nothing it tells to wait on
        return 0
    return max(0, maximum - getattr(slots, "_value", maximum))
