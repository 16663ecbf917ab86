"""``/v1/messages`` and ``/v1/messages/count_tokens`` with the official ``anthropic`` SDK over HTTP,
against the fake upstream speaking Anthropic's wire format (tests/support/upstream.py)."""
from __future__ import annotations

import base64
import json
import time

import anthropic
import httpx
import pytest

from tests.anthropic.conftest import CLAUDE, generate_key, key_spend
from tests.conftest import MASTER_KEY
from tests.support.upstream import ANTHROPIC_PIECES, ANTHROPIC_THINKING, ANTHROPIC_USAGE

USER = [{"role": "user", "content": "hello"}]
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# tests/fixtures/gateway.yaml: claude-sonnet-4-5-20250929's model_info
PRICE = (ANTHROPIC_USAGE["input_tokens"] * 0.000003 + ANTHROPIC_USAGE["output_tokens"] * 0.000015
         + ANTHROPIC_USAGE["cache_read_input_tokens"] * 0.0000003
         + ANTHROPIC_USAGE["cache_creation_input_tokens"] * 0.00000375)


def _last_messages_call(upstream) -> dict:
    calls = [r for r in upstream.calls() if r["path"].endswith("/messages")]
    assert calls, "the upstream's /v1/messages was not called"
    return calls[-1]


def test_create_returns_an_anthropic_message(claude, upstream):
    upstream.reset()
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    # (this SDK release has no temperature/top_k arguments; the API still takes them)
    message = claude.messages.create(model=CLAUDE, max_tokens=64, system=system, messages=USER,
                                     stop_sequences=["END"], extra_body={"temperature": 0.2, "top_k": 5})
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.model == CLAUDE
    assert message.content[0].type == "text" and message.content[0].text == "".join(ANTHROPIC_PIECES)
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == ANTHROPIC_USAGE["input_tokens"]
    assert message.usage.output_tokens == ANTHROPIC_USAGE["output_tokens"]
    assert message.usage.cache_read_input_tokens == ANTHROPIC_USAGE["cache_read_input_tokens"]
    assert message.usage.cache_creation_input_tokens == ANTHROPIC_USAGE["cache_creation_input_tokens"]
    sent = _last_messages_call(upstream)
    assert sent["x-api-key"] == "sk-fake-anthropic-key"  # the deployment's key, not the caller's
    body = sent["body"]
    assert body["system"] == system  # cache_control survives the translation
    assert body["max_tokens"] == 64 and body["temperature"] == 0.2 and body["top_k"] == 5
    assert body["stop_sequences"] == ["END"]


def test_content_blocks_reach_the_provider(claude, upstream):
    upstream.reset()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()
    messages = [
        {"role": "user", "content": [
            {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}},
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "cold"}]},
    ]
    claude.messages.create(model=CLAUDE, max_tokens=32, messages=messages, tools=[WEATHER],
                           tool_choice={"type": "auto"})
    body = _last_messages_call(upstream)["body"]
    first = body["messages"][0]["content"]
    kinds = [block["type"] for block in first]
    assert kinds == ["text", "image", "document"], kinds
    assert first[0]["cache_control"] == {"type": "ephemeral"}
    assert first[1]["source"]["data"] == png and first[2]["source"]["data"] == pdf
    assert body["messages"][1]["content"][0]["type"] == "tool_use"
    assert body["messages"][1]["content"][0]["input"] == {"city": "Oslo"}
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["messages"][2]["content"][0]["tool_use_id"] == "toolu_1"
    assert body["tools"][0]["name"] == "get_weather" and body["tools"][0]["input_schema"]["required"] == ["city"]


def test_tool_use_answer(claude):
    message = claude.messages.create(model=CLAUDE, max_tokens=64, messages=USER, tools=[WEATHER])
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "get_weather" and block.input == {"city": "Paris"}


def test_stream_text(claude):
    with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "".join(ANTHROPIC_PIECES)
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == ANTHROPIC_USAGE["output_tokens"]


