"""A LiteLLM proxy config's model routing, served unchanged (tests/fixtures/litellm_routing.yaml):
wildcard model names, model access groups, ``model_group_alias`` in both forms, retries and
fallbacks from ``litellm_settings``, and several models in one chat call. Over HTTP with the
``openai`` SDK against the fake upstream.

The config sets litellm's module settings (``litellm_settings``), so it is served by a gateway
process of its own (the same moto server, table and fake upstream as the ``stack`` fixture); this
process keeps the session's config.
"""
from __future__ import annotations

import os
import time

import httpx
import openai
import pytest

from gateway.config.parse import parse_config
from tests.conftest import FIXTURES, MASTER_KEY
from tests.support.gateway_processes import gateway_processes

USER = [{"role": "user", "content": "hi"}]
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def gateway(stack, upstream):
    """A uvicorn process serving the routing config from a file, ready before the tests start."""
    env = dict(os.environ, LITELLM_CONFIG_PATH=str(FIXTURES / "litellm_routing.yaml"))
    for name in ("LLMROUTER_MODEL_S3_BUCKET", "LLMROUTER_MODEL_S3_KEY"):
        env.pop(name, None)
    with gateway_processes(env) as (url,):
        yield url


def _client(gateway: str, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0, timeout=30)


def _key(gateway: str, **body) -> str:
    response = httpx.post(gateway + "/key/generate", headers=ADMIN, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _key_info(gateway: str, key: str) -> dict:
    return httpx.get(gateway + "/key/info", params={"key": key}, headers=ADMIN, timeout=10).json()["info"]


def _logs(gateway: str, key: str) -> list[dict]:
    return httpx.get(gateway + "/spend/logs", params={"api_key": key}, headers=ADMIN, timeout=10).json()


def _chat(gateway: str, body: dict, key: str = MASTER_KEY) -> httpx.Response:
    return httpx.post(gateway + "/v1/chat/completions", json={"messages": USER, **body},
                      headers={"authorization": f"Bearer {key}"}, timeout=30)


# ---------------------------------------------------------------- wildcard model names
def test_a_provider_wildcard_serves_a_model_litellm_knows_under_its_own_name(gateway, upstream):
    key = _key(gateway, max_budget=1)
    upstream.reset()
    raw = _client(gateway, key).chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=USER)
    assert raw.headers["x-gateway-model"] == "openai/gpt-4o-mini"
    assert [call["body"]["model"] for call in upstream.calls()] == ["gpt-4o-mini"]  # the filled-in model
    [log] = _logs(gateway, key)
    assert log["model"] == "openai/gpt-4o-mini"
    # litellm's price for gpt-4o-mini (the fake upstream reports 11 prompt + 7 completion tokens)
    assert log["spend"] == pytest.approx(11 * 0.15e-6 + 7 * 0.6e-6)


def test_an_exact_name_wins_over_a_pattern(gateway, upstream):
    upstream.reset()
    _client(gateway).chat.completions.create(model="openai/special", messages=USER)
    assert [call["body"]["model"] for call in upstream.calls()] == ["fake-ok"]  # openai/special's own deployment


def test_a_partial_pattern_and_the_catch_all(gateway, upstream):
    upstream.reset()
    answer = _client(gateway).chat.completions.create(model="anthropic/claude-sonnet-4-5-20250929", messages=USER,
                                                      max_tokens=16)
    assert answer.choices[0].message.content
    assert upstream.calls()[-1]["path"].endswith("/messages")  # sent on Anthropic's wire format
    raw = _client(gateway).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini"  # "*" + "*": the name passes through
    assert upstream.calls()[-1]["body"]["model"] == "gpt-4o-mini"


def test_a_wildcard_entry_s_own_prices_let_it_serve_models_litellm_does_not_know(gateway, upstream):
    key = _key(gateway, max_budget=1)
    upstream.reset()
    _client(gateway, key).chat.completions.create(model="priced/fake-ok", messages=USER)
    assert upstream.calls()[-1]["body"]["model"] == "fake-ok"
    [log] = _logs(gateway, key)
    assert log["spend"] == pytest.approx(11 * 3e-6 + 7 * 4e-6)


