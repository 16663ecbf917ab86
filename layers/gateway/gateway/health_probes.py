"""Deployment health probes behind ``GET /health``: one small model call per deployment, cached.

A probe is a real (paid) provider call, so it runs only when an admin asks for it, and its result
is reused for ``HEALTH_CHECK_CACHE_SECONDS`` (per instance; on Lambda each instance probes at most
once per period and target) and probes never run concurrently on one instance: calling ``/health``
in a loop cannot turn into a stream of model calls.

The call is litellm's own health check (``litellm.ahealth_check``'s helpers, see
``_call_litellm_health_check``) with the probe parameters LiteLLM's proxy builds (``update_litellm_params_for_health_check`` and
``resolve_health_check_mode``, ``litellm/proxy/health_check.py``, 1.106.2: a short message and a
bounded ``max_tokens`` for chat models). The result has LiteLLM's shape (``_perform_health_check``):
``healthy_endpoints`` / ``unhealthy_endpoints`` with ``healthy_count`` / ``unhealthy_count``. A
failed probe says only the exception's class and status code: litellm's ``error`` text quotes the
provider's answer and a stack trace, which may carry request details or secrets.
"""
from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gateway.settings import get_settings

#: probes at once within one /health call
MAX_CONCURRENT_PROBES = 8
#: seconds one probe may take (LiteLLM's default, ``HEALTH_CHECK_TIMEOUT_SECONDS``, is 60)
PROBE_TIMEOUT_SECONDS = 30.0
#: the fields of a deployment an endpoint entry shows (LiteLLM's ``HEALTH_DISPLAY_PARAMS``, less credentials)
DISPLAYED_PARAMS = ("model", "api_base", "api_version", "custom_llm_provider", "aws_region_name", "region_name",
                    "vertex_project", "vertex_location")


@dataclass
class _Cached:
    expires: float
    result: dict[str, Any]


_cache: dict[str, _Cached] = {}
_locks: dict[int, asyncio.Lock] = {}


def _lock() -> asyncio.Lock:
    """One lock per event loop (Mangum and uvicorn each run one): probes run one call at a time."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(id(loop))
    if lock is None:
        _locks.clear()
        lock = _locks[id(loop)] = asyncio.Lock()
    return lock


def cached(target: str) -> dict[str, Any] | None:
    entry = _cache.get(target)
    if entry is None or entry.expires <= time.monotonic():
        return None
    return {**entry.result, "cached": True}


def _entry(deployment: dict[str, Any]) -> dict[str, Any]:
    params = deployment.get("litellm_params") or {}
    info = deployment.get("model_info") or {}
    shown = {name: params[name] for name in DISPLAYED_PARAMS if params.get(name) is not None}
    shown["model_group"] = deployment.get("model_name")
    if info.get("id"):
        shown["model_id"] = info["id"]
    if info.get("mode"):
        shown["mode"] = info["mode"]
    return shown


async def _call_litellm_health_check(params: dict[str, Any], mode: str | None) -> Any:
    """``litellm.ahealth_check`` (``litellm/main.py``) without its first step. That step tags the call
    for LiteLLM's own spend table through the proxy's request setup
    (``HealthCheckHelpers.update_model_params_with_health_check_tracking_information`` imports
    ``litellm.proxy.litellm_pre_call_utils``, which needs ``orjson``, a proxy extra the gateway does
    not install) and runs outside ahealth_check's error handling. The rest is ahealth_check's own
    sequence of litellm helpers: the provider, the mode, and the mode's call
    (``HealthCheckHelpers.get_mode_handlers``)."""
    import litellm
    from litellm.litellm_core_utils.health_check_helpers import HealthCheckHelpers, default_health_check_mode

    requested = str(params.get("model") or "")
    model, provider, _, _ = litellm.get_llm_provider(model=requested, custom_llm_provider=params.get("custom_llm_provider"),
                                                     api_base=params.get("api_base"), api_key=params.get("api_key"))
    params["cache"] = {"no-cache": True}
    mode = mode or default_health_check_mode(requested_model=requested, model=model, custom_llm_provider=provider)
    handlers = HealthCheckHelpers.get_mode_handlers(model=model, custom_llm_provider=provider, model_params=params,
                                                   prompt="test from litellm", input=["test from litellm"])
    if mode not in handlers:
        raise ValueError(f"health check mode {mode!r} is not supported")
    await handlers[mode]()
    return {}


async def _probe(deployment: dict[str, Any]) -> Any:
    """``{}`` when the deployment answered, else the exception (LiteLLM's ``_run_model_health_check``)."""
    from litellm.proxy.health_check import resolve_health_check_mode, update_litellm_params_for_health_check

    info = dict(deployment.get("model_info") or {})
    params = copy.deepcopy(dict(deployment.get("litellm_params") or {}))
    mode = resolve_health_check_mode(info, params)
    params = update_litellm_params_for_health_check(info, params)
    params["max_retries"] = 0  # one attempt: a probe asks whether the deployment answers, not to insist
    try:
        return await asyncio.wait_for(_call_litellm_health_check(params, mode), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:  # a timeout, or the provider's error: only its class and status are shown
        return exc


def _failure(outcome: Any) -> dict[str, Any] | None:
    """None if the probe passed, else what may be said about the failure (no provider text)."""
    if isinstance(outcome, dict):
        return None
    exc = outcome
    name = type(exc).__name__ if isinstance(exc, BaseException) else "HealthCheckError"
    if isinstance(exc, asyncio.TimeoutError):
        name = "Timeout"
    status = getattr(exc, "status_code", None)
    return {"error": f"the health check failed ({name})",
            "exception_status": status if isinstance(status, int) else 500}


async def check(target: str, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    """Probe ``deployments`` (unless a fresh result for ``target`` is cached) and cache the result."""
    async with _lock():
        found = cached(target)
        if found is not None:
            return found
        gate = asyncio.Semaphore(MAX_CONCURRENT_PROBES)

        async def one(deployment: dict[str, Any]) -> Any:
            async with gate:
                return await _probe(deployment)

        outcomes = await asyncio.gather(*(one(d) for d in deployments))
        healthy, unhealthy = [], []
        for deployment, outcome in zip(deployments, outcomes):
            failure = _failure(outcome)
            if failure is None:
                healthy.append(_entry(deployment))
            else:
                unhealthy.append({**_entry(deployment), **failure})
        result = {
            "healthy_endpoints": healthy,
            "unhealthy_endpoints": unhealthy,
            "healthy_count": len(healthy),
            "unhealthy_count": len(unhealthy),
            "checked_at": datetime.now(timezone.utc).isoformat(),
        }
        ttl = get_settings().health_check_cache_seconds
        _cache[target] = _Cached(expires=time.monotonic() + ttl, result=result)
        return {**result, "cached": False}
