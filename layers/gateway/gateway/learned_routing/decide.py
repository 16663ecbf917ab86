"""The gateway's use of the stateless router: virtual models such as ``auto``.

Configured under ``router_settings.llm_routers`` as ``{virtual model name: router settings}``
(the settings format is ``router/README.md``'s). A decision is a pure function of the request, the
config and the loaded artifacts, so every instance routes the same request the same way. Routers
are rebuilt only when the config or the artifact set changes (both are swapped whole).

If a router cannot be built (no artifact yet, bad settings), requests to its virtual model go to
its ``fallback_model`` when one is set, else get a 503 naming the problem; ``/_health/ready``
reports it either way.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import router as llmrouter

from starlette.concurrency import run_in_threadpool

from gateway import errors
from gateway.keys import budget_share
from gateway.principal import Principal
from gateway.catalog import Catalog

log = logging.getLogger(__name__)

GATEWAY_KEYS = ("fallback_model",)  # our keys inside a router's settings; the rest goes to the router


@dataclass(frozen=True)
class RouterSlot:
    name: str
    settings: Mapping[str, Any]
    router: llmrouter.Router | None
    error: str | None
    budget_aware: bool = False  # some strategy in it has ``budget:``: the caller's budget share is looked up

    @property
    def fallback_model(self) -> str | None:
        value = self.settings.get("fallback_model")
        return str(value) if value else None


class RoutingTable:
    """The built routers for one (config, artifact set) pair."""

    def __init__(self, config_settings: Mapping[str, Mapping[str, Any]], artifacts: Mapping[str, llmrouter.Artifact],
                 catalog: Catalog) -> None:
        self.slots: dict[str, RouterSlot] = {}
        for name, settings in (config_settings or {}).items():
            router_settings = {k: v for k, v in dict(settings or {}).items() if k not in GATEWAY_KEYS}
            try:
                built = llmrouter.build_router(router_settings, dict(artifacts) or None)
                error = _unknown_targets(built, router_settings, catalog)
            except llmrouter.RouterError as err:
                built, error = None, str(err)
            if error:
                log.error("router %r unavailable: %s", name, error)
            self.slots[name] = RouterSlot(name, dict(settings or {}), built if not error else None, error,
                                          _mentions_budget(router_settings))

    def names(self) -> list[str]:
        return list(self.slots)

    def status(self) -> dict[str, Any]:
        return {name: {"ok": slot.router is not None, "error": slot.error, "fallback_model": slot.fallback_model}
                for name, slot in self.slots.items()}


def _mentions_budget(settings: Any) -> bool:
    """Whether a ``budget`` block appears anywhere in the (possibly nested: rules, ab) settings."""
    if isinstance(settings, Mapping):
        return "budget" in settings or any(_mentions_budget(v) for v in settings.values())
    if isinstance(settings, (list, tuple)):
        return any(_mentions_budget(v) for v in settings)
    return False


def _unknown_targets(built: Any, settings: Mapping[str, Any], catalog: Catalog) -> str | None:
    """Models a router may pick must exist in model_list (checked once, at build)."""
    targets = set()
    for key in ("weak_model", "strong_model", "default", "fallback_model"):
        if isinstance(settings.get(key), str):
            targets.add(settings[key])
    models = settings.get("models")
    if isinstance(models, Mapping):
        targets.update(str(v) for v in models.values())
    elif isinstance(models, (list, tuple)):
        targets.update(str(m) for m in models if isinstance(m, str))
    for rule in settings.get("rules") or []:
        if isinstance(rule, Mapping) and isinstance(rule.get("model"), str):
            targets.add(rule["model"])
    missing = sorted(t for t in targets if not catalog.serves(t))
    return f"routes to models not in model_list: {', '.join(missing)}" if missing else None


class Routing:
    """Caches the RoutingTable per (config engine, artifact generation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._table: RoutingTable | None = None

    def table(self, engine: Any, artifact_store: Any) -> RoutingTable:
        key = (id(engine), artifact_store.generation)
        table = self._table
        if table is not None and self._key == key:
            return table
        with self._lock:
            if self._table is None or self._key != key:
                settings = engine.config.router_settings.llm_routers
                self._table = RoutingTable(settings, artifact_store.artifacts, engine.catalog)
                self._key = key
            return self._table


async def caller_budget_share(table: RoutingTable, name: str, principal: Principal) -> float | None:
    """The caller's budget share left, when the router behind ``name`` is budget-aware (may read
    DynamoDB once, so off the event loop); None otherwise."""
    slot = table.slots.get(name)
    if slot is None or not slot.budget_aware:
        return None
    return await run_in_threadpool(budget_share.remaining_share, principal)


def decide(table: RoutingTable, name: str, body: Any, principal: Principal, catalog: Catalog,
           allowed: list[str], share: float | None = None) -> tuple[str, dict[str, Any]]:
    """(model group to call, decision record) for a request to the virtual model ``name``;
    ``allowed``: the model groups this caller may use (the pipeline's answer), the candidates;
    ``share``: the caller's budget share left (``caller_budget_share``), for budget-aware routers."""
    slot = table.slots[name]
    if slot.router is None:
        if slot.fallback_model:
            return slot.fallback_model, {"strategy": "fallback", "model": slot.fallback_model,
                                         "reason": "router unavailable: " + (slot.error or "")[:200],
                                         "artifact_version": None, "router": name}
        raise errors.unavailable(f"The router behind model '{name}' is unavailable: {slot.error}", code="router_unavailable")
    if not allowed:  # an empty candidate list would mean "unrestricted" to the router
        raise errors.forbidden(f"Model '{name}' cannot route: this key may use none of the models it routes to.",
                               code="key_model_access_denied")
    candidates = []
    for model in allowed:
        price = catalog.price(model)
        candidates.append(llmrouter.Candidate(model, price.input_cost_per_token * 1e6, price.output_cost_per_token * 1e6))
    request = llmrouter.RouteRequest(
        messages=tuple(getattr(body, "messages", None) or ({"role": "user", "content": _text_input(body)},)),
        model=name,
        candidates=tuple(candidates),
        metadata=getattr(body, "metadata", None) or {},
        key_id=principal.key_id,
        team_id=getattr(principal.team, "team_id", None) if principal.team is not None else None,
        tools=tuple(body.tools) if getattr(body, "tools", None) else None,
        budget_share=share if slot.budget_aware else None,
    )
    try:
        decision = slot.router.route(request)
    except llmrouter.NoCandidateError as err:
        raise errors.forbidden(f"Model '{name}' cannot route this request with the models this key may use: {err}",
                               code="key_model_access_denied") from None
    record = decision.to_dict()
    record["router"] = name
    return decision.model, record


def _text_input(body: Any) -> str:
    prompt = getattr(body, "prompt", None)
    return prompt if isinstance(prompt, str) else ""
