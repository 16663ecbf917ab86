"""``/v1/responses`` with the official ``openai`` SDK over HTTP: create, stream (text and function
calls), ``previous_response_id``, retrieve, delete, input items, ownership, keys and spend."""
from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.anthropic.conftest import CLAUDE, generate_key, key_spend
from tests.conftest import MASTER_KEY
from tests.responses.conftest import WEATHER
from tests.support.upstream import ANTHROPIC_PIECES, ANTHROPIC_USAGE, COMPLETION_TOKENS, PROMPT_TOKENS

FAKE_PRICE = PROMPT_TOKENS * 1e-6 + COMPLETION_TOKENS * 2e-6  # the fixture's prices for "fake"


def _chat_calls(upstream) -> list[dict]:
    return [call for call in upstream.calls() if call["path"].endswith("/chat/completions")]


def _spend_logs(http_server: str, key: str) -> list[dict]:
    return httpx.get(http_server + "/spend/logs", params={"api_key": key},
                     headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()


def test_create_answers_in_the_responses_shape_and_bills_the_key(http_server, client_for, virtual_key):
    response = client_for(virtual_key).responses.create(model="fake", input="hello", instructions="be brief")
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == "fake"
    assert response.output_text.startswith("echo: 2 messages")  # instructions + the input
    assert isinstance(response.created_at, (int, float)) and response.created_at == int(response.created_at)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert key_spend(http_server, virtual_key) == pytest.approx(FAKE_PRICE)
    logs = _spend_logs(http_server, virtual_key)
    assert len(logs) == 1 and logs[0]["model"] == "fake" and logs[0]["status_code"] == 200


def test_stream_sends_the_event_sequence_and_the_final_response_is_stored(client_for, virtual_key, http_server):
    client = client_for(virtual_key)
    with client.responses.stream(model="fake", input="stream please") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-1] == "response.completed" and "response.output_text.done" in kinds
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello from fake"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert {e.response.id for e in events if hasattr(e, "response")} == {final.id}
    assert final.output_text == "Hello from fake" and final.usage.output_tokens == COMPLETION_TOKENS
    assert client.responses.retrieve(final.id).output_text == "Hello from fake"
    assert key_spend(http_server, virtual_key) == pytest.approx(FAKE_PRICE)


