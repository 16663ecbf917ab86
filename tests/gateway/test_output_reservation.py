"""The output-token reservation policy for requests that set no ``max_tokens``, over HTTP with the
``openai`` SDK: the gateway reserves the default (``general_settings.default_max_tokens``: 4096, 256 in the test config; or a
deployment's ``model_info.max_output_tokens``) and, when a budget is at stake, caps the call at what
it reserved; a budget too small for the default serves the request with the completion tokens that
fit instead of refusing it. A client's own ``max_tokens`` is never lowered."""
from __future__ import annotations

import httpx
import pytest
from openai import OpenAI, UnprocessableEntityError

from tests.conftest import MASTER_KEY

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
OUTPUT_PRICE = 0.000002  # the "fake" group's price per completion token
DEFAULT = 256  # tests/fixtures/gateway.yaml: general_settings.default_max_tokens


def _key(http_server: str, **limits) -> str:
    response = httpx.post(http_server + "/key/generate", json=limits, headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _ask(base_url: str, key: str, **extra):
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20)
    return client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], **extra)


def _sent_max_tokens(upstream) -> object:
    return upstream.calls("fake-ok")[-1]["body"].get("max_tokens", "unset")


def test_a_small_budget_is_served_with_the_completion_that_fits(http_server, base_url, upstream):
    key = _key(http_server, max_budget=0.0003)  # the default's worst case (256 tokens: 0.000512 USD) does not fit
    raw = _ask(base_url, key)
    cap = int(raw.headers["x-gateway-max-tokens"])
    assert 100 <= cap < DEFAULT and cap * OUTPUT_PRICE <= 0.0003
    assert _sent_max_tokens(upstream) == cap
    assert raw.parse().choices


def test_a_budget_that_covers_the_default_caps_the_call_at_the_default(http_server, base_url, upstream):
    raw = _ask(base_url, _key(http_server, max_budget=5.0))
    assert raw.headers["x-gateway-max-tokens"] == str(DEFAULT) and _sent_max_tokens(upstream) == DEFAULT


def test_without_a_budget_nothing_is_capped(http_server, base_url, upstream):
    raw = _ask(base_url, _key(http_server, rpm_limit=100))
    assert "x-gateway-max-tokens" not in raw.headers and _sent_max_tokens(upstream) == "unset"


def test_the_clients_own_max_tokens_is_never_lowered(http_server, base_url, upstream):
    key = _key(http_server, max_budget=0.0003)
    with pytest.raises(UnprocessableEntityError) as refused:
        _ask(base_url, key, max_tokens=1000)  # 0.002 USD worst case
    assert refused.value.body["code"] == "budget_exceeded"
    raw = _ask(base_url, key, max_tokens=100)
    assert "x-gateway-max-tokens" not in raw.headers and _sent_max_tokens(upstream) == 100


def test_a_budget_with_less_than_sixteen_tokens_left_refuses(http_server, base_url):
    key = _key(http_server, max_budget=0.00004)  # the prompt plus under 16 completion tokens
    with pytest.raises(UnprocessableEntityError) as refused:
        _ask(base_url, key)
    assert refused.value.body["code"] == "budget_exceeded"


def test_a_deployments_max_output_tokens_is_the_default_it_reserves():
    from gateway.completions import default_output_tokens
    from gateway.config.parse import parse_config
    from gateway.runtime import build_engine

    engine = build_engine(parse_config("""
model_list:
  - model_name: long
    litellm_params: {model: openai/long, api_key: k}
    model_info: {max_output_tokens: 32000}
  - model_name: plain
    litellm_params: {model: openai/plain, api_key: k}
general_settings: {default_max_tokens: 1000}
"""))
    assert default_output_tokens(engine, ("plain",)) == 1000
    assert default_output_tokens(engine, ("plain", "long")) == 32000  # a fallback to "long" may answer
