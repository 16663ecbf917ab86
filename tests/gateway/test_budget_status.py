"""A budget refusal's status is LiteLLM's: 422 in litellm 1.106.2 (``litellm.budget_exceeded_status_code``),
which the OpenAI and Anthropic SDKs do not retry; ``litellm_settings.budget_exceeded_status_code``
sets it, as on LiteLLM's proxy, within 4xx."""
from __future__ import annotations

import litellm
import pytest

from gateway.config.errors import ConfigError
from gateway.config.parse import parse_config
from gateway.keys import errors as kerr
from gateway.providers import build_provider_router

CONFIG = """
model_list:
  - model_name: m
    litellm_params: {model: openai/mock, api_key: x, mock_response: "ok"}
litellm_settings:
  budget_exceeded_status_code: %s
"""


def test_litellm_s_default_is_422():
    assert litellm.budget_exceeded_status_code == 422  # the installed release's default
    assert kerr.budget_exceeded("this key", "1", "1", {}).status_code == 422


def test_the_config_sets_it(monkeypatch):
    monkeypatch.setattr(litellm, "budget_exceeded_status_code", litellm.budget_exceeded_status_code)
    build_provider_router(parse_config((CONFIG % 429).encode()))
    assert kerr.budget_exceeded("this key", "1", "1", {}).status_code == 429


@pytest.mark.parametrize("value", ["200", "503", '"x"'])
def test_a_status_outside_4xx_is_a_config_error(value):
    with pytest.raises(ConfigError):
        parse_config((CONFIG % value).encode())