def test_an_unpriced_wildcard_match_is_refused_before_any_call(gateway, upstream):
    key = _key(gateway, max_budget=1)
    upstream.reset()
    with pytest.raises(openai.BadRequestError) as refused:
        _client(gateway, key).chat.completions.create(model="openai/fake-ok", messages=USER)
    error = refused.value.body
    assert error["code"] == "model_not_priced" and error["param"] == "model"
    assert "openai/*" in error["message"] and "price" in error["message"]
    assert upstream.calls() == [] and _logs(gateway, key) == []


@pytest.mark.parametrize("name", ["openai/../v1/admin", "openai/" + "x" * 200, "openai/gpt 4o", "openai/gpt?4",
                                  "openai/*", "*"])
def test_a_name_unfit_for_litellm_matches_no_pattern(gateway, upstream, name):
    upstream.reset()
    with pytest.raises(openai.NotFoundError) as missing:
        _client(gateway).chat.completions.create(model=name, messages=USER)
    assert missing.value.body["code"] == "model_not_found"
    assert upstream.calls() == []


def test_a_key_granted_a_wildcard_may_use_what_it_matches_only(gateway):
    key = _key(gateway, models=["openai/*"])
    _client(gateway, key).chat.completions.create(model="openai/gpt-4o-mini", messages=USER)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        _client(gateway, key).chat.completions.create(model="fake", messages=USER)
    assert denied.value.body["code"] == "key_model_access_denied"
    listed = [m.id for m in _client(gateway, key).models.list()]
    assert listed == ["openai/special", "openai/*"]  # a wildcard is listed as its pattern


# ---------------------------------------------------------------- access groups
def test_a_key_granted_an_access_group_may_use_its_models(gateway):
    key = _key(gateway, models=["beta-models"])
    client = _client(gateway, key)
    for model in ("fake", "beta-b"):
        assert client.chat.completions.create(model=model, messages=USER).choices
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="other", messages=USER)
    assert [m.id for m in client.models.list()] == ["fake", "beta-b"]


def test_a_team_granted_an_access_group(gateway):
    team = httpx.post(gateway + "/team/new", headers=ADMIN, json={"models": ["beta-models"]}, timeout=10).json()
    key = _key(gateway, team_id=team["team_id"])
    _client(gateway, key).chat.completions.create(model="beta-b", messages=USER)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        _client(gateway, key).chat.completions.create(model="other", messages=USER)
    assert denied.value.body["code"] == "team_model_access_denied"
    # the admin API: a key's models within the team's, through the group
    assert httpx.post(gateway + "/key/generate", headers=ADMIN, json={"team_id": team["team_id"], "models": ["fake"]},
                      timeout=10).status_code == 200
    outside = httpx.post(gateway + "/key/generate", headers=ADMIN,
                         json={"team_id": team["team_id"], "models": ["other"]}, timeout=10)
    assert outside.status_code == 400 and "other" in outside.json()["error"]["message"]


def test_a_key_may_name_a_group_whose_models_its_team_allows(gateway):
    team = httpx.post(gateway + "/team/new", headers=ADMIN, json={"models": ["fake", "beta-b"]}, timeout=10).json()
    assert httpx.post(gateway + "/key/generate", headers=ADMIN,
                      json={"team_id": team["team_id"], "models": ["beta-models"]}, timeout=10).status_code == 200
    narrow = httpx.post(gateway + "/team/new", headers=ADMIN, json={"models": ["fake"]}, timeout=10).json()
    assert httpx.post(gateway + "/key/generate", headers=ADMIN,
                      json={"team_id": narrow["team_id"], "models": ["beta-models"]}, timeout=10).status_code == 400


