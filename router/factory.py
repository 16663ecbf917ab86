"""``build_router(router_settings, artifact) -> Router``: the one entry point the gateway calls.

``router_settings`` is a plain dict (from the LiteLLM-style YAML). ``strategy`` is one of
``rules``, ``threshold``, ``cost-aware``, ``knn``, ``ab`` (or the ``{"ab": {...}}`` shorthand).
``artifact`` is a loaded ``Artifact``, ``None`` (only ``rules`` works then), or a mapping
``{name: Artifact}`` from which a (nested) setting picks one with ``"artifact": "<name>"``; with a
mapping and no ``artifact`` key, the entry named ``"default"`` is used. Every problem is raised
at build time as ``RouterConfigError`` naming the setting, so a bad config never reaches a request.
"""
from __future__ import annotations

from typing import Any, Mapping

from .artifacts import Artifact
from .errors import RouterConfigError
from .settings import as_mapping, fail
from .strategies.ab import ABRouter
from .strategies.learned import CostAwareRouter, ThresholdRouter
from .strategies.rules import RulesRouter
from .types import Router

STRATEGIES = ("rules", "threshold", "cost-aware", "knn", "ab")
_ALIASES = {"cost_aware": "cost-aware", "costaware": "cost-aware", "mf": "threshold"}

ArtifactSource = Artifact | Mapping[str, Artifact] | None


def _pick_artifact(s: Mapping[str, Any], artifacts: ArtifactSource, where: str, strategy: str) -> Artifact:
    name = s.get("artifact")
    if isinstance(artifacts, Artifact):
        if name is not None and name not in (artifacts.version, "default"):
            raise fail(f"{where}.artifact", f"names {name!r} but only artifact {artifacts.version!r} is loaded")
        return artifacts
    if artifacts:
        key = name if name is not None else "default"
        if key not in artifacts:
            raise fail(f"{where}.artifact", f"no loaded artifact named {key!r} (loaded: {', '.join(sorted(artifacts))})")
        return artifacts[key]
    raise fail(where, f"strategy {strategy!r} needs a router artifact, and none is loaded")


def build_router(router_settings: Mapping[str, Any], artifact: ArtifactSource = None) -> Router:
    """Validate ``router_settings`` and return an immutable router (raises ``RouterConfigError``)."""

    def build(s: Any, where: str) -> Router:
        s = as_mapping(s, where)
        if "ab" in s and "strategy" not in s:
            return ABRouter.from_settings({**as_mapping(s["ab"], f"{where}.ab"), "strategy": "ab"}, f"{where}.ab", build)
        raw = s.get("strategy")
        if not isinstance(raw, str):
            raise fail(f"{where}.strategy", f"is required: one of {', '.join(STRATEGIES)}")
        strategy = _ALIASES.get(raw.lower(), raw.lower())
        if strategy == "rules":
            return RulesRouter.from_settings(s, where, build)
        if strategy == "ab":
            return ABRouter.from_settings(s, where, build)
        if strategy not in STRATEGIES:
            raise fail(f"{where}.strategy", f"unknown strategy {raw!r}; expected one of {', '.join(STRATEGIES)}")
        art = _pick_artifact(s, artifact, where, strategy)
        body = {k: v for k, v in s.items() if k != "artifact"}
        name = str(s.get("name") or strategy)
        if strategy == "knn":
            if art.kind != "knn":
                raise fail(where, f"strategy 'knn' needs a knn artifact; {art.version!r} is {art.kind!r}")
            if "strong_model" in s or "weak_model" in s:
                return ThresholdRouter.from_settings(body, art, where, name)
            return CostAwareRouter.from_settings(body, art, where, name)
        if strategy == "threshold":
            return ThresholdRouter.from_settings(body, art, where, name)
        return CostAwareRouter.from_settings(body, art, where, name)

    try:
        return build(router_settings, "router_settings")
    except RouterConfigError:
        raise
    except (TypeError, KeyError, IndexError) as exc:  # defensive: never leak a bare traceback to /_health/ready
        raise RouterConfigError(f"router_settings: invalid ({type(exc).__name__}: {exc})") from None
