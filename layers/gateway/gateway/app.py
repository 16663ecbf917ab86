"""The FastAPI application: routers per area, OpenAI-shaped errors, and cold-start loading.

Importing this module does the expensive work once per execution environment (config load,
litellm Router build); the Lambda handler and uvicorn both serve ``app``.
"""
from __future__ import annotations

from gateway import init_gc

init_gc.pause()  # until the app is built (the imports below and create_app are most of a cold start)

import contextlib  # noqa: E402
from typing import AsyncIterator  # noqa: E402

from fastapi import APIRouter, FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

from gateway import errors  # noqa: E402
from gateway.anthropic_messages import errors as anthropic_errors  # noqa: E402
from gateway.middleware import GatewayMiddleware  # noqa: E402
from gateway.learned_routing import routes as learned_routing_routes  # noqa: E402
from gateway.routes import health, litellm_health, model_info, openai_api, spend_reports  # noqa: E402
from gateway.runtime import get_runtime  # noqa: E402


def error_response(request: Request, err: errors.GatewayError) -> JSONResponse:
    """``err`` in the shape of the protocol the path speaks: Anthropic's on ``/v1/messages``, else OpenAI's."""
    if anthropic_errors.is_anthropic_path(request.url.path):
        body = anthropic_errors.from_gateway_error(err, getattr(request.state, "request_id", None))
    else:
        body = err.body()
    return JSONResponse(body, status_code=err.status_code, headers=err.headers or None)


async def _gateway_error(request: Request, exc: errors.GatewayError) -> JSONResponse:
    return error_response(request, exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = ".".join(str(p) for p in first["loc"] if p not in ("body", "query")) or None
    err = errors.bad_request(f"Invalid value for '{param}': {first['msg']}.", param=param, code="invalid_value")
    return error_response(request, err)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        err = errors.not_found(f"Unknown path: {request.method} {request.url.path}", code="unknown_url")
    elif exc.status_code == 405:
        err = errors.GatewayError(405, f"Method {request.method} is not allowed on {request.url.path}.",
                                  code="method_not_allowed")
    else:
        err = errors.GatewayError(exc.status_code, str(exc.detail), code=None)
    err.headers.update(getattr(exc, "headers", None) or {})
    return error_response(request, err)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _area_routers() -> tuple[list[APIRouter], list[APIRouter]]:
    """The admin and batch areas, each in its own package: (OpenAI-compatible routers, admin routers)."""
    from gateway.anthropic_messages.routes import router as messages_router
    from gateway.batch.routes import admin_router as batch_admin_router
    from gateway.batch.routes import router as batch_router
    from gateway.keys.routes import router as keys_router
    from gateway.responses.routes import router as responses_router

    return [messages_router, responses_router, batch_router], [keys_router, batch_admin_router]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Under uvicorn (local run, the streaming function) pay litellm's lazy imports before serving.
    Mangum runs with lifespan off; the Lambda handler module warms up at import instead."""
    from gateway.warmup import awarm_up

    await awarm_up()
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="LLM Gateway",
        description="OpenAI-compatible LLM gateway on AWS Lambda (litellm inside).",
        version="0.1.0",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    area_openai, area_admin = _area_routers()
    # The OpenAI-compatible API under /v1 and, as LiteLLM serves it, without. The copy without /v1 is
    # left out of the OpenAPI schema: each operation is documented once, under one operation id.
    # It comes first: FastAPI builds each route's state on the first request that walks past it
    # (fastapi/routing.py, ``effective_candidates``), so a cold start's first model call builds
    # only these routes, not the admin area's.
    for router in (openai_api.router, *area_openai):
        app.include_router(router, prefix="/v1")
        app.include_router(router, include_in_schema=False)
    for router in (health.router, learned_routing_routes.router, *area_admin,
                   model_info.router, spend_reports.router, litellm_health.router):
        app.include_router(router)
    app.add_middleware(GatewayMiddleware)
    get_runtime()  # cold start: load config and build the provider router now, not on the first request
    return app


try:
    app = create_app()
finally:
    init_gc.freeze()