def test_a_fallback_outside_the_key_s_groups_is_refused(gateway):
    key = _key(gateway, models=["beta-models"])
    response = _chat(gateway, {"model": "fake", "fallbacks": ["other"]}, key)
    assert response.status_code == 403 and response.json()["error"]["code"] == "key_model_access_denied"


# ---------------------------------------------------------------- aliases
def test_both_alias_forms_route_and_a_hidden_alias_is_not_listed(gateway, upstream):
    for alias in ("fake-alias", "secret-alias"):
        raw = _client(gateway).chat.completions.with_raw_response.create(model=alias, messages=USER)
        assert raw.headers["x-gateway-model"] == "fake"
    listed = [m.id for m in _client(gateway).models.list()]
    assert "fake-alias" in listed and "secret-alias" not in listed


def test_a_key_granted_an_alias_may_use_it_but_not_the_target_by_its_own_name(gateway):
    key = _key(gateway, models=["fake-alias"])
    _client(gateway, key).chat.completions.create(model="fake-alias", messages=USER)
    with pytest.raises(openai.PermissionDeniedError):
        _client(gateway, key).chat.completions.create(model="fake", messages=USER)
    target_key = _key(gateway, models=["fake"])  # LiteLLM: the alias's target allows the alias too
    _client(gateway, target_key).chat.completions.create(model="secret-alias", messages=USER)


# ---------------------------------------------------------------- litellm_settings
def test_litellm_settings_retries_and_fallbacks_apply(gateway, upstream):
    upstream.reset()
    raw = _client(gateway).chat.completions.with_raw_response.create(model="flaky", messages=USER)
    assert raw.headers["x-gateway-model"] == "fake"  # litellm_settings.fallbacks: flaky -> fake
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert len(upstream.calls("fake-500")) == 2  # litellm_settings.num_retries: 1, so 1 + 1 attempts (default: 3)
    assert float(raw.headers["x-litellm-timeout"]) == 20  # litellm_settings.request_timeout


def test_litellm_settings_context_window_fallbacks_apply(gateway, upstream):
    raw = _client(gateway).chat.completions.with_raw_response.create(model="small-window", messages=USER)
    assert raw.headers["x-gateway-model"] == "beta-b"


def test_precedence_router_settings_then_litellm_settings_then_default():
    def config(router: str, litellm: str):
        return parse_config(f"model_list:\n  - model_name: m\n    litellm_params: {{model: openai/x, api_key: k}}\n"
                            f"router_settings: {router}\nlitellm_settings: {litellm}\n".encode()).config

    assert config("{num_retries: 0}", "{num_retries: 4}").num_retries() == 0
    assert config("{}", "{num_retries: 4}").num_retries() == 4
    assert config("{}", "{}").num_retries() == 2
    both = config("{fallbacks: [{m: [a]}]}", "{fallbacks: [{m: [b]}], context_window_fallbacks: [{m: [c]}]}")
    assert both.fallback_chains("fallbacks") == [{"m": ["a"]}]
    assert both.fallback_chains("context_window_fallbacks") == [{"m": ["c"]}]


# ---------------------------------------------------------------- several models in one call
def test_comma_separated_models_answer_one_completion_each_billed_separately(gateway, upstream):
    key = _key(gateway, max_budget=1)
    response = _chat(gateway, {"model": "fake, beta-b"}, key)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert isinstance(answers, list) and len(answers) == 2
    assert all(answer["object"] == "chat.completion" for answer in answers)
    logs = _logs(gateway, key)
    assert sorted(log["model"] for log in logs) == ["beta-b", "fake"]
    assert len({log["request_id"] for log in logs}) == 2
    assert _key_info(gateway, key)["spend"] == pytest.approx(sum(log["spend"] for log in logs))


