"""Which models a caller may use: the key's list intersected with its team's.

An empty list allows every model; ``*`` / ``all-proxy-models`` allow every model; entries with
``*`` are fnmatch patterns (``openai/*``); ``all-team-models`` on a key means whatever its team
allows. The master key may use everything. One home for the rule, used by admission
(``enforce``), the pipeline (``gateway.accounting``: the model, fallbacks, ``/v1/models``,
the learned router's candidates) and the admin API (a key's models within its team's).

A list entry may also name a model access group (``model_info.access_groups`` in the config): it
grants every model group whose deployments list it, as LiteLLM's ``check_model_access_helper``
(litellm/proxy/auth/auth_checks.py) does. The config's group map is passed in by the caller
(``Catalog.access_groups``), so the rule holds no state of its own. A ``model_group_alias`` may be
used when the key allows the alias or its target (LiteLLM's ``_can_object_call_model`` checks both).
A bare name litellm places under a provider matches that provider's pattern (``gpt-4o`` is allowed
by ``openai/*``), as LiteLLM's ``_model_custom_llm_provider_matches_wildcard_pattern`` does.
"""
from __future__ import annotations

import fnmatch
from types import MappingProxyType
from typing import Mapping

from gateway.keys import errors as kerr
from gateway.principal import Principal

ALL_MODELS = {"*", "all-proxy-models"}
ALL_TEAM_MODELS = "all-team-models"

#: access group name -> the ``model_name``s (patterns too) whose deployments list it
AccessGroups = Mapping[str, tuple[str, ...]]
NO_ACCESS_GROUPS: AccessGroups = MappingProxyType({})


def _expand(allowed: tuple[str, ...] | list[str], access_groups: AccessGroups) -> tuple[str, ...]:
    """``allowed`` with each access group name followed by the model groups it grants."""
    expanded: list[str] = []
    for entry in allowed:
        expanded.append(entry)
        expanded.extend(access_groups.get(entry, ()))
    return tuple(expanded)


def matches(model: str, allowed: tuple[str, ...] | list[str], access_groups: AccessGroups = NO_ACCESS_GROUPS) -> bool:
    """Whether ``model`` is one of ``allowed`` (names, patterns, access groups or the all-models names)."""
    entries = _expand(allowed, access_groups)
    for entry in entries:
        if entry in ALL_MODELS or entry == model or ("*" in entry and fnmatch.fnmatchcase(model, entry)):
            return True
    if "*" in model or not any("*" in entry for entry in entries):
        return False
    # imported here: it needs litellm's provider table, which only a wildcard grant consults
    from gateway.config.wildcards import provider_qualified

    qualified = provider_qualified(model)
    return qualified is not None and any("*" in entry and fnmatch.fnmatchcase(qualified, entry) for entry in entries)


def _refused_by(principal: Principal, names: tuple[str, ...], access_groups: AccessGroups) -> str | None:
    """``"key"`` or ``"team"``: whose model list allows none of ``names`` (None: both allow one)."""
    key_models = tuple(principal.key.models) if principal.key is not None else ()
    team_models = tuple(principal.team.models) if principal.team is not None else ()
    if (key_models and ALL_TEAM_MODELS not in key_models
            and not any(matches(name, key_models, access_groups) for name in names)):
        return "key"
    if team_models and not any(matches(name, team_models, access_groups) for name in names):
        return "team"
    return None


def allowed_models(principal: Principal, all_models: list[str], access_groups: AccessGroups) -> list[str]:
    """The subset of ``all_models`` this caller may use, in the given order."""
    if principal.kind == "master" or principal.key is None:
        return list(all_models)
    return [m for m in all_models if _refused_by(principal, (m,), access_groups) is None]


def check_model_access(principal: Principal, model: str, access_groups: AccessGroups,
                       alias: str | None = None) -> None:
    """403 ``key_model_access_denied`` / ``team_model_access_denied`` (LiteLLM's) unless the key and
    its team both allow ``model`` (or ``alias``, the ``model_group_alias`` it was asked for by)."""
    if principal.kind == "master" or principal.key is None:
        return
    refused_by = _refused_by(principal, (model,) if alias is None else (model, alias), access_groups)
    if refused_by is not None:
        raise kerr.model_not_allowed(alias or model, by=refused_by)


def within(models: tuple[str, ...] | list[str], limit: tuple[str, ...] | list[str],
           access_groups: AccessGroups) -> list[str]:
    """The entries of a key's ``models`` that its team's ``limit`` does not cover (the admin API's
    check): a name or pattern the team allows, or an access group all of whose models it allows."""
    outside = []
    for entry in models:
        if entry == ALL_TEAM_MODELS or matches(entry, limit, access_groups):
            continue
        members = access_groups.get(entry)
        if members and all(matches(member, limit, access_groups) for member in members):
            continue
        outside.append(entry)
    return outside


def serving_access_groups() -> AccessGroups:
    """The serving config's model access groups (none while no config is loaded or no runtime runs), for the admin
    API's check that a key's models are within its team's."""
    from gateway.runtime import started  # the app's runtime; imported late, as the admin API may run without it

    runtime = started()
    loaded = runtime.config.current if runtime is not None else None
    return loaded.runtime.catalog.access_groups if loaded is not None else NO_ACCESS_GROUPS
