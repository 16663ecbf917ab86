"""LiteLLM's response cache (``litellm_settings.cache: true``) over HTTP with the openai SDK.

Two gateway instances (two OS processes under uvicorn, as two Lambda instances) serve a config
with the cache on, sharing the session's moto server, bucket and table; the fake upstream runs in
this process and records every request, so a test sees whether the provider was asked. Each test
sends prompts of its own (``_prompt``), so entries of one test never answer another's.
"""
from __future__ import annotations

import os
import time
import uuid

import httpx
import openai
import pytest
import yaml

from tests.anthropic.conftest import generate_key, key_spend
from tests.conftest import BUCKET, FIXTURES, MASTER_KEY
from tests.support.gateway_processes import gateway_processes

CACHE_CONFIG_KEY = "config/response-cache.yaml"
TTL = 30


def _prompt(tag: str) -> list[dict]:
    return [{"role": "user", "content": f"{tag} {uuid.uuid4().hex}"}]


def _asked(upstream, messages: list[dict]) -> int:
    """How often the provider was asked for exactly these messages."""
    return sum(1 for request in upstream.calls() if request["body"].get("messages") == messages)


def _config() -> bytes:
    config = yaml.safe_load((FIXTURES / "gateway.yaml").read_text())
    config["litellm_settings"].update(cache=True, cache_params={"type": "dynamodb", "ttl": TTL, "namespace": "tests"})
    return yaml.safe_dump(config).encode()


@pytest.fixture(scope="module")
def instances(stack, moto_server, upstream):
    """Two gateway processes on the cache config, ready before the tests start."""
    import boto3

    boto3.client("s3", endpoint_url=moto_server.endpoint).put_object(Bucket=BUCKET, Key=CACHE_CONFIG_KEY,
                                                                      Body=_config())
    with gateway_processes({**os.environ, "CONFIG_S3_KEY": CACHE_CONFIG_KEY}, 2, ready_seconds=120) as urls:
        yield urls


@pytest.fixture(scope="module")
def sdk(instances):
    """``sdk(i, key)``: an openai client on instance ``i`` (master key by default)."""
    def make(index: int = 0, key: str = MASTER_KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=instances[index] + "/v1", api_key=key, max_retries=0, timeout=20)
    return make


def _chat(client: openai.OpenAI, messages: list[dict], model: str = "fake", **extra):
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, **extra)
    return raw.parse(), raw.headers


