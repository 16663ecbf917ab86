"""Names a caller may never send: a 400 ``forbidden_param`` wherever litellm would read them.

Three sources, so that a litellm upgrade that learns a new internal argument refuses it without a
gateway change:
- litellm's own list of its arguments (``litellm.types.utils.all_litellm_params``: endpoints,
  credentials, retries, fallbacks, callbacks, ``mock_response``, ``model_list``, ...), its custom
  pricing fields (``CustomPricingLiteLLMParams``) and its per-request logging destinations
  (``initialize_dynamic_callback_params``) - the same sources the proxy's ``is_request_body_safe``
  (``litellm/proxy/auth/auth_utils.py``, 1.106.2) builds its blocklist from;
- the names below that the OpenAI SDK and litellm's providers take as client or endpoint settings;
- families by prefix or suffix (``aws_*``, ``vertex_*``, ``azure_*``, ``litellm_*``, ``*_api_key``,
  ``*cost_per*``, ``_private`` names, ...).

A name the protocol documents (``protocols.py``) is never refused, even if it matches a family.
"""
from __future__ import annotations

import functools
from typing import Any

# Client, endpoint and routing settings that litellm or the OpenAI SDK accept as call arguments.
_NAMES = frozenset({
    "api_key", "api_base", "base_url", "api_version", "api_type", "organization", "project", "deployment_id",
    "engine", "custom_llm_provider", "region_name", "model_list", "user_config", "litellm_params", "model_info",
    "headers", "extra_headers", "extra_query", "extra_body_params", "timeout", "stream_timeout", "request_timeout",
    "num_retries", "max_retries", "retry_policy", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
    "max_fallbacks", "disable_fallbacks", "specific_deployment", "model_group", "deployment", "tags", "guardrails",
    "callbacks", "success_callback", "failure_callback", "input_callback", "service_callback", "caching", "cache",
    "cache_key", "no-log", "proxy_server_request", "secret_fields", "user_api_key_auth_metadata", "mock_response",
    "token", "access_token", "id_token", "auth_token", "password", "client_secret", "client_id", "tenant_id",
    "credential_name", "ssl_verify", "client", "shared_session", "use_litellm_proxy", "use_in_pass_through",
    "litellm_embedding_config", "extra_body",
})
_PREFIXES = ("aws_", "vertex_", "azure_", "litellm_", "mock_", "langfuse_", "langsmith_", "watsonx_", "sagemaker_",
             "bedrock_", "_")
_SUFFIXES = ("_api_key", "_api_base", "_base_url", "_endpoint", "_endpoint_url", "_secret", "_secret_key",
             "_credentials", "_access_key_id", "_secret_access_key", "_session_token", "_webhook_url", "_cost")
_SUBSTRINGS = ("cost_per",)


@functools.cache
def _from_litellm() -> frozenset[str]:
    """litellm's own argument, pricing and logging-destination names (loaded with litellm already)."""
    from litellm.litellm_core_utils.initialize_dynamic_callback_params import (
        _request_blocked_callback_params,
        _supported_callback_params,
    )
    from litellm.types.utils import CustomPricingLiteLLMParams, all_litellm_params

    return (frozenset(all_litellm_params) | frozenset(CustomPricingLiteLLMParams.model_fields)
            | frozenset(_supported_callback_params) | frozenset(_request_blocked_callback_params))


def is_refused(name: str) -> bool:
    """True for a name a caller may not set (before the protocol's allow-list is consulted)."""
    lowered = name.lower()
    return (lowered in _NAMES or name in _from_litellm() or lowered.startswith(_PREFIXES)
            or lowered.endswith(_SUFFIXES) or any(part in lowered for part in _SUBSTRINGS))


MAX_DEPTH = 16  # nesting litellm never needs; deeper containers are refused rather than walked


def find_refused(value: Any, path: str, exempt: frozenset[str] = frozenset(), depth: int = 0) -> str | None:
    """The path of the first refused name inside a container litellm reads (``metadata``, ...);
    ``exempt`` names are informational there (e.g. ``metadata.tags``) and are walked, not refused."""
    if depth > MAX_DEPTH:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if not isinstance(key, str) or (key not in exempt and is_refused(key)):
                return here
            found = find_refused(item, here, exempt, depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_refused(item, f"{path}[{index}]", exempt, depth + 1)
            if found:
                return found
    return None
