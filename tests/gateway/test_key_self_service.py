"""What LiteLLM lets a key ask about itself, over HTTP through the app: its own ``/key/info``
(and, like LiteLLM, the keys of its own ``user_id``), and its own team's ``/team/info``. Nothing
else of the admin API opens to it."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.anthropic.conftest import generate_key
from tests.conftest import MASTER_KEY

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _team(http_server: str) -> str:
    team_id = "team-" + uuid.uuid4().hex[:8]
    response = httpx.post(http_server + "/team/new", json={"team_id": team_id}, headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return team_id


def _token_hash(http_server: str, key: str) -> str:
    return httpx.get(http_server + "/key/info", params={"key": key}, headers=ADMIN, timeout=10).json()["info"]["token"]


def test_a_key_reads_its_own_info_by_token_by_hash_or_without_asking(http_server):
    key = generate_key(http_server, models=["fake"], key_alias="self")
    token_hash = _token_hash(http_server, key)
    for params in ({}, {"key": key}, {"key": token_hash}):
        response = httpx.get(http_server + "/key/info", params=params, headers=_as(key), timeout=10)
        assert response.status_code == 200, (params, response.text)
        assert response.json()["info"]["token"] == token_hash and response.json()["info"]["key_alias"] == "self"


def test_a_key_may_not_read_another_key(http_server):
    mine, theirs = generate_key(http_server, models=["fake"]), generate_key(http_server, models=["fake"])
    for params in ({"key": theirs}, {"key": _token_hash(http_server, theirs)}, {"key": "sk-does-not-exist"}):
        response = httpx.get(http_server + "/key/info", params=params, headers=_as(mine), timeout=10)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["message"].startswith("You are not allowed to access this key's info")


def test_keys_of_one_user_read_each_other_as_on_litellm(http_server):
    first = generate_key(http_server, models=["fake"], user_id="ada")
    second = generate_key(http_server, models=["fake"], user_id="ada")
    other = generate_key(http_server, models=["fake"], user_id="bob")
    assert httpx.get(http_server + "/key/info", params={"key": second}, headers=_as(first), timeout=10).status_code == 200
    assert httpx.get(http_server + "/key/info", params={"key": other}, headers=_as(first), timeout=10).status_code == 403


def test_a_team_key_reads_its_team_only(http_server):
    own, foreign = _team(http_server), _team(http_server)
    key = generate_key(http_server, team_id=own)
    response = httpx.get(http_server + "/team/info", params={"team_id": own}, headers=_as(key), timeout=10)
    assert response.status_code == 200 and response.json()["team_id"] == own, response.text
    refused = httpx.get(http_server + "/team/info", params={"team_id": foreign}, headers=_as(key), timeout=10)
    assert refused.status_code == 403
    solo = generate_key(http_server, models=["fake"])
    assert httpx.get(http_server + "/team/info", params={"team_id": own}, headers=_as(solo), timeout=10).status_code == 403


@pytest.mark.parametrize("method, path, body", [
    ("get", "/key/list", None), ("post", "/key/generate", {}), ("post", "/key/update", {"key": "x"}),
    ("get", "/team/list", None), ("get", "/spend/logs", None), ("post", "/team/new", {}),
])
def test_the_rest_of_the_admin_api_stays_closed(http_server, method, path, body):
    key = generate_key(http_server, models=["fake"])
    response = httpx.request(method, http_server + path, json=body, headers=_as(key), timeout=10)
    assert response.status_code == 403, response.text


def test_admins_still_read_every_key_and_team(http_server):
    team_id = _team(http_server)
    key = generate_key(http_server, team_id=team_id)
    admin_key = generate_key(http_server, metadata={"role": "admin"})
    for token in (MASTER_KEY, admin_key):
        assert httpx.get(http_server + "/key/info", params={"key": key}, headers=_as(token), timeout=10).status_code == 200
        assert httpx.get(http_server + "/team/info", params={"team_id": team_id}, headers=_as(token),
                         timeout=10).status_code == 200
