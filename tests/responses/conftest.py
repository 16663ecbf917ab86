"""Fixtures for the Responses API: the official ``openai`` SDK against the gateway over HTTP."""
from __future__ import annotations

import pytest

from tests.anthropic.conftest import generate_key

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture()
def client_for(base_url):
    """An SDK client for a token (a virtual key, or the master key)."""
    from openai import OpenAI

    def make(token: str) -> OpenAI:
        return OpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=20)

    return make


@pytest.fixture()
def virtual_key(http_server) -> str:
    return generate_key(http_server, models=["fake", "claude-sonnet-4-5-20250929", "auto", "fake-stream-cut"],
                        max_budget=10)
