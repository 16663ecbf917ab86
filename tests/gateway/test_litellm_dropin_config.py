"""A LiteLLM-style config file (tests/fixtures/litellm_dropin.yaml) loads and serves unchanged:
the master key from ``general_settings``, a wildcard route, a key granted an access group and an
alias, a callback class named the LiteLLM way (observed after the response), and the response cache
with its billing; a ``guardrails:`` block added to it is refused by name. Over HTTP with the
``openai`` SDK against the fake upstream, in a gateway process of its own (the config sets litellm's
module settings), on the session's moto server and table."""
from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import openai
import pytest

from tests.conftest import FIXTURES, MASTER_KEY
from tests.support.gateway_processes import gateway_processes

CONFIG_MASTER_KEY = "sk-dropin-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def dropin(stack, upstream, tmp_path_factory):
    events = tmp_path_factory.mktemp("callbacks") / "events.jsonl"
    env = dict(os.environ, LITELLM_CONFIG_PATH=str(FIXTURES / "litellm_dropin.yaml"),
               DROPIN_MASTER_KEY=CONFIG_MASTER_KEY, CALLBACK_EVENTS_FILE=str(events))
    for name in ("LLMROUTER_MODEL_S3_BUCKET", "LLMROUTER_MODEL_S3_KEY"):
        env.pop(name, None)
    with gateway_processes(env) as (url,):
        yield url, events


def _client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def _ask(url: str, key: str, model: str, text: str):
    return _client(url, key).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=16)


def test_the_config_loads_with_nothing_ignored_and_its_master_key_admits(dropin):
    url, _ = dropin
    ready = httpx.get(url + "/_health/ready", timeout=10).json()
    assert ready["checks"]["config"]["ignored"] == []
    assert _ask(url, CONFIG_MASTER_KEY, "gpt-4o", "hello").parse().choices
    refused = httpx.get(url + "/key/list", headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert refused.status_code == 401  # the environment's key gives way to the config's, as on LiteLLM


def test_a_key_granted_an_access_group_uses_its_models_and_aliases_only(dropin):
    url, _ = dropin
    made = httpx.post(url + "/key/generate", json={"models": ["team-a-models"]},
                      headers={"authorization": f"Bearer {CONFIG_MASTER_KEY}"}, timeout=10)
    assert made.status_code == 200, made.text
    key = made.json()["key"]
    for model in ("gpt-4o", "gpt4"):
        assert _ask(url, key, model, "hi").headers["x-gateway-model"] == "gpt-4o"
    with pytest.raises(openai.PermissionDeniedError) as denied:
        _ask(url, key, "openai/gpt-4o-mini", "hi")
    assert denied.value.body["code"] == "key_model_access_denied"


def test_a_wildcard_route_serves_a_provider_model(dropin, upstream):
    url, _ = dropin
    text = "wildcard " + uuid.uuid4().hex
    assert _ask(url, CONFIG_MASTER_KEY, "openai/gpt-4o-mini", text).parse().choices
    sent = [c["body"] for c in upstream.calls() if text in json.dumps(c["body"])]
    assert [body["model"] for body in sent] == ["gpt-4o-mini"]


def test_the_cache_answers_a_repeat_at_no_cost_and_the_callback_saw_the_call(dropin, upstream):
    url, events = dropin
    text = "cache me " + uuid.uuid4().hex
    first, second = (_ask(url, CONFIG_MASTER_KEY, "gpt-4o", text) for _ in range(2))
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert second.headers["x-litellm-response-cost"] in ("0", "0.0")
    assert len([c for c in upstream.calls() if text in json.dumps(c["body"])]) == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
        if any(event["model"] == "gpt-4o" for event in seen):
            break
        time.sleep(0.1)
    assert any(event == {"kind": "success", "model": "gpt-4o"} for event in seen), seen


def test_a_guardrails_block_in_the_same_config_is_refused_by_name():
    from gateway.config.errors import ConfigError
    from gateway.config.parse import parse_config
    from gateway.runtime import build_engine

    text = (FIXTURES / "litellm_dropin.yaml").read_text() + (
        "guardrails:\n  - guardrail_name: bedrock-pre\n    litellm_params: {guardrail: bedrock, mode: pre_call}\n")
    env = {"FAKE_UPSTREAM_URL": "http://127.0.0.1:9", "DROPIN_MASTER_KEY": CONFIG_MASTER_KEY}
    with pytest.raises(ConfigError, match="guardrails"):
        build_engine(parse_config(text, env=env))
