"""LiteLLM's proxy response headers (``x-litellm-*``) and the answering group after a fallback, over
HTTP with the ``openai`` SDK: ``primary`` always fails upstream and falls back to ``fake``."""
from __future__ import annotations

import httpx
import pytest

from tests.anthropic.conftest import generate_key, key_spend
from tests.conftest import MASTER_KEY

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture()
def client_for(base_url):
    from openai import OpenAI

    return lambda token: OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=20)


def _logs(http_server: str, key: str) -> list[dict]:
    return httpx.get(http_server + "/spend/logs", params={"api_key": key},
                     headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()


def test_a_fallback_names_the_group_that_answered_in_headers_and_spend_log(http_server, client_for):
    key = generate_key(http_server, models=["primary", "fake"], max_budget=1)
    raw = client_for(key).chat.completions.with_raw_response.create(model="primary", messages=USER)
    assert raw.headers["x-gateway-model"] == "fake"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    logs = _logs(http_server, key)
    assert [log["model"] for log in logs] == ["fake"]


def test_litellm_s_headers_on_a_plain_call(http_server, client_for):
    key = generate_key(http_server, models=["fake"], max_budget=1)
    raw = client_for(key).chat.completions.with_raw_response.create(model="fake", messages=USER)
    headers = raw.headers
    assert headers["x-gateway-model"] == "fake"
    assert headers["x-litellm-model-id"] and headers["x-litellm-call-id"]
    assert headers["x-litellm-attempted-retries"] == "0"
    assert float(headers["x-litellm-timeout"]) == 5  # router_settings.timeout of the test config
    assert float(headers["x-litellm-response-cost"]) == pytest.approx(key_spend(http_server, key))
    for hidden in ("x-litellm-version", "x-litellm-model-api-base", "x-litellm-fallback-errors"):
        assert hidden not in headers


def test_a_stream_sends_them_before_the_first_byte(http_server):
    with httpx.stream("POST", http_server + "/v1/chat/completions", json={"model": "primary", "messages": USER,
                      "stream": True}, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["x-gateway-model"] == "fake"
        assert response.headers["x-litellm-model-id"]
        assert "x-litellm-response-cost" not in response.headers  # not known before the stream ends
        response.read()


def test_the_anthropic_route_carries_them_too(http_server):
    response = httpx.post(http_server + "/v1/messages", json={"model": "claude-sonnet-4-5-20250929", "max_tokens": 8,
                          "messages": USER}, headers={"x-api-key": MASTER_KEY}, timeout=10)
    assert response.status_code == 200 and response.headers["x-litellm-model-id"]
