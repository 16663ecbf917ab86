"""The OpenAI-compatible API under uvicorn, driven by the official openai SDK (the `make run` path)."""
from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY
from tests.support.upstream import COMPLETION_TOKENS, PROMPT_TOKENS

USER = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_chat_completion_reaches_upstream_with_params(openai_client, upstream):
    upstream.reset()
    resp = openai_client.chat.completions.with_raw_response.create(
        model="fake", messages=USER, temperature=0.2, max_tokens=50, n=2, stop=["\n"], user="u-1",
        response_format={"type": "json_object"},
    )
    completion = resp.parse()
    assert completion.choices[0].message.content == "echo: 1 messages"
    assert len(completion.choices) == 2
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == COMPLETION_TOKENS
    assert resp.headers["x-gateway-model"] == "fake"
    assert resp.headers["x-request-id"]
    sent = upstream.calls("fake-ok")[-1]["body"]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50 and sent["n"] == 2
    assert sent["stop"] == ["\n"]  # (litellm 1.106 does not forward `user` to openai-compatible upstreams)
    assert sent["response_format"] == {"type": "json_object"}
    # the gateway's provider key, never the client's
    assert upstream.calls("fake-ok")[-1]["authorization"] == "Bearer fake-upstream-key"


def test_tool_calls_round_trip(openai_client, upstream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = openai_client.chat.completions.create(model="fake", messages=USER, tools=tools, tool_choice="auto")
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert upstream.calls("fake-ok")[-1]["body"]["tool_choice"] == "auto"


def test_stream_arrives_incrementally_with_usage(openai_client):
    chunks = list(openai_client.chat.completions.create(model="fake", messages=USER, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from fake"
    usage = [c.usage for c in chunks if c.usage]
    assert usage and usage[-1].prompt_tokens == PROMPT_TOKENS and usage[-1].completion_tokens == COMPLETION_TOKENS


def test_stream_is_sse_ending_with_done(http_server):
    with httpx.stream("POST", http_server + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "fake", "messages": USER, "stream": True}, timeout=10) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    first = json.loads(lines[0][6:])
    assert first["object"] == "chat.completion.chunk"


def test_mock_model_answers_offline(openai_client):
    completion = openai_client.chat.completions.create(model="mock", messages=USER)
    assert completion.choices[0].message.content == "offline mock answer"
    chunks = list(openai_client.chat.completions.create(model="mock", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "offline mock answer"


def test_embeddings(openai_client):
    result = openai_client.embeddings.create(model="fake-embedding", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[1].embedding[0] == pytest.approx(0.2)
    assert result.usage.prompt_tokens == 6


def test_text_completions(openai_client):
    result = openai_client.completions.create(model="fake", prompt="Say hi", max_tokens=5)
    assert result.choices[0].text == "fake text"
    assert result.usage.total_tokens == PROMPT_TOKENS + COMPLETION_TOKENS


def test_models_list_and_retrieve(openai_client):
    ids = [m.id for m in openai_client.models.list()]
    assert {"fake", "mock", "fake-embedding", "fake-alias"} <= set(ids)
    assert openai_client.models.retrieve("fake").id == "fake"
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("does-not-exist")


def test_without_v1_prefix(http_server):
    resp = httpx.post(http_server + "/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "mock", "messages": USER}, timeout=10)
    assert resp.status_code == 200
    assert httpx.get(http_server + "/models", headers={"x-api-key": MASTER_KEY}).status_code == 200
    assert httpx.get(http_server + "/models", headers={"api-key": MASTER_KEY}).status_code == 200


def test_alias_resolves_to_group(openai_client):
    resp = openai_client.chat.completions.with_raw_response.create(model="fake-alias", messages=USER)
    assert resp.headers["x-gateway-model"] == "fake"


# --- errors, each through the SDK's own exception classes ----------------------------------------
def test_wrong_key_is_401(base_url):
    client = openai.OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="fake", messages=USER)
    assert err.value.body["type"] == "authentication_error"


def test_unknown_model_is_404(openai_client, upstream):
    upstream.reset()
    with pytest.raises(openai.NotFoundError) as err:
        openai_client.chat.completions.create(model="nope", messages=USER)
    assert err.value.body["code"] == "model_not_found"
    assert upstream.calls() == []


def test_missing_messages_is_400(http_server):
    resp = httpx.post(http_server + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "fake"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "messages"
    assert resp.json()["error"]["code"] == "missing_required_parameter"


def test_wrong_types_are_400(openai_client):
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model="fake", messages=USER, temperature="hot")
    assert err.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="fake", messages="not a list")


def test_upstream_429_is_429_with_retry_after(openai_client):
    with pytest.raises(openai.RateLimitError) as err:
        openai_client.chat.completions.create(model="fake-429", messages=USER)
    assert err.value.response.headers.get("retry-after")
    assert err.value.body["type"] == "rate_limit_error"


def test_upstream_500_is_502(openai_client):
    with pytest.raises(openai.APIStatusError) as err:
        openai_client.chat.completions.create(model="fake-500", messages=USER)
    assert err.value.status_code == 502
    assert "exploded" not in err.value.message  # provider internals stay inside


def test_upstream_timeout_is_504(openai_client):
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        openai_client.chat.completions.create(model="fake-slow", messages=USER)
    assert err.value.status_code == 504
    assert err.value.body["code"] == "provider_timeout"
    assert time.monotonic() - started < 2.0


def test_upstream_malformed_json_is_502(openai_client):
    with pytest.raises(openai.APIStatusError) as err:
        openai_client.chat.completions.create(model="fake-malformed", messages=USER)
    assert err.value.status_code == 502


def test_fallback_answers_from_backup(openai_client, upstream):
    upstream.reset()
    resp = openai_client.chat.completions.with_raw_response.create(model="primary", messages=USER)
    assert resp.parse().choices[0].message.content == "echo: 1 messages"
    assert upstream.calls("fake-500") and upstream.calls("fake-ok")


def test_stream_broken_midway_reports_error_in_band(http_server):
    with httpx.stream("POST", http_server + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                      json={"model": "fake-stream-cut", "messages": USER, "stream": True}, timeout=10) as resp:
        lines = [line for line in resp.iter_lines() if line]
    assert resp.status_code == 200
    assert '"error"' in lines[-1] or lines[-1] == "data: [DONE]"


def test_stream_error_before_first_token_is_a_status(openai_client):
    with pytest.raises(openai.RateLimitError):
        list(openai_client.chat.completions.create(model="fake-429", messages=USER, stream=True))
