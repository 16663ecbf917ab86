"""No config key is ignored silently: a LiteLLM config's blocks the gateway does not serve are
named in one warning at load and in ``/_health/ready`` (``checks.config.ignored``)."""
from __future__ import annotations

import logging

import httpx

from gateway.config.parse import parse_config
from gateway.runtime import build_engine
from tests.conftest import MASTER_KEY

LITELLM_CONFIG = b"""
model_list:
  - model_name: m
    litellm_params: {model: openai/mock, api_key: x, mock_response: "ok"}
vector_store_registry: []
litellm_settings:
  drop_params: true
  cache: true
  cache_params: {type: redis, host: redis.example, ttl: 60}
general_settings:
  database_url: postgresql://example
  allow_client_side_credentials: false
router_settings:
  routing_strategy: simple-shuffle
  redis_host: redis.example
  made_up_setting: 1
"""


def test_every_unhonoured_key_is_named_in_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="gateway.runtime"):
        engine = build_engine(parse_config(LITELLM_CONFIG))
    # cache is served (gateway.response_cache, on DynamoDB): only the redis backend's own settings are not
    expected = ["general_settings.database_url", "litellm_settings.cache_params.host",
                "litellm_settings.cache_params.type", "router_settings.made_up_setting", "vector_store_registry"]
    assert list(engine.ignored) == expected  # redis_host is litellm Router's own argument: passed on
    warnings = [r.getMessage() for r in caplog.records if "not honoured" in r.getMessage()]
    assert len(warnings) == 1 and all(name in warnings[0] for name in expected)


def test_cache_params_without_cache_on_are_named():
    text = (b"model_list:\n  - model_name: m\n    litellm_params: {model: openai/mock, api_key: x}\n"
            b"litellm_settings:\n  cache_params: {ttl: 60}\n")
    assert build_engine(parse_config(text)).ignored == ("litellm_settings.cache_params",)


def test_a_clean_config_warns_about_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="gateway.runtime"):
        engine = build_engine(parse_config(b"model_list:\n  - model_name: m\n    litellm_params: {model: openai/mock, api_key: x}\n"))
    assert engine.ignored == () and not [r for r in caplog.records if "not honoured" in r.getMessage()]


def test_readiness_shows_them(http_server):
    body = httpx.get(http_server + "/_health/ready", timeout=10).json()
    assert body["checks"]["config"]["ignored"] == []  # the test config uses only what the gateway serves
    assert MASTER_KEY not in str(body)
