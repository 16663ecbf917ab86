"""``POST /v1/responses``, ``GET|DELETE /v1/responses/{id}``, ``GET /v1/responses/{id}/input_items``
(mounted with and without ``/v1``), in OpenAI's shapes and with OpenAI-shaped errors.

A stored response belongs to the key that made it: another key gets 404 (as for an id that never
existed), an admin key reads all. ``previous_response_id`` continues any stored response the key
may read, on any instance (``store.py``). Without a table (``GATEWAY_TABLE`` unset) nothing is
stored and responses say ``store: false``.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway import completions, errors, providers
from gateway.auth import authenticate
from gateway.principal import Principal
from gateway.responses import events, store, translate
from gateway.responses import settings as responses_settings
from gateway.responses.schemas import RESPONSE_ID, ResponsesRequest
from gateway.runtime import get_runtime
from gateway.schemas import parse_body

log = logging.getLogger(__name__)
router = APIRouter(tags=["responses"])

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
MAX_LIST_LIMIT = 100


def _not_found(response_id: str) -> errors.GatewayError:
    return errors.not_found(f"Response with id '{response_id}' not found.", param="response_id",
                            code="response_not_found")


def _unavailable(exc: Exception) -> errors.GatewayError:
    log.error("response store unavailable: %s", type(exc).__name__)
    return errors.unavailable("Stored responses are unavailable; try again.", code="response_store_unavailable")


async def _load(response_id: str, principal: Principal) -> store.StoredResponse | None:
    if not RESPONSE_ID.match(response_id) or not responses_settings.get().table:
        return None
    try:
        return await run_in_threadpool(store.load, response_id, principal)
    except (ClientError, BotoCoreError, store.CorruptRecord) as exc:
        raise _unavailable(exc) from None


@router.post("/responses", summary="Create a model response (OpenAI Responses API)")
async def create_response(request: Request, principal: Principal = Depends(authenticate)):
    runtime = get_runtime()
    engine = runtime.engine()
    parsed = parse_body(await request.body(), ResponsesRequest, runtime.settings.max_body_bytes)
    parsed.drop_unserved_tools()
    if not responses_settings.get().table:
        parsed.store = False
    history = None
    if parsed.previous_response_id:
        history = await _load(parsed.previous_response_id, principal)
        if history is None:
            raise errors.bad_request(f"Previous response with id '{parsed.previous_response_id}' not found.",
                                     param="previous_response_id", code="previous_response_not_found")
    draft, _ = translate.to_chat(parsed, history, group=parsed.model, target=None)
    call = await completions.start(engine, "responses", draft, principal, request.state.request_id,
                                   runtime.routing_table(engine))
    request.state.model = call.group
    try:  # the call holds a reservation from here: any failure gives it back
        target = providers.deployment_target(engine.config, call.group)
        body, turn = translate.to_chat(parsed, history, group=call.group, target=target)
    except Exception as exc:
        raise await completions.fail(call, exc) from None
    response_id = translate.new_response_id()
    call.response_id = response_id  # the spend log is found by it, as LiteLLM's are by the response id

    async def keep(response: dict[str, Any], chat_response: Any) -> None:
        if not parsed.store:
            return
        record = store.StoredResponse(
            id=response_id, owner=principal.key_id, created_at=int(response.get("created_at") or time.time()),
            response=response, input_items=translate.input_items(parsed, history),
            messages=[*(history.messages if history else ()), *turn, *translate.assistant_message(chat_response)])
        try:
            await run_in_threadpool(store.save, record)
        except Exception as exc:  # the answer is paid for and sent; it just cannot be continued from
            log.error("response %s not stored: %s", response_id, type(exc).__name__)

    if parsed.stream:
        chunks = await completions.open_chunks(engine, call, body)
        stream = events.render(chunks, parsed, response_id, target[1], keep)
        return StreamingResponse(stream, media_type="text/event-stream", headers={**_SSE_HEADERS, **chunks.headers})
    result = await completions.complete(engine, call, body)
    data = translate.response_body(result.response, parsed, response_id)
    await keep(data, result.response)
    return JSONResponse(data, headers=result.headers)


@router.get("/responses/{response_id}", summary="Retrieve a stored response")
async def retrieve_response(response_id: str, principal: Principal = Depends(authenticate)):
    record = await _load(response_id, principal)
    if record is None:
        raise _not_found(response_id)
    return record.response


@router.delete("/responses/{response_id}", summary="Delete a stored response")
async def delete_response(response_id: str, principal: Principal = Depends(authenticate)):
    deleted = False
    if RESPONSE_ID.match(response_id) and responses_settings.get().table:
        try:
            deleted = await run_in_threadpool(store.delete, response_id, principal)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from None
    if not deleted:
        raise _not_found(response_id)
    return {"id": response_id, "object": "response.deleted", "deleted": True}


@router.get("/responses/{response_id}/input_items", summary="List the items used to make a stored response")
async def list_input_items(response_id: str, principal: Principal = Depends(authenticate),
                           limit: int = Query(20, ge=1, le=MAX_LIST_LIMIT),
                           order: Literal["asc", "desc"] = "desc", after: str | None = None):
    record = await _load(response_id, principal)
    if record is None:
        raise _not_found(response_id)
    items = record.input_items if order == "asc" else record.input_items[::-1]
    if after is not None:
        position = next((index for index, item in enumerate(items) if item.get("id") == after), None)
        if position is None:
            raise errors.bad_request(f"No input item with id '{after}' in this response.", param="after")
        items = items[position + 1:]
    page = items[:limit]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit}
