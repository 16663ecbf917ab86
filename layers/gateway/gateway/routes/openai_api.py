"""The OpenAI-compatible API. Paths here carry no ``/v1``: ``create_app`` mounts this router with and
without that prefix, as LiteLLM serves them."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway import accounting, completions, errors, multi_model
from gateway.auth import authenticate
from gateway.principal import Principal
from gateway.runtime import get_runtime
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, parse_body

router = APIRouter(tags=["openai"])

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def _serve(request: Request, principal: Principal, kind: completions.Kind, model_cls: Any):
    runtime = get_runtime()
    engine = runtime.engine()
    body = parse_body(await request.body(), model_cls, runtime.settings.max_body_bytes)
    if kind == "chat" and len(names := body.requested_models()) > 1:  # LiteLLM's several-model call
        content, headers = await multi_model.serve(engine, body, names, principal, request.state.request_id,
                                                   runtime.routing_table(engine))
        return JSONResponse(content, headers=headers)
    call = await completions.start(engine, kind, body, principal, request.state.request_id, runtime.routing_table(engine))
    request.state.model = call.group
    if getattr(body, "stream", False):
        stream = await completions.open_stream(engine, call, body)
        return StreamingResponse(stream.events, media_type="text/event-stream",
                                 headers={**_SSE_HEADERS, **stream.headers})
    result = await completions.complete(engine, call, body)
    return JSONResponse(result.body, headers=result.headers)


@router.post("/chat/completions", summary="Create a chat completion")
async def chat_completions(request: Request, principal: Principal = Depends(authenticate)):
    return await _serve(request, principal, "chat", ChatCompletionRequest)


@router.post("/completions", summary="Create a (legacy) text completion")
async def text_completions(request: Request, principal: Principal = Depends(authenticate)):
    return await _serve(request, principal, "completion", CompletionRequest)


@router.post("/embeddings", summary="Create embeddings")
async def embeddings(request: Request, principal: Principal = Depends(authenticate)):
    return await _serve(request, principal, "embedding", EmbeddingRequest)


def _model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "llm-gateway"}


def _visible(principal: Principal) -> list[str]:
    engine = get_runtime().engine()
    return accounting.visible_models(principal, engine.catalog.public_names(), engine.catalog)


@router.get("/models", summary="List the models this key may use")
async def list_models(principal: Principal = Depends(authenticate)):
    created = int(get_runtime().started_at)
    return {"object": "list", "data": [_model_card(name, created) for name in _visible(principal)]}

@router.get("/models/{model_id:path}", summary="Retrieve one model")
async def get_model(model_id: str, principal: Principal = Depends(authenticate)):
    if model_id not in _visible(principal):
        raise errors.not_found(f"The model '{model_id}' does not exist on this gateway.",
                               param="model", code="model_not_found")
    return _model_card(model_id, int(get_runtime().started_at or time.time()))
