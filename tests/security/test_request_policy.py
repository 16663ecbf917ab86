"""The request-body policy, attacked over HTTP as a caller would.

A capture server on 127.0.0.1 plays the caller's own host; the ``canary*`` deployments hold canary
secrets (tests/fixtures/gateway.yaml). Every refused parameter, at the top level and nested, on
chat, streaming chat, completions and embeddings, with a virtual key and with the master key, gets
a 400 ``forbidden_param`` naming it, and no provider call is made at all: neither the capture
server nor the real (fake) upstream sees a request.
"""
from __future__ import annotations

import httpx
import pytest

from tests.conftest import MASTER_KEY
from tests.support.upstream import COMPLETION_TOKENS, PROMPT_TOKENS, FakeUpstream

USER = [{"role": "user", "content": "hello"}]
GRANTED = ["canary", "canary-anthropic", "canary-embedding", "byo", "fake", "mock"]


@pytest.fixture(scope="module")
def capture():
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def virtual_key(http_server) -> str:
    response = httpx.post(http_server + "/key/generate", headers=_auth(MASTER_KEY),
                          json={"models": GRANTED, "max_budget": 10, "key_alias": "policy-test"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _refused_cases(url: str) -> list[tuple[dict, str]]:
    """(body fragment, the param the 400 must name)."""
    top = {
        "api_base": url, "base_url": url, "api_key": "sk-attacker", "api_version": "2099-01-01",
        "custom_llm_provider": "openai", "input_cost_per_token": 0, "output_cost_per_token": 0,
        "cache_read_input_token_cost": 0, "mock_response": "fake answer", "model_list": [{"model_name": "x"}],
        "user_config": {"model_list": []}, "litellm_params": {"api_base": url}, "success_callback": ["langfuse"],
        "callbacks": ["s3"], "langfuse_host": url, "langfuse_secret_key": "x", "headers": {"authorization": "x"},
        "extra_headers": {"x": "y"}, "aws_bedrock_runtime_endpoint": url, "aws_access_key_id": "AKIA",
        "aws_region_name": "eu-west-1", "vertex_credentials": "{}", "azure_ad_token": "x", "num_retries": 50,
        "max_retries": 50, "timeout": 900, "context_window_fallbacks": [{"canary": ["fake"]}], "litellm_metadata": {},
        "_skip_mcp_handler": True, "organization": "org-attacker", "guardrails": ["x"],
    }
    cases = [({name: value}, name) for name, value in top.items()]
    cases += [
        ({"metadata": {"api_base": url}}, "metadata.api_base"),
        ({"metadata": {"litellm_params": {"api_base": url}}}, "metadata.litellm_params"),
        ({"metadata": {"tags": ["ok"], "deep": [{"langfuse_host": url}]}}, "metadata.deep[0].langfuse_host"),
        ({"metadata": {"model_info": {"input_cost_per_token": 0}}}, "metadata.model_info"),
        ({"extra_body": {"api_base": url}}, "extra_body.api_base"),
        ({"extra_body": {"input_cost_per_token": 0}}, "extra_body.input_cost_per_token"),
        ({"extra_body": {"mock_response": "x"}}, "extra_body.mock_response"),
        ({"fallbacks": [{"model": "fake", "api_base": url}]}, "fallbacks[0]"),
    ]
    return cases


ENDPOINTS = {
    "chat": ("/v1/chat/completions", {"model": "canary", "messages": USER}),
    "chat-anthropic": ("/v1/chat/completions", {"model": "canary-anthropic", "messages": USER, "max_tokens": 8}),
    "stream": ("/v1/chat/completions", {"model": "canary", "messages": USER, "stream": True}),
    "completions": ("/v1/completions", {"model": "canary", "prompt": "hello"}),
    "embeddings": ("/v1/embeddings", {"model": "canary-embedding", "input": "hello"}),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("who", ["virtual", "master"])
def test_every_refused_param_is_a_400_and_nothing_is_called(http_server, upstream, capture, virtual_key,
                                                           endpoint, who):
    key = virtual_key if who == "virtual" else MASTER_KEY
    path, base = ENDPOINTS[endpoint]
    seen_before = len(upstream.requests)
    with httpx.Client(base_url=http_server, headers=_auth(key), timeout=10) as client:
        for fragment, param in _refused_cases(capture.url):
            response = client.post(path, json={**base, **fragment})
            assert response.status_code == 400, (fragment, response.text)
            error = response.json()["error"]
            assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "forbidden_param", param)
            assert "Traceback" not in response.text
    assert capture.requests == []
    assert len(upstream.requests) == seen_before
    if endpoint != "chat-anthropic":  # the control: the same request without the fragment is served
        ok = httpx.post(http_server + path, headers=_auth(key), json=base, timeout=10)
        assert ok.status_code == 200, ok.text
        assert upstream.requests[-1]["authorization"] == "Bearer sk-canary-openai-secret"


def test_unknown_params_are_dropped_and_named(http_server, upstream):
    body = {"model": "canary", "messages": USER, "top_k": 5, "some_future_field": 1,
            "extra_body": {"repetition_penalty": 1.1, "another_unknown": True}}
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(MASTER_KEY), json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-dropped-params"] == "some_future_field,extra_body.another_unknown"
    sent = upstream.requests[-1]["body"]
    assert "some_future_field" not in sent and "another_unknown" not in sent
    assert sent.get("top_k") == 5 or "top_k" not in sent  # litellm passes or drops it for the provider


def _spend(http_server: str, key: str) -> float:
    info = httpx.get(http_server + "/key/info", params={"key": key}, headers=_auth(MASTER_KEY), timeout=10)
    assert info.status_code == 200, info.text
    return float(info.json()["info"]["spend"])


def test_price_fields_leave_the_charge_at_the_configs_price(http_server, virtual_key):
    before = _spend(http_server, virtual_key)
    for fragment in ({"input_cost_per_token": 0, "output_cost_per_token": 0},
                     {"extra_body": {"input_cost_per_token": 0}}, {"metadata": {"output_cost_per_token": 0}}):
        refused = httpx.post(http_server + "/v1/chat/completions", headers=_auth(virtual_key), timeout=10,
                             json={"model": "canary", "messages": USER, **fragment})
        assert refused.status_code == 400
    assert _spend(http_server, virtual_key) == pytest.approx(before)
    served = httpx.post(http_server + "/v1/chat/completions", headers=_auth(virtual_key), timeout=10,
                        json={"model": "canary", "messages": USER})
    assert served.status_code == 200, served.text
    price = PROMPT_TOKENS * 0.000001 + COMPLETION_TOKENS * 0.000002  # canary's model_info
    assert _spend(http_server, virtual_key) - before == pytest.approx(price, rel=1e-6)


# -- the admin's opt-in ------------------------------------------------------------------------------
def _localhost(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


@pytest.mark.parametrize("name", ["api_base", "base_url"])  # base_url: the OpenAI SDK's name for it
def test_opted_in_endpoint_works_with_the_callers_own_key(http_server, capture, virtual_key, name):
    capture.reset()
    body = {"model": "byo", "messages": USER, name: _localhost(capture.url), "api_key": "sk-caller-own"}
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(virtual_key), json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert [r["authorization"] for r in capture.requests] == ["Bearer sk-caller-own"]
    capture.reset()


@pytest.mark.parametrize("fragment, param", [
    ({"api_base": "CAPTURE", "api_key": "sk-caller-own"}, "api_base"),  # 127.0.0.1 is not in the list
    ({"api_base": "http://localhost:1/v1.evil.example/v1", "api_key": "sk-caller-own"}, "api_base"),
    ({"api_base": "LOCALHOST"}, "api_key"),  # allowed host, but the deployment's key would go there
    ({"api_base": "LOCALHOST", "api_version": "x", "api_key": "sk-caller-own"}, "api_version"),  # not opted in
])
def test_opt_in_limits(http_server, capture, upstream, fragment, param):
    fragment = {k: {"CAPTURE": capture.url, "LOCALHOST": _localhost(capture.url)}.get(v, v) for k, v in fragment.items()}
    seen_before = len(upstream.requests)
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(MASTER_KEY), timeout=10,
                          json={"model": "byo", "messages": USER, **fragment})
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("forbidden_param", param)
    assert capture.requests == [] and len(upstream.requests) == seen_before


def test_callers_key_alone_on_an_opted_in_deployment(http_server, upstream):
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(MASTER_KEY), timeout=10,
                          json={"model": "byo", "messages": USER, "api_key": "sk-caller-own"})
    assert response.status_code == 200, response.text
    assert upstream.requests[-1]["authorization"] == "Bearer sk-caller-own"
    refused = httpx.post(http_server + "/v1/chat/completions", headers=_auth(MASTER_KEY), timeout=10,
                         json={"model": "canary", "messages": USER, "api_key": "sk-caller-own"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "api_key"


def test_proxy_wide_opt_in():
    """``general_settings.allow_client_side_credentials``: any deployment, still never the deployment's key."""
    from gateway import errors
    from gateway.request_policy import ClientAuth, authorize_client_auth

    auth = ClientAuth({"api_base": ("api_base", "https://llm.example.com/v1"), "api_key": ("api_key", "sk-own")})
    assert authorize_client_auth(auth, [None], allow_all=True) == {"api_base": "https://llm.example.com/v1",
                                                                  "api_key": "sk-own"}
    with pytest.raises(errors.GatewayError) as refused:
        authorize_client_auth(auth, [None], allow_all=False)
    assert refused.value.param == "api_base"
    with pytest.raises(errors.GatewayError) as keyless:
        authorize_client_auth(ClientAuth({"api_base": ("api_base", "https://llm.example.com/v1")}), [None], allow_all=True)
    assert keyless.value.param == "api_key"


# -- fallbacks stay inside the key's grant ---------------------------------------------------------------
def _key(http_server: str, models: list[str]) -> str:
    response = httpx.post(http_server + "/key/generate", headers=_auth(MASTER_KEY),
                          json={"models": models, "max_budget": 1}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def test_a_callers_fallback_outside_the_grant_is_refused(http_server, upstream):
    key = _key(http_server, ["primary"])
    seen_before = len(upstream.requests)
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(key), timeout=10,
                          json={"model": "primary", "messages": USER, "fallbacks": ["fake"]})
    assert response.status_code == 403, response.text
    assert len(upstream.requests) == seen_before  # not even the primary was called


def test_a_callers_fallback_inside_the_grant_answers(http_server, upstream):
    key = _key(http_server, ["primary", "canary"])
    response = httpx.post(http_server + "/v1/chat/completions", headers=_auth(key), timeout=10,
                          json={"model": "primary", "messages": USER, "fallbacks": ["canary"]})
    assert response.status_code == 200, response.text
    assert [r["body"]["model"] for r in upstream.requests[-2:]] == ["fake-500", "fake-ok"]


def test_the_configs_fallback_is_cut_to_the_keys_grant(http_server, upstream):
    """router_settings.fallbacks sends ``primary`` to ``fake``; a key granted only ``primary`` gets
    the primary's error, not an answer from ``fake``. The master key still falls back."""
    key = _key(http_server, ["primary"])
    limited = httpx.post(http_server + "/v1/chat/completions", headers=_auth(key), timeout=10,
                         json={"model": "primary", "messages": USER})
    assert limited.status_code == 502, limited.text
    assert upstream.requests[-1]["body"]["model"] == "fake-500"
    master = httpx.post(http_server + "/v1/chat/completions", headers=_auth(MASTER_KEY), timeout=10,
                        json={"model": "primary", "messages": USER})
    assert master.status_code == 200, master.text
    assert upstream.requests[-1]["body"]["model"] == "fake-ok"


def test_the_reservation_covers_the_dearest_group_a_fallback_may_reach(http_server, upstream):
    """``primary`` has no price (0); ``canary`` costs 2e-6 per output token. With 100 output tokens
    the worst case through the fallback (2e-4) passes a 1e-4 budget, so the request is refused
    before any call, although the primary alone would cost nothing."""
    response = httpx.post(http_server + "/key/generate", headers=_auth(MASTER_KEY), timeout=10,
                          json={"models": ["primary", "canary"], "max_budget": 0.0001})
    key = response.json()["key"]
    seen_before = len(upstream.requests)
    body = {"model": "primary", "messages": USER, "max_tokens": 100}
    refused = httpx.post(http_server + "/v1/chat/completions", headers=_auth(key), timeout=10,
                         json={**body, "fallbacks": ["canary"]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "budget_exceeded", refused.text
    assert len(upstream.requests) == seen_before
    alone = httpx.post(http_server + "/v1/chat/completions", headers=_auth(key), timeout=10, json=body)
    assert alone.status_code == 502, alone.text  # admitted; the failing primary answers for itself


def test_a_stream_is_charged_at_the_answering_groups_price_not_the_dearest_fallback(http_server):
    """litellm prices no stream; the settle uses the group that answered (``canary``), although the
    reservation covered ``canary-premium`` (ten times dearer), which never answered."""
    response = httpx.post(http_server + "/key/generate", headers=_auth(MASTER_KEY), timeout=10,
                          json={"models": ["canary", "canary-premium"], "max_budget": 5})
    key = response.json()["key"]
    with httpx.stream("POST", http_server + "/v1/chat/completions", headers=_auth(key), timeout=10,
                      json={"model": "canary", "messages": USER, "stream": True,
                            "fallbacks": ["canary-premium"]}) as streamed:
        assert streamed.status_code == 200
        assert "[DONE]" in "".join(streamed.iter_text())
    price = PROMPT_TOKENS * 0.000001 + COMPLETION_TOKENS * 0.000002  # canary's model_info
    assert _spend(http_server, key) == pytest.approx(price, rel=1e-6)
