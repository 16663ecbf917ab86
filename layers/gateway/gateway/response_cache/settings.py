"""What the config asks of the response cache, resolved once per request from the serving config."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.config.schema import CacheParams, GatewayConfig

#: the pipeline's kinds that are cached, each with the LiteLLM call types that name it in
#: ``cache_params.supported_call_types`` (``litellm.types.caching.CachingSupportedCallTypes``).
#: Anthropic Messages and OpenAI Responses are not cached (their adapters keep state of their own).
CALL_TYPES: dict[str, frozenset[str]] = {
    "chat": frozenset({"completion", "acompletion"}),
    "completion": frozenset({"text_completion", "atext_completion"}),
    "embedding": frozenset({"embedding", "aembedding"}),
}


@dataclass(frozen=True)
class CacheSettings:
    ttl: int  # seconds an entry lives, and the most a caller's ``ttl`` may ask for
    namespace: str  # the config's partition of the table ("" = none)
    opt_in: bool  # LiteLLM's ``mode: default_off``: only requests with ``cache: {"use-cache": true}``
    kinds: frozenset[str]
    max_item_bytes: int


def from_config(config: GatewayConfig) -> CacheSettings | None:
    """The cache's settings, or None when ``litellm_settings.cache`` is not on."""
    litellm_settings = config.litellm_settings
    if not litellm_settings.cache:
        return None
    params = litellm_settings.cache_params or CacheParams()
    wanted = set(params.supported_call_types) if params.supported_call_types is not None else None
    kinds = frozenset(kind for kind, names in CALL_TYPES.items() if wanted is None or names & wanted)
    return CacheSettings(ttl=params.ttl, namespace=params.namespace or "", opt_in=params.mode == "default_off",
                         kinds=kinds, max_item_bytes=params.max_item_bytes)
