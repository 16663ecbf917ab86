"""LiteLLM's ``GET /health`` (admin) and ``POST /key/health`` (any key).

``/health`` here probes only when asked: ``?model=<group>`` (a model group or alias),
``?model_id=<deployment id>`` or ``?probe=true`` (every deployment); the answer is cached
(``gateway.health_probes``). Without any of them it returns the last cached full probe, or empty
lists with ``"probed": false``: unlike LiteLLM's, a bare ``/health`` never calls a model, so
monitors should keep using ``/health/liveliness`` and ``/health/readiness`` (``routes/health.py``).
As in LiteLLM's ``health_endpoint`` (``proxy/health_endpoints/_health_endpoints.py``, 1.106.2) a
targeted check with no healthy endpoint answers 503 with the same body.

``/key/health`` has LiteLLM's ``KeyHealthResponse`` shape (``proxy/_types.py``); the gateway has no
per-key logging callbacks to test, so a key that authenticates is ``healthy`` with
``logging_callbacks: null``.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from gateway import errors, health_probes
from gateway.auth import authenticate, require_admin
from gateway.principal import Principal
from gateway.runtime import get_runtime

router = APIRouter(tags=["health"])

NameParam = Annotated[Optional[str], Query(min_length=1, max_length=256)]
ALL = "*"  # the cache entry of a probe of every deployment


def _targets(model: str | None, model_id: str | None, probe: bool) -> tuple[str | None, list[dict[str, Any]]]:
    """(cache key, deployments) for what was asked; (None, []) when nothing was."""
    engine = get_runtime().engine()
    deployments = list(engine.provider_router.model_list)
    if model_id is not None:
        chosen = [d for d in deployments if (d.get("model_info") or {}).get("id") == model_id]
        if not chosen:
            raise errors.not_found(f"No deployment has the id '{model_id}'.", param="model_id", code="model_not_found")
        return f"id:{model_id}", chosen
    if model is not None:
        group = engine.catalog.resolve(model)
        chosen = [d for d in deployments if d.get("model_name") == group] if group else []
        if not chosen:
            raise errors.not_found(f"The model '{model}' does not exist on this gateway.", param="model",
                                   code="model_not_found")
        return f"group:{group}", chosen
    return (ALL, deployments) if probe else (None, [])


@router.get("/health", summary="Probe deployments (only when asked; cached): healthy and unhealthy endpoints")
async def health(model: NameParam = None, model_id: NameParam = None, probe: bool = False,
                 principal: Principal = Depends(require_admin)) -> JSONResponse:
    target, deployments = _targets(model, model_id, probe)
    if target is None:
        result = health_probes.cached(ALL) or {"healthy_endpoints": [], "unhealthy_endpoints": [],
                                               "healthy_count": 0, "unhealthy_count": 0, "probed": False}
        return JSONResponse(result)
    result = await health_probes.check(target, deployments)
    targeted = model is not None or model_id is not None
    return JSONResponse(result, status_code=503 if targeted and result["healthy_count"] == 0 else 200)


@router.post("/key/health", summary="Whether the calling key is usable (LiteLLM's KeyHealthResponse)")
async def key_health(principal: Principal = Depends(authenticate)) -> dict[str, Any]:
    return {"key": "healthy", "logging_callbacks": None}