def test_raw_stream_frames_carry_event_lines(http_server):
    with httpx.stream("POST", http_server + "/v1/responses", json={"model": "fake", "input": "x", "stream": True},
                      headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = response.read().decode().strip().split("\n\n")
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert event_line.removeprefix("event: ") == json.loads(data_line.removeprefix("data: "))["type"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_function_call_then_its_output_continues_the_conversation(client_for, virtual_key, upstream, stream):
    client = client_for(virtual_key)
    if stream:
        with client.responses.stream(model="fake", input="weather in Paris?", tools=[WEATHER]) as streamed:
            kinds = [event.type for event in streamed]
            first = streamed.get_final_response()
        assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    else:
        first = client.responses.create(model="fake", input="weather in Paris?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    assert (call.name, json.loads(call.arguments), call.call_id) == ("get_weather", {"city": "Paris"}, "call_fake_1")
    upstream.reset()
    second = client.responses.create(model="fake", previous_response_id=first.id, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    assert second.previous_response_id == first.id
    sent = _chat_calls(upstream)[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"], json.dumps(sent)
    assert sent[1]["tool_calls"][0]["id"] == "call_fake_1" and sent[2]["tool_call_id"] == "call_fake_1"
    assert sent[2]["content"] == "sunny"


def test_previous_response_id_sends_the_stored_conversation_without_old_instructions(client_for, virtual_key,
                                                                                     upstream):
    client = client_for(virtual_key)
    first = client.responses.create(model="fake", input="my name is Ada", instructions="old rules")
    second = client.responses.create(model="fake", input="and my name?", previous_response_id=first.id)
    upstream.reset()
    client.responses.create(model="fake", input="third", previous_response_id=second.id, instructions="new rules")
    sent = _chat_calls(upstream)[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[0]["content"] == "new rules" and "old rules" not in json.dumps(sent)
    assert sent[1]["content"] == "my name is Ada" and sent[-1]["content"] == "third"
    assert sent[2]["content"] == first.output_text


def test_input_items_list_the_whole_context_with_pagination(client_for, virtual_key):
    client = client_for(virtual_key)
    first = client.responses.create(model="fake", input="one")
    second = client.responses.create(model="fake", previous_response_id=first.id,
                                     input=[{"role": "user", "content": "two"}])
    items = client.responses.input_items.list(second.id, order="asc").data
    assert [item.type for item in items] == ["message", "message", "message"]
    assert [item.role for item in items] == ["user", "assistant", "user"]
    assert items[0].content[0].text == "one" and items[2].content[0].text == "two"
    assert items[1].id == first.output[0].id
    newest = client.responses.input_items.list(second.id, limit=1)
    assert newest.data[0].id == items[2].id and newest.has_more
    after = client.responses.input_items.list(second.id, limit=5, after=newest.data[0].id)
    assert [item.id for item in after.data] == [items[1].id, items[0].id] and not after.has_more


def test_delete_removes_the_response(client_for, virtual_key):
    client = client_for(virtual_key)
    response = client.responses.create(model="fake", input="forget me")
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="fake", input="again", previous_response_id=response.id)
    assert caught.value.body["code"] == "previous_response_not_found"


def test_a_response_belongs_to_the_key_that_made_it(http_server, client_for, virtual_key):
    owner = client_for(virtual_key)
    other = client_for(generate_key(http_server, models=["fake"]))
    response = owner.responses.create(model="fake", input="mine")
    with pytest.raises(openai.NotFoundError) as caught:
        other.responses.retrieve(response.id)
    assert caught.value.body["code"] == "response_not_found"
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(response.id)
    with pytest.raises(openai.BadRequestError):
        other.responses.create(model="fake", input="steal", previous_response_id=response.id)
    assert client_for(MASTER_KEY).responses.retrieve(response.id).id == response.id  # the admin reads all
    assert owner.responses.retrieve(response.id).output_text == response.output_text  # still there


def test_store_false_keeps_nothing(client_for, virtual_key):
    client = client_for(virtual_key)
    response = client.responses.create(model="fake", input="ephemeral", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_unknown_and_malformed_ids_are_404(client_for):
    client = client_for(MASTER_KEY)
    for response_id in ("resp_doesnotexist", "not-a-response-id"):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(response_id)


def test_key_rules_hold_on_the_route(http_server, client_for):
    narrow = client_for(generate_key(http_server, models=["mock"]))
    with pytest.raises(openai.PermissionDeniedError):
        narrow.responses.create(model="fake", input="not granted")
    broke = client_for(generate_key(http_server, models=["fake"], max_budget=0.0000001))
    with pytest.raises(openai.UnprocessableEntityError) as caught:  # LiteLLM's 422: the SDK does not retry it
        broke.responses.create(model="fake", input="too expensive", max_output_tokens=64)
    assert caught.value.body["code"] == "budget_exceeded"
    with pytest.raises(openai.NotFoundError):
        client_for(MASTER_KEY).responses.create(model="no-such-model", input="x")


def test_model_auto_goes_through_the_router(client_for, virtual_key):
    response = client_for(virtual_key).responses.with_raw_response.create(model="auto", input="What is 2 + 2?")
    assert response.headers["x-gateway-router"] != "direct"
    assert response.headers["x-gateway-model"] in {"fake", "mock"}
    assert response.parse().status == "completed"


def test_an_anthropic_deployment_serves_the_responses_api(http_server, client_for, virtual_key, upstream):
    upstream.reset()
    response = client_for(virtual_key).responses.create(model=CLAUDE, input="hello", max_output_tokens=64)
    assert response.output_text == "".join(ANTHROPIC_PIECES)
    assert any(call["path"].endswith("/messages") for call in upstream.calls())
    expected = (ANTHROPIC_USAGE["input_tokens"] * 3e-6 + ANTHROPIC_USAGE["output_tokens"] * 15e-6
                + ANTHROPIC_USAGE["cache_read_input_tokens"] * 3e-7
                + ANTHROPIC_USAGE["cache_creation_input_tokens"] * 3.75e-6)
    assert key_spend(http_server, virtual_key) == pytest.approx(expected)


def test_a_stream_that_breaks_ends_with_response_failed(client_for, virtual_key):
    with client_for(virtual_key).responses.stream(model="fake-stream-cut", input="x") as stream:
        events = list(stream)
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message


@pytest.mark.parametrize("body, status, code", [
    ({"tools": [{"type": "mcp", "server_label": "x", "server_url": "https://evil.example/mcp"}]}, 400, "unsupported_tool"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, 400, "unsupported_tool"),
    ({"background": True}, 400, "invalid_value"),
    ({"conversation": "conv_1"}, 400, "invalid_value"),
    ({"api_base": "http://127.0.0.1:1/v1"}, 400, "forbidden_param"),
    ({"input": []}, 400, "invalid_value"),
    ({"previous_response_id": "../../etc"}, 400, "invalid_value"),
    ({"max_output_tokens": 0}, 400, "invalid_value"),
], ids=["mcp", "file_search", "background", "conversation", "api_base", "empty-input", "bad-previous", "zero-tokens"])
def test_refused_bodies_are_openai_shaped_400s(http_server, body, status, code):
    response = httpx.post(http_server + "/v1/responses", json={"model": "fake", "input": "x", **body},
                          headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_unknown_fields_are_dropped_and_named(http_server):
    response = httpx.post(http_server + "/v1/responses",
                          json={"model": "fake", "input": "x", "some_future_field": 1, "prompt": {"id": "p"}},
                          headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert response.status_code == 200
    assert set(response.headers["x-gateway-dropped-params"].split(",")) == {"some_future_field", "prompt"}


def test_tools_litellm_cannot_bridge_are_dropped_and_named(http_server, upstream):
    upstream.reset()
    response = httpx.post(http_server + "/v1/responses", json={
        "model": "fake", "input": "x", "tools": [{"type": "local_shell"}, WEATHER]},
        headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert "tools[0]:local_shell" in response.headers["x-gateway-dropped-params"]
    sent = _chat_calls(upstream)[-1]["body"]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"]
    refused = httpx.post(http_server + "/v1/responses", json={
        "model": "fake", "input": "x", "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]},
        headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tools[0].type"


def test_codex_shaped_request(http_server, upstream):
    """What Codex posts with ``wire_api = "responses"``: stateless (``store: false``), streamed,
    instructions, a developer message, function and custom tools, reasoning with encrypted content
    asked back, a prompt cache key, and its own headers."""
    upstream.reset()
    body = {
        "model": "fake", "instructions": "You are a coding agent.", "stream": True, "store": False,
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox: workspace-write"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the files"}]},
        ],
        "tools": [{"type": "function", "name": "shell", "description": "Run a command", "strict": False,
                   "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                                  "required": ["command"]}},
                  {"type": "custom", "name": "apply_patch", "description": "Apply a patch",
                   "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}],
        "tool_choice": "auto", "parallel_tool_calls": False, "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "0199a7c4-conversation",
    }
    headers = {"authorization": f"Bearer {MASTER_KEY}", "openai-beta": "responses=experimental",
               "conversation_id": "0199a7c4-conversation", "session_id": "0199a7c4-conversation", "originator": "codex_cli_rs"}
    with httpx.stream("POST", http_server + "/v1/responses", json=body, headers=headers, timeout=20) as response:
        assert response.status_code == 200
        frames = [json.loads(line.removeprefix("data: ")) for line in response.read().decode().splitlines()
                  if line.startswith("data: ")]
    assert frames[0]["type"] == "response.created" and frames[-1]["type"] == "response.completed"
    call = next(f["item"] for f in frames if f["type"] == "response.output_item.done" and f["item"]["type"] == "function_call")
    assert call["name"] == "shell"
    sent = _chat_calls(upstream)[-1]["body"]
    assert [m["role"] for m in sent["messages"]][:1] == ["system"]
    assert {tool["function"]["name"] for tool in sent["tools"]} == {"shell", "apply_patch"}
    assert frames[-1]["response"]["store"] is False
    missing = httpx.get(http_server + f"/v1/responses/{frames[-1]['response']['id']}",
                        headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert missing.status_code == 404


def test_an_abandoned_stream_is_billed_for_what_was_sent(http_server, client_for):
    key = generate_key(http_server, models=["claude-fake-slow"], max_budget=1)
    with client_for(key).responses.stream(model="claude-fake-slow", input="long answer", max_output_tokens=256) as stream:
        deltas = 0
        for event in stream:
            deltas += event.type == "response.output_text.delta"
            if deltas == 3:
                break
    deadline = time.monotonic() + 10
    logs: list[dict] = []
    while not logs and time.monotonic() < deadline:
        logs = _spend_logs(http_server, key)
        time.sleep(0.2)
    assert logs, "the abandoned stream left no spend log"
    assert logs[0]["status_code"] == 499 and logs[0]["completion_tokens"] >= 3
    assert key_spend(http_server, key) > 0
