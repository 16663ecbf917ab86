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


API_SAMPLES = sorted(p.name for p in ev.EVENTS.glob("*.json") if p.name.split("-")[0] in {"http", "rest", "function"})


@pytest.mark.parametrize("name", API_SAMPLES)
def test_shipped_sample_events(lambda_handler, name):
    """Every API sample in events/ (the ones `sam local invoke` would use) works against the handler."""
    event = ev.load_sample(name)
    for headers in (event.get("headers") or {}, *((event.get("multiValueHeaders") or {}),)):
        for header in list(headers):
            if header.lower() == "authorization":
                headers[header] = f"Bearer {MASTER_KEY}" if isinstance(headers[header], str) else [f"Bearer {MASTER_KEY}"]
    result = lambda_handler(event, ev.FakeContext())
    assert result["statusCode"] == 200, ev.response_body(result)[:500]
    body = ev.response_body(result)
    if "stream" in name:
        assert body.rstrip().endswith(b"data: [DONE]")
    else:
        json.loads(body)


def test_events_from_sam_local_generate_event(lambda_handler):
    """Events straight from `sam local generate-event` (no Docker needed) reach the app."""
    import os
    import subprocess
    from pathlib import Path

    sam = os.environ.get("SAM_CLI") or str(Path(__file__).resolve().parents[2] / ".venv-sam" / "bin" / "sam")
    if not Path(sam).exists():
        pytest.skip("aws-sam-cli not installed (make sam-cli)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    for service, kind in (("apigateway", "http-api-proxy"), ("apigateway", "aws-proxy")):
        out = subprocess.run([sam, "local", "generate-event", service, kind, "--method", "GET", "--path", "v1/models"],
                             capture_output=True, text=True, env=env, timeout=60)
        if out.returncode:  # older CLIs lack --path for one of the kinds: use the defaults and set it ourselves
            out = subprocess.run([sam, "local", "generate-event", service, kind], capture_output=True, text=True,
                                 env=env, timeout=60, check=True)
        event = json.loads(out.stdout)
        if event.get("version") == "2.0":
            event["rawPath"] = "/v1/models"
            event["requestContext"]["http"].update(method="GET", path="/v1/models")
            event["headers"] = {"authorization": f"Bearer {MASTER_KEY}"}
            event["body"], event["isBase64Encoded"], event["rawQueryString"] = None, False, ""
        else:
            event.update(path="/v1/models", httpMethod="GET", body=None, isBase64Encoded=False,
                         headers={"Authorization": f"Bearer {MASTER_KEY}"}, multiValueHeaders={},
                         queryStringParameters=None, multiValueQueryStringParameters=None)
        result = lambda_handler(event, ev.FakeContext())
        assert result["statusCode"] == 200, (kind, ev.response_body(result)[:300])
        assert "fake" in [m["id"] for m in json.loads(ev.response_body(result))["data"]]
