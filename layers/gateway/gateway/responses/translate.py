"""Responses <-> chat, with litellm's own bridge (``litellm/responses/litellm_completion_transformation/``).

``LiteLLMCompletionResponsesConfig`` turns a Responses body into chat messages and tools for the
deployment that answers, and a chat response back into a Responses ``response``; every configured
provider then serves the Responses API through the gateway's one pipeline (keys, limits, routing,
spend). ``litellm.aresponses`` is not used: for chat-only providers it goes to this same bridge, but
it carries its own session store (LiteLLM's spend logs in Postgres) for ``previous_response_id`` and
imports the ``mcp`` package for tools. Conversations here are the gateway's (``store.py``):
``previous_response_id`` prepends the stored conversation, and, as OpenAI documents for
``instructions``, a previous response's instructions are not carried over.
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

from gateway.responses.schemas import ResponsesRequest
from gateway.responses.store import StoredResponse
from gateway.schemas import ChatCompletionRequest

_DRAFT_TARGET = ("openai/gpt-4o", "openai")  # enough to route and count tokens before the group is known
_ID_PREFIX = {"message": "msg_", "function_call": "fc_", "function_call_output": "fco_", "reasoning": "rs_"}


def _bridge() -> Any:
    from litellm.responses.litellm_completion_transformation.transformation import LiteLLMCompletionResponsesConfig

    return LiteLLMCompletionResponsesConfig


def new_response_id() -> str:
    return "resp_" + secrets.token_hex(24)


def plain(value: Any) -> Any:
    """litellm's pydantic objects inside messages and responses -> JSON-able dicts and lists."""
    return json.loads(json.dumps(value, default=lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)))


def to_chat(request: ResponsesRequest, history: StoredResponse | None, *, group: str,
            target: tuple[str, str | None] | None) -> tuple[ChatCompletionRequest, list[dict[str, Any]]]:
    """The chat call for ``request`` after ``history``, translated for ``target``, and the turn's
    own chat messages (without instructions), to store after the answer."""
    bridge = _bridge()
    model, provider = target or _DRAFT_TARGET
    kwargs = bridge.transform_responses_api_request_to_chat_completion_request(
        model=model, input=request.input, responses_api_request=request.bridge_params(),
        custom_llm_provider=provider, stream=request.stream)
    messages = plain(kwargs.pop("messages"))
    leading = messages[:1] if request.instructions and messages and messages[0].get("role") == "system" else []
    past = history.messages if history else []
    turn = _without_replayed_tool_calls(past, messages[len(leading):])
    combined = [*leading, *past, *turn]
    if history:
        combined = plain(bridge._ensure_tool_results_have_corresponding_tool_calls(
            messages=combined, tools=kwargs.get("tools") or []))
    for name in ("model", "custom_llm_provider", "stream", "stream_options", "extra_headers", "metadata", "user"):
        kwargs.pop(name, None)
    max_tokens = kwargs.pop("max_tokens", None)
    for name in ("prompt_cache_key", "service_tier"):
        if getattr(request, name) is not None:
            kwargs[name] = getattr(request, name)
    kwargs["drop_params"] = True  # what the answering provider cannot take is dropped, as litellm does
    body = ChatCompletionRequest.translated(model=group, messages=combined, stream=request.stream,
                                            max_tokens=max_tokens, params=plain(kwargs), source=request)
    return body, turn


def _tool_call_ids(message: dict[str, Any]) -> set[str]:
    return {call.get("id") for call in message.get("tool_calls") or () if isinstance(call, dict)}


def _without_replayed_tool_calls(history: list[dict[str, Any]], turn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop an assistant message that only repeats tool calls already in the conversation.

    For a ``function_call_output`` litellm's bridge prepends the matching tool call when its
    process-local ``TOOL_CALLS_CACHE`` remembers it (``_transform_responses_api_tool_call_output_to_
    chat_completion_message``), so, after a stored response, the same call would appear twice, and
    only on the instance that made it. The stored conversation already has it."""
    seen = set().union(*(_tool_call_ids(m) for m in history if m.get("role") == "assistant"))
    kept: list[dict[str, Any]] = []
    for message in turn:
        ids = _tool_call_ids(message) if message.get("role") == "assistant" else set()
        if not (ids and ids <= seen and not message.get("content")):
            kept.append(message)
        seen |= ids
    return kept


def input_items(request: ResponsesRequest, history: StoredResponse | None) -> list[dict[str, Any]]:
    """Every item used to make this response, oldest first: the previous response's context and
    output, then this request's input, each with an id (``GET /v1/responses/{id}/input_items``)."""
    items = plain([request.input] if isinstance(request.input, str) else request.input)
    turn = []
    for item in items:
        if isinstance(item, str):
            item = {"type": "message", "role": "user", "content": item}
        item = {"type": "message", **item} if "role" in item and "type" not in item else dict(item)
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
        item.setdefault("id", _ID_PREFIX.get(item["type"], "item_") + secrets.token_hex(16))
        turn.append(item)
    if history is None:
        return turn
    return [*history.input_items, *plain(history.response.get("output") or []), *turn]


def response_body(chat_response: Any, request: ResponsesRequest, response_id: str) -> dict[str, Any]:
    """litellm's chat response as a Responses ``response``, under the gateway's id."""
    response = _bridge().transform_chat_completion_response_to_responses_api_response(
        request_input=request.input, responses_api_request=request.bridge_params(),
        chat_completion_response=chat_response)
    return finish_body(plain(response.model_dump()), request, response_id)


def finish_body(data: dict[str, Any], request: ResponsesRequest, response_id: str) -> dict[str, Any]:
    """The fields the gateway owns on a response (JSON or a stream event's snapshot)."""
    data.pop("provider_specific_fields", None)
    data.update(id=response_id, model=request.model, store=request.store,
                previous_response_id=request.previous_response_id)
    data["created_at"] = int(data.get("created_at") or time.time())
    return data


def assistant_message(chat_response: Any) -> list[dict[str, Any]]:
    """The answer as chat messages (text, tool calls, thinking blocks), to continue from."""
    choices = getattr(chat_response, "choices", None) or []
    if not choices:
        return []
    message = plain(choices[0].message.model_dump())
    kept = {name: message[name] for name in ("role", "content", "tool_calls", "thinking_blocks", "reasoning_content")
            if message.get(name) not in (None, [], "")}
    kept.setdefault("role", "assistant")
    kept.setdefault("content", "")
    return [kept]
