"""Odd or hostile Messages bodies get a 4xx in Anthropic's shape, never a 500; routing and aliases
work on this route as on chat."""
from __future__ import annotations

import httpx
import pytest

from tests.anthropic.conftest import CLAUDE
from tests.conftest import MASTER_KEY

HEADERS = {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"}
USER = [{"role": "user", "content": "hello"}]

MESSAGES_ONLY = [  # count_tokens takes no max_tokens or stream (dropped there, as unknown fields are)
    {"model": CLAUDE, "max_tokens": 0, "messages": USER},
    {"model": CLAUDE, "max_tokens": "many", "messages": USER},
    {"model": CLAUDE, "messages": USER},
]
ODD_BODIES = [
    {"model": CLAUDE, "max_tokens": 8, "messages": []},
    {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "system", "content": "x"}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "user"}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "image"}]}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": [{"role": "user", "content": [{"no_type": 1}]}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": USER, "system": 5},
    {"model": CLAUDE, "max_tokens": 8, "messages": USER, "tools": [{"description": "no name"}]},
    {"model": CLAUDE, "max_tokens": 8, "messages": USER, "tool_choice": "auto"},
    {"model": CLAUDE, "max_tokens": 8, "messages": USER, "metadata": {"api_base": "http://evil"}},
    {"model": CLAUDE, "max_tokens": 8, "messages": USER, "mcp_servers": []},
    {"model": "", "max_tokens": 8, "messages": USER},
    [1, 2, 3],
]


CASES = [(body, ("/v1/messages", "/v1/messages/count_tokens")) for body in ODD_BODIES] + \
        [(body, ("/v1/messages",)) for body in MESSAGES_ONLY]


@pytest.mark.parametrize(("body", "paths"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_odd_bodies_are_client_errors(http_server, body, paths):
    for path in paths:
        response = httpx.post(http_server + path, headers=HEADERS, json=body, timeout=10)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        data = response.json()
        assert data["type"] == "error" and data["error"]["type"] in {"invalid_request_error", "not_found_error"}
        assert "Traceback" not in response.text


def test_not_json_is_an_anthropic_400(http_server):
    response = httpx.post(http_server + "/v1/messages", headers=HEADERS, content=b"{not json", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_path_under_messages_is_an_anthropic_404(http_server):
    response = httpx.get(http_server + "/v1/messages/batches", headers=HEADERS, timeout=10)
    assert response.status_code in (404, 405) and response.json()["type"] == "error"


def test_router_and_alias_on_messages(http_server):
    routed = httpx.post(http_server + "/v1/messages", headers=HEADERS, timeout=10,
                        json={"model": "auto", "max_tokens": 8, "messages": USER})
    assert routed.status_code == 200, routed.text
    assert routed.headers["x-gateway-router"] != "direct"
    assert routed.headers["x-gateway-model"] in {"fake", "mock"}
    assert routed.json()["model"] == "auto" and routed.json()["content"][0]["type"] == "text"
    aliased = httpx.post(http_server + "/messages", headers=HEADERS, timeout=10,  # also without /v1
                         json={"model": "fake-alias", "max_tokens": 8, "messages": USER})
    assert aliased.status_code == 200 and aliased.headers["x-gateway-model"] == "fake"
