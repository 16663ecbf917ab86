"""Liveness and readiness, unauthenticated (load balancers and deploy hooks call them).

``live`` does no I/O. ``ready`` answers 200 only when the config is loaded and the AWS services in
use answer; otherwise 503 with the failing check named in ``checks``.
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.runtime import get_runtime

router = APIRouter(tags=["health"])


@router.get("/_health/live")
@router.get("/health/liveliness")
@router.get("/health/liveness")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/_health/ready")
@router.get("/health/readiness")
async def ready() -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    checks = await run_in_threadpool(get_runtime().readiness)
    failing = [name for name, check in checks.items() if not check.get("ok")]
    body = {"status": "ready" if not failing else "not_ready", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=200 if not failing else 503)
