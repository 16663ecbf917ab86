"""The config keys the gateway does not honour, named once at load and in ``/_health/ready``.

A LiteLLM config moved here may carry blocks the gateway does not serve (``guardrails:``,
``general_settings.database_url``, ``litellm_settings.cache``, ...). None of them is ignored
silently: ``not_honoured`` lists them as dotted paths, ``runtime.build_engine`` logs them in one
warning and the readiness check's ``config.ignored`` shows them.
"""
from __future__ import annotations

import inspect

from gateway.config.schema import GatewayConfig

#: ``litellm_settings`` the gateway applies (as litellm module attributes, ``providers.py``).
#: The callback settings are applied by ``gateway.callbacks``, not as plain attributes.
HONOURED_LITELLM_SETTINGS = frozenset({
    "drop_params", "modify_params", "request_timeout", "num_retries", "set_verbose", "max_budget",
    "default_max_tokens", "allowed_fails", "disable_add_transform_inline_image_block", "budget_exceeded_status_code",
})
CALLBACK_SETTINGS = frozenset({"success_callback", "failure_callback", "callbacks"})
#: ``litellm_settings`` the gateway reads itself, never set on litellm: the fallback chains
#: (``GatewayConfig.fallback_chains``) and the cache (``gateway.response_cache`` replaces litellm's
#: own, whose key callers can influence)
GATEWAY_LITELLM_SETTINGS = frozenset({"fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
                                      "cache", "cache_params"})
#: ``router_settings`` the gateway reads itself rather than passing them to litellm's Router
GATEWAY_ROUTER_SETTINGS = frozenset({"llm_routers"})


def router_arguments() -> frozenset[str]:
    """What litellm's ``Router.__init__`` takes (its own signature, so a litellm upgrade counts)."""
    from litellm import Router

    return frozenset(inspect.signature(Router.__init__).parameters) - {"self", "model_list"}


def not_honoured(config: GatewayConfig) -> list[str]:
    """Dotted paths of every config key the gateway neither applies nor passes to litellm."""
    ignored = [name for name in (config.model_extra or {})]
    ignored += [f"general_settings.{name}" for name in (config.general_settings.model_extra or {})]
    ignored += [f"litellm_settings.{name}" for name in config.litellm_settings.model_dump(exclude_none=True)
                if name not in HONOURED_LITELLM_SETTINGS | CALLBACK_SETTINGS | GATEWAY_LITELLM_SETTINGS]
    params = config.litellm_settings.cache_params
    if params is not None and not config.litellm_settings.cache:  # settings of a cache that is off
        ignored.append("litellm_settings.cache_params")
    elif params is not None:  # a LiteLLM backend's own settings (host, s3_bucket_name, ...) mean nothing here
        ignored += [f"litellm_settings.cache_params.{name}" for name in (params.model_extra or {})]
        if params.type != "dynamodb":
            ignored.append("litellm_settings.cache_params.type")
    accepted = router_arguments() | GATEWAY_ROUTER_SETTINGS
    ignored += [f"router_settings.{name}" for name in config.router_settings.model_dump(exclude_none=True)
                if name not in accepted]
    return sorted(ignored)
