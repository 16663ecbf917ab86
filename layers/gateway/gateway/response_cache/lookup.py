"""The pipeline's entry point: look a call up before the provider is asked, remember the answer after.

A lookup runs inside ``completions.complete``, after ``completions.start`` checked the caller's
access to the group (and reserved budget), so an entry of a group is read only for callers of that
group. The cache is an optimisation: a store failure is a miss, never a failed request.
A stream reads the cache (``completions.open_stream``: a hit is replayed, ``replay``) but does
not write it: its answer arrives in pieces. Not cached: calls with the caller's own credentials
or endpoint (their answer is not the deployment's), answers from a fallback group (another group's
answer must not be served under this group's key), and the kinds ``settings.CALL_TYPES`` leaves out.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import anyio
from starlette.concurrency import run_in_threadpool

from gateway import accounting, after_response
from gateway.config.schema import GatewayConfig
from gateway.observability import record_request
from gateway.response_cache import settings as cache_settings
from gateway.response_cache import store
from gateway.response_cache.key import cache_key
from gateway.response_cache.policy import Plan, plan
from gateway.settings import get_settings

if TYPE_CHECKING:  # the pipeline imports this package; its Call is only a type here
    from gateway.completions import Call

log = logging.getLogger(__name__)

_INPUT_FIELDS = {"chat": "messages", "completion": "prompt", "embedding": "input"}


@dataclass
class Cached:
    """One call's use of the cache: its key, its plan and, on a hit, the stored answer."""

    key: str
    plan: Plan
    table: str
    settings: cache_settings.CacheSettings
    hit: dict[str, Any] | None = None

    def headers(self) -> dict[str, str]:
        """``x-gateway-cache`` and LiteLLM's ``x-litellm-cache-key`` (``ProxyBaseLLMRequestProcessing
        .get_custom_headers``): a hash of what the caller sent and the config's namespace, which tells
        the caller nothing it did not send."""
        return {"x-gateway-cache": "hit" if self.hit is not None else "miss", "x-litellm-cache-key": self.key}

    async def settle_hit(self, call: Call) -> dict[str, str]:
        """Bill a hit at 0 through the usual settlement (the spend log says ``cache_hit``); its headers."""
        usage = self.hit.get("usage") if self.hit else None
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        call.answered = call.group
        latency = call.elapsed_ms()
        await accounting.settle(call.admission, model=call.group, prompt_tokens=prompt_tokens,
                                completion_tokens=completion_tokens, cost=0.0, status=200, deployment=None,
                                response_id=(self.hit or {}).get("id"), router=call.router, latency_ms=latency,
                                cache_hit=True)
        record_request(route=call.kind, model=call.group, status=200, latency_ms=latency,
                       prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        return {**self.headers(), "x-litellm-response-cost": "0.0"}

    async def remember(self, call: Call, body: dict[str, Any]) -> None:
        """Store a fresh answer (unless ``no-store``, a stream, a fallback answered, or it has no choices)."""
        if not self.plan.store or (call.answered or call.group) != call.group:
            return
        if call.kind != "embedding" and not body.get("choices"):
            return

        def put() -> None:
            try:
                if not store.put(self.table, self.key, body, group=call.group, ttl=self.plan.ttl, now=time.time(),
                                 max_item_bytes=self.settings.max_item_bytes):
                    log.info("answer too large for the response cache; not stored", extra={"model": call.group})
            except Exception:  # the cache must never fail a request
                log.warning("storing a cached response failed", exc_info=True, extra={"model": call.group})

        if after_response.submit(put):
            return
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(put)


async def lookup(config: GatewayConfig, call: Call, body: Any) -> Cached | None:
    """The call's cache use (with ``hit`` set when a live entry exists), or None when it is not cached."""
    settings = cache_settings.from_config(config)
    table = get_settings().table_name
    if settings is None or not table or call.kind not in settings.kinds or call.client_params:
        return None
    request_plan = plan(settings, getattr(body, "cache", None))
    if request_plan is None:
        return None
    key = cache_key(namespace=settings.namespace, caller_namespace=request_plan.caller_namespace, group=call.group,
                    kind=call.kind, inputs=getattr(body, _INPUT_FIELDS[call.kind]), params=_sent_params(call, body))
    if getattr(body, "stream", False):
        request_plan = replace(request_plan, store=False)
    cached = Cached(key=key, plan=request_plan, table=table, settings=settings)
    if request_plan.lookup:
        try:
            entry = await run_in_threadpool(store.get, table, key, now=time.time(), max_age=request_plan.max_age)
        except Exception:
            log.warning("response cache lookup failed; calling the provider", exc_info=True)
            entry = None
        cached.hit = entry.body if entry is not None else None
    return cached


def _sent_params(call: Any, body: Any) -> dict[str, Any]:
    """The parameters the provider call gets: the caller's, with the ``max_tokens`` the gateway sets
    when a budget caps an unbounded request (``Call.output_cap``): a capped answer is not the answer
    to the same request uncapped."""
    params = body.provider_params()
    if getattr(call, "output_cap", None) is not None:
        params["max_tokens"] = call.output_cap
    return params
