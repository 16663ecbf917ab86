"""LiteLLM's response cache (``litellm_settings.cache: true``), served by the gateway itself.

An exact-match cache shared by every instance, kept on the gateway's DynamoDB table (``store``):
- ``settings``: what the config asks for (``cache_params``: ttl, namespace, mode, call types);
- ``policy``: the caller's ``cache`` controls (LiteLLM's ``no-cache``, ``no-store``, ``ttl``,
  ``s-maxage``, ``namespace``, ``use-cache``), bounded by the config;
- ``key``: the entry's key, built by the gateway from what determines the answer;
- ``replay``: a hit sent to a streaming request as OpenAI's SSE;
- ``lookup``: the pipeline's entry point (``completions.complete``), after the model-access
  check of ``completions.start``, so a cached answer of a group reaches only callers of that group.

litellm's own ``litellm.cache`` is never set: its key takes a caller's ``cache_key``,
``cache.namespace`` and ``metadata.redis_namespace`` as they are (``litellm/caching/caching.py``:
``Cache.get_cache_key``, ``_add_namespace_to_cache_key``; ``caching_handler.py``: ``_request_cache_key``).
"""
from gateway.response_cache.lookup import Cached, lookup
from gateway.response_cache.replay import events as replay

__all__ = ["Cached", "lookup", "replay"]
