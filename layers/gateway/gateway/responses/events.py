"""The Responses event stream (``response.created`` ... ``response.completed``) from litellm's chunks.

litellm's ``LiteLLMCompletionStreamingIterator`` makes the events (output items, text and
function-call argument deltas, reasoning summaries, the final response); here each gets the
gateway's response id, a running ``sequence_number`` (the bridge numbers only some events) and
an ``event:`` line as OpenAI sends. The final response is stored
before ``response.completed`` (or ``response.incomplete``) is sent, so a client may continue from
it at once, on any instance. A failure mid-stream ends the stream with ``response.failed``.
"""
from __future__ import annotations

import json
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

from gateway import completions, errors
from gateway.responses.schemas import ResponsesRequest
from gateway.responses.translate import finish_body, plain

log = logging.getLogger(__name__)

TERMINAL = frozenset({"response.completed", "response.incomplete"})
OnFinish = Callable[[dict[str, Any], Any], Awaitable[None]]


class _ChunkSource:
    """What the bridge reads from litellm's ``CustomStreamWrapper``: ``__anext__`` and ``logging_obj``."""

    logging_obj = None

    def __init__(self, chunks: AsyncIterator[Any]) -> None:
        self._chunks = chunks
        self.failure: errors.GatewayError | None = None

    def __aiter__(self) -> "_ChunkSource":
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._chunks.__anext__()
        except errors.GatewayError as error:  # the pipeline settled or released the call already
            self.failure = error
            raise


def _frame(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _failed(snapshot: dict[str, Any], error: errors.GatewayError) -> dict[str, Any]:
    return {**snapshot, "status": "failed", "error": {"code": error.code or error.type, "message": error.message}}


async def render(chunks: completions.Chunks, request: ResponsesRequest, response_id: str, provider: str | None,
                 on_finish: OnFinish) -> AsyncIterator[bytes]:
    """SSE bytes for the client; ``on_finish(response, chat_response)`` runs before the final event."""
    from litellm.responses.litellm_completion_transformation.streaming_iterator import (
        LiteLLMCompletionStreamingIterator,
    )

    source = _ChunkSource(chunks.chunks)
    bridge = LiteLLMCompletionStreamingIterator(
        model=request.model, litellm_custom_stream_wrapper=source, request_input=request.input,  # type: ignore[arg-type]
        responses_api_request=request.bridge_params(), custom_llm_provider=provider)
    sequence = 0
    snapshot: dict[str, Any] = finish_body({"object": "response", "status": "in_progress", "output": []},
                                           request, response_id)
    try:
        try:
            async for event in bridge:
                data = plain(event.model_dump())
                data["type"] = getattr(data.get("type"), "value", data.get("type"))
                if isinstance(data.get("response"), dict):
                    data["response"] = snapshot = finish_body(data["response"], request, response_id)
                if data["type"] in TERMINAL:
                    await on_finish(data["response"], bridge.litellm_model_response)
                data["sequence_number"] = sequence
                sequence += 1
                yield _frame(data)
        except Exception as exc:  # the call is settled or released already: end the stream in the protocol's shape
            error = exc if isinstance(exc, errors.GatewayError) else source.failure
            if error is None:  # a bridge failure; the type only: a message could quote the prompt
                log.error("responses stream: translation failed: %s", type(exc).__name__)
                error = errors.GatewayError(500, "The stream could not be completed.", type="server_error",
                                            code="stream_error")
            yield _frame({"type": "response.failed", "sequence_number": sequence, "response": _failed(snapshot, error)})
    finally:  # close the pipeline's iterator now, so the call settles even when the client went away
        await chunks.chunks.aclose()  # type: ignore[attr-defined]
