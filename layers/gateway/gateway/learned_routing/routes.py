"""Admin view of the stateless router: what is loaded, dry-run decisions (no model call), and
calibration of a threshold router on the deployment's own traffic."""
from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from gateway import accounting, errors
from gateway.auth import require_admin
from gateway.learned_routing import calibration, decide
from gateway.principal import Principal
from gateway.runtime import get_runtime
from gateway.schemas import ChatCompletionRequest, parse_body

router = APIRouter(tags=["router"])


@router.get("/router/info", summary="Routers, their strategies and the loaded artifacts with their metrics")
async def router_info(principal: Principal = Depends(require_admin)) -> dict[str, Any]:
    runtime = get_runtime()
    engine = runtime.engine()
    table = runtime.routing_table(engine)
    return {
        "routers": {
            name: {
                "settings": slot.settings,
                "strategy": getattr(slot.router, "strategy", None) or slot.settings.get("strategy"),
                "available": slot.router is not None,
                "error": slot.error,
                "fallback_model": slot.fallback_model,
            }
            for name, slot in table.slots.items()
        },
        "artifacts": {name: artifact.describe() for name, artifact in runtime.artifacts.artifacts.items()},
        "artifact_source": runtime.artifacts.location,
        "artifact_errors": runtime.artifacts.errors,
    }


@router.post("/router/route", summary="Dry run: the decision for a chat request, without calling a model")
async def router_route(request: Request, principal: Principal = Depends(require_admin)) -> dict[str, Any]:
    runtime = get_runtime()
    engine = runtime.engine()
    body = parse_body(await request.body(), ChatCompletionRequest, runtime.settings.max_body_bytes)
    table = runtime.routing_table(engine)
    if body.model not in table.slots:
        raise errors.not_found(f"'{body.model}' is not a router model; routers: {', '.join(table.names()) or 'none'}",
                               param="model", code="model_not_found")
    allowed = accounting.visible_models(principal, engine.catalog.names, engine.catalog)
    share = await decide.caller_budget_share(table, body.model, principal)
    group, decision = decide.decide(table, body.model, body, principal, engine.catalog, allowed, share)
    return {"model": group, "decision": decision}


class CalibrateRequest(BaseModel):
    """``POST /router/calibrate``: which router, over how much of its recent traffic."""

    model_config = ConfigDict(extra="forbid")
    router: str = Field(min_length=1, max_length=128)
    since: str = Field(default="7d", min_length=2, max_length=8)
    strong_fraction: Optional[float] = Field(default=None, gt=0, lt=1, allow_inf_nan=False)
    dry_run: bool = False
    min_samples: int = Field(default=calibration.recalibrate.MIN_SAMPLES, ge=10, le=calibration.MAX_DECISIONS)


@router.post("/router/calibrate", summary="Recalibrate a threshold router on its logged decisions and publish it")
def router_calibrate(body: CalibrateRequest, principal: Principal = Depends(require_admin)) -> dict[str, Any]:
    return calibration.calibrate(get_runtime(), calibration.CalibrationRequest(**body.model_dump()))
