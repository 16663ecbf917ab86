"""Small validators for ``router_settings`` dicts: every failure is a ``RouterConfigError`` whose
message names the offending setting by its path (``router_settings.rules[2].if.regex``), says what was
expected and what was found, and never echoes prompt text."""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from .errors import RouterConfigError

# Keys LiteLLM keeps in router_settings for its own load balancing; tolerated and ignored here so the
# lead can hand us the whole block.
LITELLM_ROUTER_KEYS = frozenset({
    "routing_strategy", "routing_strategy_args", "num_retries", "timeout", "fallbacks", "context_window_fallbacks",
    "content_policy_fallbacks", "retry_policy", "allowed_fails", "allowed_fails_policy", "cooldown_time",
    "model_group_alias", "enable_pre_call_checks", "retry_after", "redis_host", "redis_port", "redis_password",
    "cache_responses", "default_litellm_params", "provider_budget_config", "default_max_parallel_requests",
})


def fail(where: str, msg: str) -> RouterConfigError:
    return RouterConfigError(f"{where}: {msg}")


def as_mapping(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise fail(where, f"expected a mapping, got {type(v).__name__}")
    return v


def check_keys(d: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    unknown = sorted(k for k in d if k not in allowed and k not in LITELLM_ROUTER_KEYS)
    if unknown:
        raise fail(where, f"unknown setting(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def get_str(d: Mapping[str, Any], key: str, where: str, required: bool = True, default: str | None = None) -> str | None:
    if key not in d or d[key] is None:
        if required:
            raise fail(f"{where}.{key}", "is required")
        return default
    v = d[key]
    if not isinstance(v, str) or not v.strip():
        raise fail(f"{where}.{key}", f"expected a non-empty string, got {v!r}")
    return v


def get_number(d: Mapping[str, Any], key: str, where: str, *, lo: float | None = None, hi: float | None = None,
               default: float | None = None, required: bool = False) -> float | None:
    if key not in d or d[key] is None:
        if required:
            raise fail(f"{where}.{key}", "is required")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise fail(f"{where}.{key}", f"expected a number, got {v!r}")
    v = float(v)
    if lo is not None and v < lo or hi is not None and v > hi:
        raise fail(f"{where}.{key}", f"must be between {lo} and {hi}, got {v}")
    return v


def get_int(d: Mapping[str, Any], key: str, where: str, *, lo: int = 0, default: int | None = None) -> int | None:
    if key not in d or d[key] is None:
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise fail(f"{where}.{key}", f"expected an integer >= {lo}, got {v!r}")
    return v


def get_bool(d: Mapping[str, Any], key: str, where: str) -> bool | None:
    if key not in d or d[key] is None:
        return None
    v = d[key]
    if not isinstance(v, bool):
        raise fail(f"{where}.{key}", f"expected true or false, got {v!r}")
    return v


def get_str_list(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    if key not in d or d[key] is None:
        return None
    v = d[key]
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(x, str) and x for x in v):
        raise fail(f"{where}.{key}", f"expected a non-empty list of strings, got {v!r}")
    return tuple(v)
