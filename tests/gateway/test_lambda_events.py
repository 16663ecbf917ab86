"""The Lambda handler behind each front door, driven by real event shapes (and by the openai SDK
through an httpx transport that turns its requests into those events)."""
from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY
from tests.support import lambda_events as ev
from tests.support.upstream import COMPLETION_TOKENS, PROMPT_TOKENS

USER = [{"role": "user", "content": "hello"}]
AUTH = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}
FRONTS = ["http-api", "rest", "function-url"]


@pytest.fixture(params=FRONTS)
def front(request) -> str:
    return request.param


@pytest.fixture()
def sdk(lambda_handler, front):
    transport = ev.LambdaTransport(lambda_handler, front)
    client = openai.OpenAI(base_url="https://gateway.example/v1", api_key=MASTER_KEY, max_retries=0,
                           http_client=httpx.Client(transport=transport))
    client.transport = transport
    return client


def test_chat_through_each_front(sdk, front):
    resp = sdk.chat.completions.with_raw_response.create(model="fake", messages=USER)
    assert resp.parse().choices[0].message.content == "echo: 1 messages"
    assert resp.headers["x-gateway-model"] == "fake"
    # the request id echoed is the one API Gateway / the Function URL put in requestContext
    assert resp.headers["x-request-id"] == sdk.transport.events[-1]["requestContext"]["requestId"]


def test_buffered_stream_is_parsed_by_the_sdk(sdk):
    chunks = list(sdk.chat.completions.create(model="fake", messages=USER, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from fake"
    usage = [c.usage for c in chunks if c.usage][-1]
    assert (usage.prompt_tokens, usage.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)


def test_embeddings_and_models_through_lambda(sdk):
    assert len(sdk.embeddings.create(model="fake-embedding", input="x").data) == 1
    assert "fake" in [m.id for m in sdk.models.list()]


def test_sdk_errors_through_lambda(sdk):
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=USER)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="fake-429", messages=USER)


def test_base64_body(lambda_handler, front):
    body = json.dumps({"model": "mock", "messages": USER})
    event = ev.BUILDERS[front]("POST", "/v1/chat/completions", body=body, headers=AUTH, as_base64=True)
    result = lambda_handler(event, ev.FakeContext())
    assert result["statusCode"] == 200
    assert json.loads(ev.response_body(result))["choices"][0]["message"]["content"] == "offline mock answer"


def test_health_needs_no_key(lambda_handler, front):
    result = lambda_handler(ev.BUILDERS[front]("GET", "/_health/live"), ev.FakeContext())
    assert result["statusCode"] == 200
    assert json.loads(ev.response_body(result)) == {"status": "ok"}


def test_unauthenticated_event_is_401(lambda_handler, front):
    event = ev.BUILDERS[front]("POST", "/v1/chat/completions", body=json.dumps({"model": "fake", "messages": USER}))
    result = lambda_handler(event, ev.FakeContext())
    assert result["statusCode"] == 401
    assert json.loads(ev.response_body(result))["error"]["type"] == "authentication_error"