def test_a_json_list_of_models_and_a_failed_model_s_entry(gateway, upstream):
    key = _key(gateway, max_budget=1)
    upstream.reset()
    refused = _chat(gateway, {"model": ["fake", "openai/fake-ok"]}, key)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "model_not_priced"
    assert upstream.calls() == [] and _logs(gateway, key) == []  # every model is resolved before any is called
    response = _chat(gateway, {"model": ["fake", "broken"]}, key)
    assert response.status_code == 200
    answer, failed = response.json()
    assert answer["object"] == "chat.completion"
    assert failed["error"]["code"] == "provider_error"  # a failed model's entry is its error, as litellm's batch
    assert sorted((log["model"], log["status_code"]) for log in _logs(gateway, key)) == [("broken", 502), ("fake", 200)]
    assert _key_info(gateway, key)["reserved_spend"] == 0


def test_fastest_response_answers_once_and_releases_the_losers(gateway, upstream):
    key = _key(gateway, max_budget=1, max_parallel_requests=2)
    for _ in range(2):  # a loser left holding its slot would refuse the second round
        started = time.monotonic()
        response = _chat(gateway, {"model": "slowpoke, fake", "fastest_response": True}, key)
        assert response.status_code == 200, response.text
        assert response.json()["object"] == "chat.completion"
        assert response.headers["x-gateway-model"] == "fake"
        assert time.monotonic() - started < upstream.slow_seconds
    assert _key_info(gateway, key)["reserved_spend"] == 0
    statuses = sorted((log["model"], log["status_code"]) for log in _logs(gateway, key))
    assert statuses == [("fake", 200), ("fake", 200), ("slowpoke", 499), ("slowpoke", 499)]


def test_several_models_are_refused_as_a_whole(gateway):
    key = _key(gateway, models=["fake"])
    denied = _chat(gateway, {"model": "fake, other"}, key)
    assert denied.status_code == 403 and _logs(gateway, key) == []  # nothing was admitted or called
    stream = _chat(gateway, {"model": "fake, beta-b", "stream": True})
    assert stream.status_code == 400 and stream.json()["error"]["param"] == "stream"
    many = _chat(gateway, {"model": ",".join(["fake"] * 6)})
    assert many.status_code == 400 and many.json()["error"]["param"] == "model"
    empty = _chat(gateway, {"model": "fake,"})
    assert empty.status_code == 400


# ---------------------------------------------------------------- bare names under a provider's pattern
def test_a_bare_name_litellm_knows_matches_its_provider_s_pattern():
    """litellm's Router tries the name, then ``provider/name`` (PatternMatchRouter.get_pattern)."""
    config = parse_config(
        'model_list:\n'
        '  - {model_name: "openai/*", litellm_params: {model: "openai/*"}}\n'
        '  - {model_name: "anthropic/*", litellm_params: {model: "anthropic/*"}}\n').config
    assert [e.litellm_params.model for e in config.deployments("gpt-4o-mini")] == ["openai/gpt-4o-mini"]
    assert [e.litellm_params.model for e in config.deployments("claude-sonnet-4-5-20250929")] == [
        "anthropic/claude-sonnet-4-5-20250929"]
    assert config.deployments("no-such-model-anywhere") == []
    assert config.deployments("bedrockz/anthropic.claude-v2") == []  # a namespace litellm did not consume


def test_a_bare_name_matches_the_name_itself_before_its_provider_form(gateway, upstream):
    upstream.reset()  # "*" matches gpt-4o-mini itself, so "openai/*" (more specific) is not tried
    raw = _client(gateway).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=USER)
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini"


def test_a_key_granted_a_provider_pattern_may_use_that_provider_s_bare_names(gateway):
    key = _key(gateway, models=["openai/*"])
    assert _client(gateway, key).chat.completions.create(model="gpt-4o-mini", messages=USER).choices
    with pytest.raises(openai.PermissionDeniedError) as denied:  # litellm places claude-* under anthropic
        _client(gateway, key).chat.completions.create(model="claude-sonnet-4-5-20250929", messages=USER)
    assert denied.value.body["code"] == "key_model_access_denied"
