"""Parsing and validating LiteLLM-format config documents."""
from __future__ import annotations

import pytest

from gateway.config import ConfigError
from gateway.config.parse import parse_config

BASE = """
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/TEST_OPENAI_KEY
    model_info:
      input_cost_per_token: 0.00000015
router_settings:
  routing_strategy: least-busy
  num_retries: 3
  timeout: 30
  fallbacks: [{gpt: [other]}]
  context_window_fallbacks: [{gpt: [big]}]
  allowed_fails: 2
  cooldown_time: 10
litellm_settings:
  drop_params: true
general_settings:
  master_key: os.environ/TEST_MASTER
"""


def test_env_references_are_resolved():
    parsed = parse_config(BASE, env={"TEST_OPENAI_KEY": "sk-abc", "TEST_MASTER": "sk-m"})
    config = parsed.config
    assert config.model_list[0].litellm_params.api_key == "sk-abc"
    assert config.general_settings.master_key == "sk-m"
    assert config.router_settings.routing_strategy == "least-busy"
    assert config.router_settings.fallbacks == [{"gpt": ["other"]}]
    assert config.router_settings.cooldown_time == 10
    assert config.model_list[0].model_info.input_cost_per_token == pytest.approx(1.5e-7)


def test_missing_env_variable_names_it_and_where():
    with pytest.raises(ConfigError, match=r"model_list\[0\]\.litellm_params\.api_key: environment variable TEST_OPENAI_KEY is not set"):
        parse_config(BASE, env={"TEST_MASTER": "x"})


def test_missing_env_variable_outside_model_list():
    with pytest.raises(ConfigError, match="TEST_MASTER"):
        parse_config(BASE, env={"TEST_OPENAI_KEY": "x"})


def test_optional_deployment_is_skipped_not_fatal():
    doc = """
model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/NOT_SET_ANYWHERE}
    model_info: {optional: true}
  - model_name: local
    litellm_params: {model: openai/mock, mock_response: hi}
"""
    parsed = parse_config(doc, env={})
    assert parsed.config.model_names() == ["local"]
    assert parsed.skipped == ["gpt: NOT_SET_ANYWHERE not set"]


def test_bad_yaml_gives_line():
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        parse_config("model_list:\n  - model_name: [unclosed\n", env={})


def test_wrong_field_type():
    doc = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\nrouter_settings:\n  num_retries: many\n"
    with pytest.raises(ConfigError, match="router_settings.num_retries"):
        parse_config(doc, env={})


def test_unknown_routing_strategy():
    doc = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\nrouter_settings:\n  routing_strategy: telepathy\n"
    with pytest.raises(ConfigError, match="routing_strategy"):
        parse_config(doc, env={})


@pytest.mark.parametrize("doc", ["", "just a string", "model_list: []", "model_list:\n  - litellm_params: {model: x}\n"])
def test_structurally_wrong_documents(doc):
    with pytest.raises(ConfigError):
        parse_config(doc, env={})


def test_unknown_litellm_fields_are_kept():
    doc = "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, extra_headers: {x-a: b}}\n"
    parsed = parse_config(doc, env={})
    assert parsed.config.model_list[0].litellm_params.model_dump()["extra_headers"] == {"x-a": "b"}


def test_shipped_configs_parse():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "config").glob("*.yaml")):
        parse_config(path.read_text(), env={"FAKE_UPSTREAM_URL": "http://127.0.0.1:1"})
