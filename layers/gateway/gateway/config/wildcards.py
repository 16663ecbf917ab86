"""Wildcard ``model_name`` routing, as litellm's Router does it, for the gateway's own lookups.

A deployment such as ``model_name: "openai/*"`` + ``litellm_params.model: "openai/*"`` serves every
requested name the pattern matches, with the matched parts filled into its model
(``openai/gpt-4o`` -> ``openai/gpt-4o``; ``*`` + ``*`` passes the name through). litellm's Router
does the routing itself (litellm/router.py ``_try_early_resolve_deployments_for_model_not_in_names``:
exact ``model_name`` first, then ``PatternMatchRouter.get_deployments_by_pattern``); this module
gives the gateway the same deployments, so prices, token counting and headers use the filled-in
model. The most specific pattern wins (litellm's ``PatternUtils.sorted_patterns``).

The requested name is the caller's string and becomes litellm's model name, so only a conservative
one matches: at most ``MAX_NAME_CHARS`` characters of ``[A-Za-z0-9._:/@+-]``, no ``..``, each
wildcard standing for at least one character, and the whole name matching the pattern (litellm
anchors only the start).

A bare name litellm knows also matches its provider's pattern (``gpt-4o`` -> ``openai/*``), after
every pattern failed to match the name itself: litellm's ``PatternMatchRouter.get_pattern`` tries
``route(model)`` then ``route(f"{provider}/{model}")``, and its key check
``_model_custom_llm_provider_matches_wildcard_pattern`` (litellm/proxy/auth/auth_checks.py) grants
``gpt-4o`` to a key allowed ``openai/*``. ``provider_qualified`` is that rebuilt name, with the same
guard: a name whose namespace litellm did not consume is never rebuilt.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from litellm.litellm_core_utils.get_llm_provider_logic import get_llm_provider
from litellm.router_utils.pattern_match_deployments import PatternMatchRouter, PatternUtils

if TYPE_CHECKING:
    from gateway.config.schema import ModelEntry

MAX_NAME_CHARS = 128
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
_TO_REGEX = PatternMatchRouter().pattern_to_regex  # "openai/*" -> "openai/(.*)"


def is_pattern(model_name: str) -> bool:
    return "*" in model_name


def safe_name(name: str) -> bool:
    """Whether a caller's name may become a litellm model name through a wildcard."""
    return len(name) <= MAX_NAME_CHARS and ".." not in name and _SAFE_NAME.fullmatch(name) is not None


@lru_cache(maxsize=1024)
def provider_qualified(name: str) -> str | None:
    """``provider/model`` for a bare name litellm maps to a provider (``gpt-4o`` -> ``openai/gpt-4o``);
    None when it maps none, or when ``name`` carries a namespace litellm did not consume."""
    if not safe_name(name):
        return None
    try:
        model, provider, _, _ = get_llm_provider(model=name)
    except Exception:  # noqa: BLE001  # litellm raises for a name it cannot place: then there is no provider
        return None
    if not provider or (model == name and "/" in name):
        return None
    qualified = f"{provider}/{model}"
    return qualified if qualified != name and safe_name(qualified) else None


def _fill(regex: str, group: list["ModelEntry"], name: str) -> list["ModelEntry"]:
    match = re.fullmatch(regex, name)
    if match is None or not all(match.groups()):
        return []
    filled = []
    for entry in group:
        model = PatternMatchRouter.set_deployment_model_name(match, entry.litellm_params.model)
        filled.append(entry.model_copy(update={
            "litellm_params": entry.litellm_params.model_copy(update={"model": model})}))
    return filled


def deployments(entries: Iterable["ModelEntry"], name: str) -> list["ModelEntry"]:
    """The most specific wildcard group matching ``name`` (else its provider-qualified form), its
    models filled in; [] when none does."""
    if is_pattern(name) or not safe_name(name):
        return []
    patterns: dict[str, list["ModelEntry"]] = {}
    for entry in entries:
        if is_pattern(entry.model_name):
            patterns.setdefault(_TO_REGEX(entry.model_name), []).append(entry)
    if not patterns:
        return []
    ordered = PatternUtils.sorted_patterns(patterns)  # type: ignore[arg-type]
    qualified = provider_qualified(name)
    for candidate in (name,) if qualified is None else (name, qualified):
        for regex, group in ordered:
            filled = _fill(regex, group, candidate)
            if filled:
                return filled
    return []
