"""Fixtures for the Anthropic Messages API: the official ``anthropic`` SDK against the gateway."""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import MASTER_KEY

CLAUDE = "claude-sonnet-4-5-20250929"


def generate_key(http_server: str, **body) -> str:
    response = httpx.post(http_server + "/key/generate", headers={"authorization": f"Bearer {MASTER_KEY}"},
                          json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def key_spend(http_server: str, key: str) -> float:
    info = httpx.get(http_server + "/key/info", params={"key": key},
                     headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert info.status_code == 200, info.text
    return float(info.json()["info"]["spend"])


@pytest.fixture()
def claude(http_server):
    """The SDK with the master key in ``x-api-key`` (what ``ANTHROPIC_API_KEY`` sends)."""
    import anthropic

    return anthropic.Anthropic(base_url=http_server, api_key=MASTER_KEY, max_retries=0, timeout=20)
