"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` (mounted with and without ``/v1``).

Auth is the gateway's (``x-api-key`` or ``Authorization: Bearer``: Claude Code sends the first with
``ANTHROPIC_API_KEY``, the second with ``ANTHROPIC_AUTH_TOKEN``); ``anthropic-version`` is accepted
and needs no handling; ``anthropic-beta`` flags reach providers that take them (``translate.py``).
Errors on these paths are Anthropic-shaped (``errors.py``, installed by ``gateway.app``).
"""
from __future__ import annotations

import json
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway import accounting, completions, errors, providers
from gateway.anthropic_messages import translate
from gateway.anthropic_messages.errors import sse_event
from gateway.anthropic_messages.schemas import CountTokensRequest, MessagesRequest
from gateway.auth import authenticate
from gateway.principal import Principal
from gateway.runtime import get_runtime
from gateway.schemas import parse_body

router = APIRouter(tags=["anthropic"])

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


@router.post("/messages", summary="Create a message (Anthropic Messages API)")
async def create_message(request: Request, principal: Principal = Depends(authenticate)):
    runtime = get_runtime()
    engine = runtime.engine()
    parsed = parse_body(await request.body(), MessagesRequest, runtime.settings.max_body_bytes)
    draft, _ = translate.to_chat(parsed, group=parsed.model, target=None)
    call = await completions.start(engine, "messages", draft, principal, request.state.request_id,
                                   runtime.routing_table(engine))
    request.state.model = call.group
    try:  # the call holds a reservation from here: any failure gives it back
        body, tool_names = translate.to_chat(parsed, group=call.group,
                                             target=providers.deployment_target(engine.config, call.group))
        flags = translate.beta_flags(request.headers.get("anthropic-beta"))
        if flags and translate.takes_betas(engine, call.reachable_groups()):
            body._adapter_params["extra_headers"] = {"anthropic-beta": ",".join(flags)}
    except Exception as exc:
        raise await completions.fail(call, exc) from None
    call.response_id = translate.new_message_id()  # the spend log is found by it, as LiteLLM's are
    if parsed.stream:
        chunks = await completions.open_chunks(engine, call, body)
        events = _events(chunks, parsed.model, tool_names, request.state.request_id, call.response_id)
        return StreamingResponse(events, media_type="text/event-stream", headers={**_SSE_HEADERS, **chunks.headers})
    result = await completions.complete(engine, call, body)
    return JSONResponse(translate.response_body(result.response, tool_names, parsed.model, call.response_id),
                        headers=result.headers)


async def _events(chunks: completions.Chunks, model: str, tool_names: dict[str, str], request_id: str,
                  message_id: str) -> AsyncIterator[bytes]:
    """Anthropic's event stream from litellm's chunks (litellm's ``AnthropicStreamWrapper``), with a
    ``ping`` after ``message_start`` as Anthropic sends, and the gateway's own ``error`` event (with
    Anthropic's error type) when the call fails mid-stream."""
    from litellm.llms.anthropic.pass_through.adapters.handler import ANTHROPIC_ADAPTER

    failure: dict[str, errors.GatewayError] = {}

    async def source() -> AsyncIterator[Any]:
        try:
            async for chunk in chunks.chunks:
                yield chunk
        except errors.GatewayError as error:  # already settled or released by the pipeline
            failure["error"] = error
            raise

    upstream = source()
    stream = ANTHROPIC_ADAPTER.translate_completion_output_params_streaming(
        upstream, model=model, tool_name_mapping=tool_names, is_async=True)
    pinged = False
    try:
        async for event in _as_anthropic_sends(stream, message_id):
            if "error" in failure and event.startswith(b"event: error"):
                yield sse_event(failure["error"], request_id)
                return
            yield event
            if not pinged and event.startswith(b"event: message_start"):
                pinged = True
                yield _PING
    finally:  # close every layer now, so the pipeline settles even when the client went away
        await stream.aclose()
        await upstream.aclose()
        await chunks.chunks.aclose()  # type: ignore[attr-defined]


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def _as_anthropic_sends(events: AsyncIterator[bytes], message_id: str) -> AsyncIterator[bytes]:
    """Two corrections to litellm's events: ``message_start`` carries the gateway's message id
    (litellm's adapter puts a chat id there), and each ``thinking`` block opens empty, as Anthropic's do.

    litellm 1.106.2's adapter seeds a thinking block's ``content_block_start`` with the first
    piece of thinking text and then sends the same piece as a ``thinking_delta``
    (``AnthropicStreamWrapper`` / ``translate_streaming_openai_chunk_to_anthropic_content_block``),
    so the SDK's accumulated block holds it twice; the signature sent back next turn then no longer
    matches its text. The seed is held back and sent as a delta only if no delta carries it.
    """
    seeded: tuple[int, str] | None = None
    async for event in events:
        if event.startswith(b"event: message_start"):
            data = json.loads(event.split(b"data: ", 1)[1])
            event = _event("message_start", {**data, "message": {**data.get("message", {}), "id": message_id}})
        elif event.startswith(b"event: content_block_start") and b'"thinking"' in event:
            data = json.loads(event.split(b"data: ", 1)[1])
            block = data.get("content_block") or {}
            if block.get("type") == "thinking" and block.get("thinking"):
                seeded = (data["index"], block["thinking"])
                event = _event("content_block_start", {**data, "content_block": {**block, "thinking": ""}})
        elif seeded is not None and event.startswith((b"event: content_block_delta", b"event: content_block_stop")):
            index, text = seeded
            seeded = None
            if b'"thinking_delta"' not in event:
                yield _event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                     "delta": {"type": "thinking_delta", "thinking": text}})
        yield event


@router.post("/messages/count_tokens", summary="Count the input tokens of a message (not billed)")
async def count_tokens(request: Request, principal: Principal = Depends(authenticate)):
    runtime = get_runtime()
    engine = runtime.engine()
    parsed = parse_body(await request.body(), CountTokensRequest, runtime.settings.max_body_bytes)
    group = _count_group(engine, runtime.routing_table(engine), parsed.model)
    if group is None:
        raise errors.not_found(f"The model '{parsed.model}' does not exist on this gateway.",
                               param="model", code="model_not_found")
    accounting.check_model_access(principal, parsed.model if engine.catalog.resolve(parsed.model) is None else group,
                                engine.catalog, parsed.model)
    request.state.model = group
    try:
        tokens = translate.count_tokens(engine, group, parsed)
    except Exception:
        raise errors.bad_request("The tokens of this request could not be counted.", code="invalid_request") from None
    return JSONResponse({"input_tokens": tokens})


def _count_group(engine: Any, routes: Any, model: str) -> str | None:
    """The group whose tokenizer counts: the model's, or for a router name its fallback model's."""
    group = engine.catalog.resolve(model)
    if group is None and routes is not None and model in routes.slots:
        settings = routes.slots[model].settings
        for name in ("fallback_model", "weak_model", "default"):
            if isinstance(settings.get(name), str) and engine.catalog.resolve(settings[name]):
                return engine.catalog.resolve(settings[name])
    return group