def _events(http_server: str, body: dict, headers: dict | None = None) -> list[tuple[str, dict]]:
    events = []
    with httpx.stream("POST", http_server + "/v1/messages", timeout=20, json=body,
                      headers={"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01", **(headers or {})}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
    return events


def test_stream_event_sequence(http_server):
    events = _events(http_server, {"model": CLAUDE, "max_tokens": 64, "messages": USER, "stream": True})
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[1] == "ping"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert {"content_block_start", "content_block_delta", "content_block_stop"} <= set(names)
    assert all(name == data["type"] for name, data in events)  # the event line names the data's type
    delta = dict(events)["message_delta"]
    assert delta["usage"]["output_tokens"] == ANTHROPIC_USAGE["output_tokens"]


def test_stream_tool_use_with_input_json_delta(claude, http_server):
    events = _events(http_server, {"model": CLAUDE, "max_tokens": 64, "messages": USER, "stream": True,
                                   "tools": [WEATHER]})
    starts = [data for name, data in events if name == "content_block_start"]
    assert starts[0]["content_block"]["type"] == "tool_use" and starts[0]["content_block"]["name"] == "get_weather"
    partial = "".join(data["delta"]["partial_json"] for name, data in events
                      if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta")
    assert json.loads(partial) == {"city": "Paris"}
    with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=USER, tools=[WEATHER]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].input == {"city": "Paris"}


def test_count_tokens_is_not_billed(http_server):
    key = generate_key(http_server, models=[CLAUDE], max_budget=1)
    client = anthropic.Anthropic(base_url=http_server, api_key=key, max_retries=0)
    short = client.messages.count_tokens(model=CLAUDE, messages=USER)
    longer = client.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "hello " * 50}],
                                          system="You are terse.", tools=[WEATHER])
    assert 0 < short.input_tokens < longer.input_tokens
    assert key_spend(http_server, key) == 0
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=USER)
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.count_tokens(model="fake", messages=USER)


def test_virtual_key_spend_counts_cache_tokens_at_their_prices(http_server):
    key = generate_key(http_server, models=[CLAUDE], max_budget=1)
    client = anthropic.Anthropic(base_url=http_server, auth_token=key, max_retries=0)  # Authorization: Bearer
    client.messages.create(model=CLAUDE, max_tokens=64, messages=USER)
    assert key_spend(http_server, key) == pytest.approx(PRICE, rel=1e-6)
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=USER) as stream:
        stream.until_done()
    assert key_spend(http_server, key) == pytest.approx(2 * PRICE, rel=1e-6)
    logs = httpx.get(http_server + "/spend/logs", params={"api_key": key},
                     headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()
    assert len(logs) == 2 and {log["model"] for log in logs} == {CLAUDE}


def test_errors_are_anthropic_shaped_and_raise_the_sdks_classes(http_server):
    key = generate_key(http_server, models=[CLAUDE, "claude-fake-429"], max_budget=1)
    client = anthropic.Anthropic(base_url=http_server, api_key=key, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        anthropic.Anthropic(base_url=http_server, api_key="sk-wrong", max_retries=0).messages.create(
            model=CLAUDE, max_tokens=8, messages=USER)
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model="fake", max_tokens=8, messages=USER)
    assert caught.value.body["error"]["type"] == "permission_error"
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="no-such-model", max_tokens=8, messages=USER)
    assert caught.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model="claude-fake-429", max_tokens=8, messages=USER)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=CLAUDE, max_tokens=8, messages=USER, extra_body={"api_base": "http://evil"})
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "api_base" in caught.value.body["error"]["message"]
    missing = httpx.post(http_server + "/v1/messages", headers={"x-api-key": key}, timeout=10,
                         json={"model": CLAUDE, "messages": USER})
    assert missing.status_code == 400
    assert missing.json()["type"] == "error" and "max_tokens" in missing.json()["error"]["message"]
    assert "Traceback" not in missing.text


@pytest.mark.parametrize("field", ["mcp_servers", "inference_geo"])
def test_fields_that_redirect_a_call_are_refused(http_server, upstream, field):
    upstream.reset()
    response = httpx.post(http_server + "/v1/messages", headers={"x-api-key": MASTER_KEY}, timeout=10,
                          json={"model": CLAUDE, "max_tokens": 8, "messages": USER,
                                field: [{"type": "url", "url": "http://evil.example", "name": "x"}]})
    assert response.status_code == 400 and field in response.json()["error"]["message"]
    assert not upstream.calls()


