"""A ``guardrails:`` block is refused at load, never served unchecked (``gateway.config.unserved``).

litellm's guardrails (``guardrail: bedrock``, ``mode: pre_call`` / ``post_call``) are proxy hooks the
Router never calls; the gateway does not run them, so a config that names them is refused: at cold
start there is no config (503 with the reason), on reload the last good one keeps serving and
``/_health/ready`` says why.
"""
from __future__ import annotations

import boto3
import httpx
import pytest
import yaml

from gateway.config.errors import ConfigError
from gateway.config.parse import parse_config
from gateway.config.unserved import GUARDRAILS_REFUSED
from gateway.runtime import build_engine
from tests.conftest import BUCKET, CONFIG_KEY, FIXTURES, MASTER_KEY

BEDROCK_GUARDRAILS = [
    {"guardrail_name": "bedrock-pre", "litellm_params": {"guardrail": "bedrock", "mode": "pre_call",
                                                         "guardrailIdentifier": "gr-1", "guardrailVersion": "1"}},
    {"guardrail_name": "bedrock-post", "litellm_params": {"guardrail": "bedrock", "mode": "post_call",
                                                          "guardrailIdentifier": "gr-1", "guardrailVersion": "1"}},
]
MINIMAL = {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/mock", "api_key": "x"}}]}
HEADERS = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.mark.parametrize("block", [BEDROCK_GUARDRAILS, BEDROCK_GUARDRAILS[:1], {"guardrail_name": "x"}])
def test_a_guardrails_block_refuses_the_config(block):
    with pytest.raises(ConfigError) as refused:
        build_engine(parse_config(yaml.safe_dump({**MINIMAL, "guardrails": block})))
    assert str(refused.value) == GUARDRAILS_REFUSED
    assert str(refused.value).startswith("guardrails:") and "unchecked" in str(refused.value)


@pytest.mark.parametrize("block", [None, []])
def test_an_empty_guardrails_block_asks_for_nothing(block):
    assert build_engine(parse_config(yaml.safe_dump({**MINIMAL, "guardrails": block}))).provider_router


def test_on_reload_the_last_good_config_keeps_serving_and_readiness_says_why(stack, http_server, moto_server):
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    original = (FIXTURES / "gateway.yaml").read_text()
    document = yaml.safe_load(original)
    document["guardrails"] = BEDROCK_GUARDRAILS
    document["model_list"].insert(0, {"model_name": "only-in-the-guarded-config",
                                      "litellm_params": {"model": "openai/mock", "api_key": "x"}})
    try:
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=yaml.safe_dump(document).encode())
        stack.config.force_check()
        models = httpx.get(http_server + "/v1/models", headers=HEADERS, timeout=10)
        assert models.status_code == 200
        assert "only-in-the-guarded-config" not in [m["id"] for m in models.json()["data"]]  # the old config
        answer = httpx.post(http_server + "/v1/chat/completions", headers=HEADERS, timeout=10,
                            json={"model": "fake", "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200, answer.text
        ready = httpx.get(http_server + "/_health/ready", timeout=10).json()
        assert ready["checks"]["config"]["error"] == GUARDRAILS_REFUSED
        assert ready["checks"]["config"]["ok"] is True
    finally:
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=original.encode())
        stack.config.load()  # the serving version again: load it so the refusal is no longer the last error
    assert stack.config.status()["error"] is None


def test_at_cold_start_a_guarded_config_is_a_503_that_says_why(tmp_path, monkeypatch):
    from gateway.config.store import ConfigStore
    from gateway.config.source import FileSource

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "guardrails": BEDROCK_GUARDRAILS}))
    store = ConfigStore(FileSource(str(path)), build_engine, hot_reload=False, interval=60)
    assert store.load() is False and store.current is None
    assert store.status()["error"] == GUARDRAILS_REFUSED