def _logs(url: str, key: str) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        logs = httpx.get(url + "/spend/logs", params={"api_key": key},
                         headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()
        if len(logs) >= 2 or time.monotonic() > deadline:
            return logs
        time.sleep(0.2)


def test_a_repeat_is_answered_from_the_cache_that_both_instances_share(sdk, upstream):
    messages = _prompt("shared")
    first, first_headers = _chat(sdk(0), messages)
    second, second_headers = _chat(sdk(1), messages)  # the other instance
    assert first_headers["x-gateway-cache"] == "miss" and second_headers["x-gateway-cache"] == "hit"
    assert _asked(upstream, messages) == 1
    assert second.model_dump() == first.model_dump()
    key = second_headers["x-litellm-cache-key"]
    assert key == first_headers["x-litellm-cache-key"] and len(key) == 64 and int(key, 16) >= 0
    assert MASTER_KEY not in key and second_headers["x-gateway-model"] == "fake"


def test_a_hit_costs_nothing_and_its_spend_log_says_so(instances, sdk):
    key = generate_key(instances[0], models=["fake"], max_budget=1)
    messages = _prompt("billing")
    _, miss = _chat(sdk(0, key), messages)
    spent = key_spend(instances[0], key)
    _, hit = _chat(sdk(1, key), messages)
    assert spent > 0 and key_spend(instances[0], key) == pytest.approx(spent)
    assert float(hit["x-litellm-response-cost"]) == 0 and float(miss["x-litellm-response-cost"]) > 0
    logs = sorted(_logs(instances[0], key), key=lambda log: log["cache_hit"])
    assert [log["cache_hit"] for log in logs] == [False, True]
    assert float(logs[1]["spend"]) == 0 and float(logs[0]["spend"]) == pytest.approx(spent)
    assert logs[1]["model"] == "fake" and logs[1]["status"] == "success"


def test_no_cache_asks_the_provider_and_still_stores(sdk, upstream):
    messages = _prompt("no-cache")
    _chat(sdk(0), messages)
    _, headers = _chat(sdk(0), messages, extra_body={"cache": {"no-cache": True}})
    assert headers["x-gateway-cache"] == "miss" and _asked(upstream, messages) == 2
    assert _chat(sdk(1), messages)[1]["x-gateway-cache"] == "hit"


def test_no_store_keeps_the_answer_out_of_the_cache(sdk, upstream):
    messages = _prompt("no-store")
    _chat(sdk(0), messages, extra_body={"cache": {"no-store": True}})
    _, headers = _chat(sdk(1), messages)
    assert headers["x-gateway-cache"] == "miss" and _asked(upstream, messages) == 2


def test_an_entry_expires_after_its_ttl(sdk, upstream):
    messages = _prompt("ttl")
    _chat(sdk(0), messages, extra_body={"cache": {"ttl": 1}})
    assert _chat(sdk(1), messages)[1]["x-gateway-cache"] == "hit"
    time.sleep(1.5)  # DynamoDB's TTL deletes lazily (moto: never); the read checks the expiry itself
    assert _chat(sdk(1), messages)[1]["x-gateway-cache"] == "miss" and _asked(upstream, messages) == 2


def test_s_maxage_refuses_an_entry_older_than_asked(sdk, upstream):
    messages = _prompt("s-maxage")
    _chat(sdk(0), messages)
    time.sleep(1.5)
    assert _chat(sdk(1), messages, extra_body={"cache": {"s-maxage": 60}})[1]["x-gateway-cache"] == "hit"
    assert _chat(sdk(1), messages, extra_body={"cache": {"s-maxage": 1}})[1]["x-gateway-cache"] == "miss"
    assert _asked(upstream, messages) == 2


def test_a_caller_ttl_never_outlives_the_config():
    from gateway.config.schema import CacheParams
    from gateway.response_cache.policy import CacheControl, plan
    from gateway.response_cache.settings import CacheSettings

    settings = CacheSettings(ttl=TTL, namespace="", opt_in=False, kinds=frozenset({"chat"}),
                             max_item_bytes=CacheParams().max_item_bytes)
    assert plan(settings, CacheControl.model_validate({"ttl": 10 * TTL})).ttl == TTL
    assert plan(settings, CacheControl.model_validate({"ttl": 5})).ttl == 5


def test_what_determines_the_answer_makes_the_entry(sdk, upstream):
    messages = _prompt("params")
    _chat(sdk(0), messages, temperature=0)
    assert _chat(sdk(1), messages, temperature=1)[1]["x-gateway-cache"] == "miss"  # another parameter
    assert _chat(sdk(1), messages, model="mock")[1]["x-gateway-cache"] == "miss"  # another group
    assert _chat(sdk(1), messages, temperature=0, extra_body={"cache": {"namespace": "eval"}}
                 )[1]["x-gateway-cache"] == "miss"  # the caller's own sub-namespace
    # the alias resolves to the same group: the same entry, whatever the caller spelt
    assert _chat(sdk(1), messages, model="fake-alias", temperature=0)[1]["x-gateway-cache"] == "hit"
    assert _asked(upstream, messages) == 3


def test_a_key_without_access_to_the_group_never_gets_its_cached_answer(instances, sdk):
    messages = _prompt("access")
    _chat(sdk(0), messages)
    outsider = generate_key(instances[0], models=["mock"], max_budget=1)
    for model in ("fake", "fake-alias"):
        with pytest.raises(openai.PermissionDeniedError):
            _chat(sdk(1, outsider), messages, model=model)
    assert _logs(instances[0], outsider) == []


def test_the_cache_field_never_reaches_the_provider_and_is_checked(sdk, upstream):
    messages = _prompt("field")
    _chat(sdk(0), messages, extra_body={"cache": {"ttl": 5, "namespace": "n1"}})
    sent = [r["body"] for r in upstream.calls() if r["body"].get("messages") == messages]
    assert sent and all("cache" not in body for body in sent)
    with pytest.raises(openai.BadRequestError) as refused:
        _chat(sdk(0), messages, extra_body={"cache": {"cache_key": "someone-elses"}})
    assert refused.value.body["param"].startswith("cache")
    with pytest.raises(openai.BadRequestError):
        _chat(sdk(0), messages, extra_body={"cache": {"ttl": -1}})


def test_embeddings_and_text_completions_are_cached_too(sdk, upstream):
    text = f"embed {uuid.uuid4().hex}"
    first = sdk(0).embeddings.with_raw_response.create(model="fake-embedding", input=text)
    second = sdk(1).embeddings.with_raw_response.create(model="fake-embedding", input=text)
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert sum(1 for r in upstream.calls() if r["body"].get("input") in (text, [text])) == 1
    prompt = f"complete {uuid.uuid4().hex}"
    for index, expected in ((0, "miss"), (1, "hit")):
        raw = sdk(index).completions.with_raw_response.create(model="fake", prompt=prompt)
        assert raw.headers["x-gateway-cache"] == expected


def test_a_stream_replays_a_hit_and_stores_nothing_itself(sdk, upstream):
    messages = _prompt("stream")
    with sdk(0).chat.completions.with_streaming_response.create(model="fake", messages=messages, stream=True) as raw:
        assert raw.headers["x-gateway-cache"] == "miss"
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    assert _chat(sdk(1), messages)[1]["x-gateway-cache"] == "miss"  # the stream stored nothing
    stored, _ = _chat(sdk(0), messages)
    assert _asked(upstream, messages) == 2
    with sdk(1).chat.completions.with_streaming_response.create(model="fake", messages=messages, stream=True,
                                                                 stream_options={"include_usage": True}) as raw:
        assert raw.headers["x-gateway-cache"] == "hit"
        chunks = list(raw.parse())
    assert _asked(upstream, messages) == 2 and streamed
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == stored.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == stored.usage.completion_tokens and chunks[0].id == stored.id


def test_a_hit_replays_tool_calls_and_text_completions_as_streams(sdk, upstream):
    messages = _prompt("tools")
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    stored, _ = _chat(sdk(0), messages, tools=tools)
    chunks = list(sdk(1).chat.completions.create(model="fake", messages=messages, tools=tools, stream=True))
    calls = [call for c in chunks if c.choices for call in (c.choices[0].delta.tool_calls or [])]
    assert [(call.function.name, call.function.arguments) for call in calls] == [
        (call.function.name, call.function.arguments) for call in stored.choices[0].message.tool_calls]
    assert _asked(upstream, messages) == 1
    prompt = f"stream text {uuid.uuid4().hex}"
    text = sdk(0).completions.create(model="fake", prompt=prompt).choices[0].text
    replayed = list(sdk(1).completions.create(model="fake", prompt=prompt, stream=True))
    assert "".join(c.choices[0].text for c in replayed if c.choices) == text
    assert sum(1 for r in upstream.calls() if r["body"].get("prompt") in (prompt, [prompt])) == 1


def test_a_semantic_cache_type_is_refused_with_a_clear_config_error():
    from gateway.config.errors import ConfigError
    from gateway.config.parse import parse_config

    config = _config().replace(b"type: dynamodb", b"type: redis-semantic")
    with pytest.raises(ConfigError, match="semantic caching"):
        parse_config(config, env={"FAKE_UPSTREAM_URL": "http://127.0.0.1:1/v1"})


def test_default_off_needs_use_cache_and_call_types_pick_the_kinds():
    from gateway.config.parse import parse_config
    from gateway.response_cache.policy import CacheControl, plan
    from gateway.response_cache.settings import from_config

    config = _config().replace(b"type: dynamodb", b"type: dynamodb\n    mode: default_off\n"
                               b"    supported_call_types: [aembedding]")
    settings = from_config(parse_config(config, env={"FAKE_UPSTREAM_URL": "http://127.0.0.1:1/v1"}).config)
    assert settings is not None and settings.kinds == frozenset({"embedding"})
    assert plan(settings, None) is None
    assert plan(settings, CacheControl.model_validate({"use-cache": True})) is not None