def test_claude_code_shaped_request(http_server, upstream):
    """What Claude Code 2.1 posts: ``?beta=true``, system blocks with cache_control, tools, thinking,
    metadata.user_id, context_management, output_config, a stream, and about eight beta flags."""
    upstream.reset()
    betas = ("claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
             "fine-grained-tool-streaming-2025-05-14,oauth-2025-04-20,prompt-caching-scope-2026-01-05,"
             "effort-2025-11-24,tool-search-tool-2025-10-19")
    body = {
        "model": CLAUDE, "max_tokens": 32000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
                   {"type": "text", "text": "Project instructions", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "list the files",
                                                   "cache_control": {"type": "ephemeral"}}]}],
        "tools": [{**WEATHER, "name": "Bash"}],
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "metadata": {"user_id": "user_abc123_account_def_session_0f0f"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "some_future_beta_field": {"x": 1},
    }
    with httpx.stream("POST", http_server + "/v1/messages?beta=true", json=body, timeout=20,
                      headers={"authorization": f"Bearer {MASTER_KEY}", "anthropic-version": "2023-06-01",
                               "anthropic-beta": betas}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["x-gateway-dropped-params"] == "some_future_beta_field"
        text = response.read().decode()
    assert "event: message_stop" in text
    sent = _last_messages_call(upstream)
    assert sent["body"]["system"][1]["cache_control"] == {"type": "ephemeral"}
    assert sent["body"]["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert sent["body"]["context_management"] == body["context_management"]
    assert sent["body"]["tools"][0]["name"] == "Bash"
    assert "some_future_beta_field" not in sent["body"]
    forwarded = set((sent["anthropic-beta"] or "").split(","))
    assert {"interleaved-thinking-2025-05-14", "context-management-2025-06-27"} <= forwarded
    assert forwarded <= set(betas.split(","))  # litellm forwards only flags Anthropic's API takes


def test_beta_header_is_not_sent_to_other_providers(http_server, upstream):
    upstream.reset()
    response = httpx.post(http_server + "/v1/messages", timeout=10, json={"model": "fake", "max_tokens": 8,
                                                                          "messages": USER},
                          headers={"x-api-key": MASTER_KEY, "anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["type"] == "text"
    sent = upstream.calls("fake-ok")[-1]
    assert sent["path"].endswith("/chat/completions") and sent["anthropic-beta"] is None


def test_mid_stream_failure_is_an_error_event(http_server):
    events = _events(http_server, {"model": "claude-fake-overloaded", "max_tokens": 8, "messages": USER,
                                   "stream": True})
    assert events[-1][0] == "error" and events[-1][1]["type"] == "error"
    assert events[-1][1]["error"]["type"] in {"api_error", "overloaded_error"}
    assert "message_stop" not in [name for name, _ in events]


def test_an_abandoned_stream_is_billed_for_what_was_sent(http_server):
    key = generate_key(http_server, models=["claude-fake-slow"], max_budget=1)
    with httpx.stream("POST", http_server + "/v1/messages", timeout=20, headers={"x-api-key": key},
                      json={"model": "claude-fake-slow", "max_tokens": 500, "messages": USER, "stream": True}) as response:
        assert response.status_code == 200
        seen = 0
        for line in response.iter_lines():
            seen += line.startswith("event: content_block_delta")
            if seen == 3:
                break  # the client leaves; the upstream goes on for seconds and its usage never arrives
    deadline = time.monotonic() + 10
    logs: list = []
    while time.monotonic() < deadline and not logs:
        logs = httpx.get(http_server + "/spend/logs", params={"api_key": key},
                         headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()
        time.sleep(0.2)
    assert logs, "the abandoned stream left no spend log"
    log = logs[0]
    assert log["status_code"] == 499 and log["error_code"] == "client_disconnected"
    assert log["completion_tokens"] >= 3
    assert key_spend(http_server, key) > 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking_blocks_keep_their_signature_across_turns(claude, upstream, stream):
    """Extended thinking: the thinking block and its signature reach the client (streamed as
    thinking_delta / signature_delta) and, sent back in the next turn, reach the provider unchanged;
    Anthropic refuses a tool-use turn whose thinking signature was lost."""
    thinking = {"type": "enabled", "budget_tokens": 2048}
    first = dict(model=CLAUDE, max_tokens=4096, thinking=thinking, messages=USER, tools=[WEATHER])
    if stream:
        with claude.messages.stream(**first) as streamed:
            message = streamed.get_final_message()
    else:
        message = claude.messages.create(**first)
    blocks = [block.model_dump(exclude_none=True) for block in message.content]
    assert blocks[0] == ANTHROPIC_THINKING
    assert blocks[1]["type"] == "tool_use"
    upstream.reset()
    claude.messages.create(model=CLAUDE, max_tokens=4096, thinking=thinking, tools=[WEATHER], messages=[
        *USER, {"role": "assistant", "content": blocks},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": blocks[1]["id"], "content": "sunny"}]},
    ])
    sent = _last_messages_call(upstream)["body"]["messages"][1]["content"]
    assert sent[0] == ANTHROPIC_THINKING and sent[1]["type"] == "tool_use"
