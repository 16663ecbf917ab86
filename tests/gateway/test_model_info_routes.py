"""LiteLLM's /model/info, /v1/model/info and /model_group/info over HTTP: any key may call them and
sees only the models it may use; nobody sees a credential, and only admins see where a deployment
sends its calls."""
from __future__ import annotations

import httpx
import pytest

from tests.anthropic.conftest import generate_key
from tests.conftest import MASTER_KEY

SECRETS = ("sk-canary-openai-secret", "sk-canary-byo-secret", "sk-canary-anthropic-secret", "fake-upstream-key",
           "sk-fake-anthropic-key")


def _get(http_server: str, path: str, token: str, **params) -> httpx.Response:
    return httpx.get(http_server + path, params=params, headers={"authorization": f"Bearer {token}"}, timeout=20)


@pytest.fixture()
def canary_key(http_server) -> str:
    return generate_key(http_server, models=["canary", "byo"])


@pytest.mark.parametrize("path", ["/model/info", "/v1/model/info"])
def test_admin_sees_every_deployment_without_credentials(http_server, upstream, path):
    response = _get(http_server, path, MASTER_KEY)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    names = {entry["model_name"] for entry in data}
    assert {"fake", "canary", "byo", "mock", "fake-alias"} <= names
    assert not any(secret in response.text for secret in SECRETS)
    canary = next(entry for entry in data if entry["model_name"] == "canary")
    assert "api_key" not in canary["litellm_params"]
    assert canary["litellm_params"]["model"] == "openai/fake-ok"
    assert canary["litellm_params"]["api_base"] == upstream.url  # admins see the endpoint
    assert canary["model_info"]["id"] and canary["model_info"]["input_cost_per_token"] == 0.000001


def test_a_key_sees_only_its_models_and_no_endpoint(http_server, upstream, canary_key):
    response = _get(http_server, "/model/info", canary_key)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert sorted(entry["model_name"] for entry in data) == ["byo", "canary"]
    assert not any(secret in response.text for secret in SECRETS)
    assert upstream.url not in response.text
    for entry in data:
        assert {"api_key", "api_base", "configurable_clientside_auth_params"}.isdisjoint(entry["litellm_params"])


def test_one_deployment_by_its_litellm_model_id(http_server, canary_key):
    listed = _get(http_server, "/model/info", canary_key).json()["data"]
    wanted = next(entry for entry in listed if entry["model_name"] == "canary")["model_info"]["id"]
    response = _get(http_server, "/v1/model/info", canary_key, litellm_model_id=wanted)
    assert response.status_code == 200
    assert [entry["model_info"]["id"] for entry in response.json()["data"]] == [wanted]


def test_a_deployment_id_outside_the_keys_models_is_not_found(http_server, canary_key):
    everything = _get(http_server, "/model/info", MASTER_KEY).json()["data"]
    other = next(entry for entry in everything if entry["model_name"] == "fake")["model_info"]["id"]
    response = _get(http_server, "/model/info", canary_key, litellm_model_id=other)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "litellm_model_id"


def test_the_model_id_header_of_a_call_finds_its_deployment(http_server, base_url, canary_key):
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=canary_key, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(model="canary", messages=[{"role": "user", "content": "hi"}])
    model_id = raw.headers["x-litellm-model-id"]
    found = _get(http_server, "/model/info", canary_key, litellm_model_id=model_id).json()["data"]
    assert [entry["model_name"] for entry in found] == ["canary"]


def test_model_group_info_for_a_key(http_server, canary_key):
    response = _get(http_server, "/model_group/info", canary_key)
    assert response.status_code == 200, response.text
    groups = {group["model_group"]: group for group in response.json()["data"]}
    assert sorted(groups) == ["byo", "canary"]
    assert groups["canary"]["providers"] == ["openai"]
    assert groups["canary"]["input_cost_per_token"] == 0.000001
    assert "configurable_clientside_auth_params" not in groups["byo"]
    assert not any(secret in response.text for secret in SECRETS)


def test_model_group_info_for_one_group(http_server):
    response = _get(http_server, "/model_group/info", MASTER_KEY, model_group="fake-embedding")
    assert [group["model_group"] for group in response.json()["data"]] == ["fake-embedding"]
    outside = _get(http_server, "/model_group/info", generate_key(http_server, models=["fake"]), model_group="canary")
    assert outside.status_code == 200 and outside.json()["data"] == []


def test_model_info_needs_a_key(http_server):
    response = httpx.get(http_server + "/model/info", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["type"]
