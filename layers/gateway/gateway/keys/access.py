"""Which models a caller may use: the key's list intersected with its team's.

An empty list allows every model; ``*`` / ``all-proxy-models`` allow every model; entries with
``*`` are fnmatch patterns (``openai/*``); ``all-team-models`` on a key means whatever its team
allows. The master key may use everything. One home for the rule, used by admission
(``enforce``), the pipeline (``gateway.accounting``: the model, fallbacks, ``/v1/models``,
the learned router's candidates) and the admin API (a key's models within its team's).
"""
from __future__ import annotations

import fnmatch

from gateway.keys import errors as kerr
from gateway.principal import Principal

ALL_MODELS = {"*", "all-proxy-models"}
ALL_TEAM_MODELS = "all-team-models"


def matches(model: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether ``model`` is one of ``allowed`` (names, patterns or the all-models names)."""
    for entry in allowed:
        if entry in ALL_MODELS or entry == model or ("*" in entry and fnmatch.fnmatchcase(model, entry)):
            return True
    return False


def _refused_by(principal: Principal, model: str) -> str | None:
    """``"key"`` or ``"team"``: whose model list leaves ``model`` out (None: both allow it)."""
    key_models = tuple(principal.key.models) if principal.key is not None else ()
    team_models = tuple(principal.team.models) if principal.team is not None else ()
    if key_models and ALL_TEAM_MODELS not in key_models and not matches(model, key_models):
        return "key"
    if team_models and not matches(model, team_models):
        return "team"
    return None


def _key_allows(principal: Principal, model: str) -> bool:
    return _refused_by(principal, model) is None


def allowed_models(principal: Principal, all_models: list[str]) -> list[str]:
    """The subset of ``all_models`` this caller may use, in the given order."""
    if principal.kind == "master" or principal.key is None:
        return list(all_models)
    return [m for m in all_models if _key_allows(principal, m)]


def check_model_access(principal: Principal, model: str) -> None:
    """403 ``key_model_access_denied`` / ``team_model_access_denied`` (LiteLLM's) unless the key and
    its team both allow ``model``."""
    if principal.kind == "master" or principal.key is None:
        return
    refused_by = _refused_by(principal, model)
    if refused_by is not None:
        raise kerr.model_not_allowed(model, by=refused_by)
