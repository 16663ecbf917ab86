"""Bad requests get OpenAI-shaped 4xx errors, never tracebacks."""
from __future__ import annotations

import httpx

from tests.conftest import MASTER_KEY

AUTH = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}


def _assert_openai_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    assert "Traceback" not in resp.text
    return body["error"]


def test_bad_json(http_server):
    err = _assert_openai_error(httpx.post(http_server + "/v1/chat/completions", headers=AUTH, content=b"{nope"), 400)
    assert err["code"] == "invalid_json"


def test_json_not_an_object(http_server):
    _assert_openai_error(httpx.post(http_server + "/v1/chat/completions", headers=AUTH, content=b"[1,2]"), 400)


def test_empty_body(http_server):
    _assert_openai_error(httpx.post(http_server + "/v1/chat/completions", headers=AUTH, content=b""), 400)


def test_empty_messages(http_server):
    err = _assert_openai_error(
        httpx.post(http_server + "/v1/chat/completions", headers=AUTH, json={"model": "fake", "messages": []}), 400)
    assert err["param"] == "messages"


def test_missing_model(http_server):
    err = _assert_openai_error(
        httpx.post(http_server + "/v1/chat/completions", headers=AUTH, json={"messages": [{"role": "user", "content": "x"}]}), 400)
    assert err["param"] == "model"


def test_embeddings_missing_input(http_server):
    err = _assert_openai_error(httpx.post(http_server + "/v1/embeddings", headers=AUTH, json={"model": "fake-embedding"}), 400)
    assert err["param"] == "input"


def test_body_too_large_by_content_length(http_server):
    big = b'{"model": "fake", "messages": [{"role": "user", "content": "' + b"x" * (300 * 1024) + b'"}]}'
    err = _assert_openai_error(httpx.post(http_server + "/v1/chat/completions", headers=AUTH, content=big), 413)
    assert err["code"] == "request_too_large"


def test_missing_key(http_server):
    err = _assert_openai_error(httpx.get(http_server + "/v1/models"), 401)
    assert err["type"] == "authentication_error"


def test_non_bearer_scheme(http_server):
    _assert_openai_error(httpx.get(http_server + "/v1/models", headers={"authorization": f"Basic {MASTER_KEY}"}), 401)


def test_unknown_path(http_server):
    _assert_openai_error(httpx.get(http_server + "/v1/nothing-here", headers=AUTH), 404)


def test_wrong_method(http_server):
    _assert_openai_error(httpx.get(http_server + "/v1/chat/completions", headers=AUTH), 405)
