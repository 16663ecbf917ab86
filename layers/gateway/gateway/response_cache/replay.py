"""A cached answer replayed as OpenAI's stream (``data: {chunk}`` lines, then ``data: [DONE]``).

LiteLLM replays a cached answer to a streaming request too (``caching_handler.py``:
``_convert_cached_result_to_model_response`` with ``stream=True``). Here each choice becomes one
chunk with the whole message as its delta and one with its ``finish_reason``, followed by the usage
chunk the gateway's streams always end with (``completions._invoke`` asks for ``include_usage``).
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def _delta(message: dict[str, Any]) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": message.get("role") or "assistant", "content": message.get("content")}
    tool_calls = message.get("tool_calls")
    if tool_calls:
        delta["tool_calls"] = [{"index": index, **call} for index, call in enumerate(tool_calls)]
    for name in ("reasoning_content", "refusal"):
        if message.get(name) is not None:
            delta[name] = message[name]
    return delta


def chunks(kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream's chunks for a stored chat completion (``chat``) or text completion (``completion``)."""
    chat = kind == "chat"
    base = {"id": body.get("id"), "object": "chat.completion.chunk" if chat else "text_completion",
            "created": body.get("created"), "model": body.get("model")}
    if body.get("system_fingerprint"):
        base["system_fingerprint"] = body["system_fingerprint"]
    out = []
    for choice in body.get("choices") or []:
        index = choice.get("index", 0)
        if chat:
            out.append({**base, "choices": [{"index": index, "delta": _delta(choice.get("message") or {}),
                                             "finish_reason": None}]})
            out.append({**base, "choices": [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}]})
        else:
            out.append({**base, "choices": [{"index": index, "text": choice.get("text") or "",
                                             "finish_reason": choice.get("finish_reason"), "logprobs": None}]})
    if body.get("usage"):
        out.append({**base, "choices": [], "usage": body["usage"]})
    return out


async def events(kind: str, body: dict[str, Any]) -> AsyncIterator[str]:
    for chunk in chunks(kind, body):
        yield _sse(chunk)
    yield "data: [DONE]\n\n"
