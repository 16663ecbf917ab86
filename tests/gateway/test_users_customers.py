"""LiteLLM's users, customers (end users), budget tiers and team membership, over HTTP through the
app in LiteLLM's request and response shapes, with the ``openai`` SDK for the model calls: who is
charged, whose limits refuse, and what blocking does."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
import pytest
from openai import OpenAI, PermissionDeniedError, UnprocessableEntityError, RateLimitError

from tests.conftest import MASTER_KEY

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
FAKE_COST = 11 * 0.000001 + 7 * 0.000002  # the fake upstream's usage (11 prompt, 7 completion tokens) at fake's prices


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _admin(http_server: str, path: str, body: dict | None = None, *, method: str = "post", params: dict | None = None,
           expect: int = 200) -> dict:
    response = httpx.request(method, http_server + path, json=body, params=params, headers=ADMIN, timeout=10)
    assert response.status_code == expect, response.text
    return response.json()


def _client(base_url: str, key: str) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20)


def _ask(client: OpenAI, **extra):
    return client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}], max_tokens=10,
                                          **extra)


# ---------------------------------------------------------------- users
def test_user_new_makes_a_key_whose_calls_are_charged_to_the_user(http_server, base_url):
    user_id = _id("user")
    created = _admin(http_server, "/user/new", {"user_id": user_id, "user_email": "ada@example.com",
                                                "max_budget": 10.0, "user_role": "internal_user"})
    assert created["user_id"] == user_id and created["key"].startswith("sk-") and created["user_email"] == "ada@example.com"
    _ask(_client(base_url, created["key"]))
    info = _admin(http_server, "/user/info", method="get", params={"user_id": user_id})
    assert info["user_info"]["spend"] == pytest.approx(FAKE_COST)
    assert info["user_info"]["max_budget"] == 10.0 and info["user_info"]["user_role"] == "internal_user"
    assert [k["user_id"] for k in info["keys"]] == [user_id]
    listed = _admin(http_server, "/user/list", method="get", params={"page_size": 100})
    assert user_id in [u["user_id"] for u in listed["users"]] and listed["total"] >= 1


def test_a_users_budget_refuses_its_keys_once_spent(http_server, base_url):
    user_id = _id("user")
    # each call spends 2.5e-5 and reserves its worst case first (a few prompt tokens + 10 completion
    # tokens: 2.5e-5 to 3e-5): three fit in 9e-5, the fourth does not
    created = _admin(http_server, "/user/new", {"user_id": user_id, "max_budget": 0.00009})
    second_key = _admin(http_server, "/key/generate", {"user_id": user_id})["key"]
    outcomes = []
    for key in [created["key"], second_key] * 3:
        try:
            _ask(_client(base_url, key))
            outcomes.append("ok")
        except UnprocessableEntityError as exc:
            assert exc.body["code"] == "budget_exceeded" and f"user {user_id}" in exc.body["message"]
            outcomes.append("refused")
    assert outcomes[:3] == ["ok"] * 3 and set(outcomes[3:]) == {"refused"}, outcomes
    spend = _admin(http_server, "/user/info", method="get", params={"user_id": user_id})["user_info"]["spend"]
    assert spend == pytest.approx(3 * FAKE_COST) and spend <= 0.00009


def test_a_blocked_user_and_a_users_model_list_refuse_its_keys(http_server, base_url):
    user_id = _id("user")
    _admin(http_server, "/user/new", {"user_id": user_id, "models": ["fake"], "auto_create_key": False})
    client = _client(base_url, _admin(http_server, "/key/generate", {"user_id": user_id})["key"])  # a key of any model
    with pytest.raises(PermissionDeniedError) as denied:
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert denied.value.body["code"] == "user_model_access_denied"
    _admin(http_server, "/user/update", {"user_id": user_id, "blocked": True})
    with pytest.raises(PermissionDeniedError) as blocked:
        _ask(client)
    assert blocked.value.body["code"] == "user_blocked"
    _admin(http_server, "/user/update", {"user_id": user_id, "blocked": False})
    assert _ask(client).choices


def test_user_delete_deletes_the_users_keys_as_litellm_does(http_server, base_url):
    user_id = _id("user")
    key = _admin(http_server, "/user/new", {"user_id": user_id})["key"]
    deleted = _admin(http_server, "/user/delete", {"user_ids": [user_id]})
    assert deleted == {"deleted_users": [user_id], "deleted_keys": 1}
    assert httpx.get(http_server + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=10).status_code == 401
    _admin(http_server, "/user/info", method="get", params={"user_id": user_id}, expect=404)


def test_a_key_reads_its_own_users_info_only(http_server):
    mine, theirs = _id("user"), _id("user")
    key = _admin(http_server, "/user/new", {"user_id": mine})["key"]
    _admin(http_server, "/user/new", {"user_id": theirs, "auto_create_key": False})
    as_key = {"authorization": f"Bearer {key}"}
    own = httpx.get(http_server + "/user/info", headers=as_key, timeout=10)
    assert own.status_code == 200 and own.json()["user_id"] == mine
    other = httpx.get(http_server + "/user/info", params={"user_id": theirs}, headers=as_key, timeout=10)
    assert other.status_code == 403
    for path in ("/user/new", "/customer/new", "/budget/new", "/team/member_add", "/end_user/new"):
        assert httpx.post(http_server + path, json={}, headers=as_key, timeout=10).status_code == 403, path


# ---------------------------------------------------------------- customers
def test_a_customers_budget_holds_across_keys_through_the_user_field(http_server, base_url):
    customer = _id("cust")
    created = _admin(http_server, "/customer/new", {"user_id": customer, "max_budget": 0.000065, "alias": "Acme"})
    assert created["litellm_budget_table"]["max_budget"] == 0.000065 and created["alias"] == "Acme"
    keys = [_admin(http_server, "/key/generate", {})["key"] for _ in range(2)]
    outcomes = []
    for key in keys * 2:
        try:
            _ask(_client(base_url, key), user=customer)
            outcomes.append("ok")
        except UnprocessableEntityError as exc:
            assert f"end user {customer}" in exc.body["message"]
            outcomes.append("refused")
    assert outcomes == ["ok", "ok", "refused", "refused"]
    # LiteLLM's older name for the same records
    info = _admin(http_server, "/end_user/info", method="get", params={"end_user_id": customer})
    assert info["spend"] == pytest.approx(2 * FAKE_COST)
    # a ``user`` that names no customer limits nothing (nor one no customer id could be), and the
    # spend log names the end user either way
    for nobody in (_id("nobody"), "not an id: " + "x" * 5000):
        assert _ask(_client(base_url, keys[0]), user=nobody).choices
    logs = _admin(http_server, "/spend/logs", method="get", params={"api_key": keys[0]})
    assert customer in {log.get("end_user") for log in logs}
    today = datetime.now(timezone.utc).date().isoformat()
    report = _admin(http_server, "/global/spend/report", method="get",
                    params={"start_date": today, "end_date": today, "group_by": "customer"})
    spent = {c["customer"]: c["total_spend"] for day in report for c in day["customers"]}
    assert spent[customer] == pytest.approx(2 * FAKE_COST)


def test_blocking_a_customer_refuses_its_requests_until_unblocked(http_server, base_url):
    customer = _id("cust")
    _admin(http_server, "/customer/new", {"user_id": customer})
    client = _client(base_url, _admin(http_server, "/key/generate", {})["key"])
    assert _admin(http_server, "/customer/block", {"user_ids": [customer]}) == {"blocked_users": [customer]}
    with pytest.raises(PermissionDeniedError) as blocked:
        _ask(client, user=customer)
    assert blocked.value.body["code"] == "end_user_blocked"
    _admin(http_server, "/end_user/unblock", {"user_ids": [customer]})
    assert _ask(client, user=customer).choices
    assert customer in [c["user_id"] for c in _admin(http_server, "/customer/list", method="get")]
    assert _admin(http_server, "/customer/delete", {"user_ids": [customer]}) == {"deleted_customers": [customer]}
    _admin(http_server, "/customer/info", method="get", params={"end_user_id": customer}, expect=404)


# ---------------------------------------------------------------- budget tiers
def test_a_budget_tier_gives_its_limits_to_the_customers_pointing_at_it(http_server, base_url):
    tier = _id("tier")
    made = _admin(http_server, "/budget/new", {"budget_id": tier, "rpm_limit": 1, "max_budget": 5.0})
    assert made["budget_id"] == tier and made["rpm_limit"] == 1
    first, second = _id("cust"), _id("cust")
    for customer in (first, second):
        view = _admin(http_server, "/customer/new", {"user_id": customer, "budget_id": tier})
        assert view["rpm_limit"] == 1 and view["budget_id"] == tier
    client = _client(base_url, _admin(http_server, "/key/generate", {})["key"])
    assert _ask(client, user=first).choices
    with pytest.raises(RateLimitError) as limited:
        _ask(client, user=first)
    assert f"end user {first}" in limited.value.body["message"]
    assert _ask(client, user=second).choices  # each customer spends its own counters
    assert _admin(http_server, "/budget/info", {"budgets": [tier]})[0]["max_budget"] == 5.0
    assert tier in [b["budget_id"] for b in _admin(http_server, "/budget/list", method="get")]
    in_use = _admin(http_server, "/budget/delete", {"id": tier}, expect=409)
    assert in_use["error"]["code"] == "budget_in_use"
    _admin(http_server, "/customer/delete", {"user_ids": [first, second]})
    assert _admin(http_server, "/budget/delete", {"id": tier})["budget_id"] == tier


def test_a_key_pointing_at_a_budget_tier_gets_its_limits(http_server, base_url):
    tier = _id("tier")
    _admin(http_server, "/budget/new", {"budget_id": tier, "rpm_limit": 1})
    key = _admin(http_server, "/key/generate", {"budget_id": tier})
    assert key["budget_id"] == tier
    client = _client(base_url, key["key"])
    assert _ask(client).choices
    with pytest.raises(RateLimitError) as limited:
        _ask(client)
    assert "this key" in limited.value.body["message"]
    assert _admin(http_server, "/budget/delete", {"id": tier}, expect=409)["error"]["code"] == "budget_in_use"
    refused = _admin(http_server, "/key/generate", {"budget_id": "no-such-tier"}, expect=400)
    assert refused["error"]["code"] == "budget_not_found"


def test_an_unknown_budget_tier_is_refused_before_anything_is_written(http_server):
    customer = _id("cust")
    refused = _admin(http_server, "/customer/new", {"user_id": customer, "budget_id": "no-such-tier"}, expect=400)
    assert refused["error"]["code"] == "budget_not_found"
    _admin(http_server, "/customer/info", method="get", params={"end_user_id": customer}, expect=404)


@pytest.mark.parametrize("path, body", [
    ("/user/new", {"user_id": "has space"}), ("/customer/new", {"user_id": "x" * 300}),
    ("/customer/new", {}), ("/budget/new", {"max_budget": -1}), ("/team/member_add", {"team_id": "t", "member": {}}),
    ("/user/delete", {"user_ids": []}),
])
def test_admin_input_is_bounded(http_server, path, body):
    assert _admin(http_server, path, body, expect=400)["error"]["type"] == "invalid_request_error"


# ---------------------------------------------------------------- team membership and blocking
def test_team_members_are_added_updated_and_removed_in_litellms_shape(http_server):
    team_id = _id("team")
    _admin(http_server, "/team/new", {"team_id": team_id})
    added = _admin(http_server, "/team/member_add", {"team_id": team_id, "member": [
        {"role": "admin", "user_id": "ada"}, {"role": "user", "user_email": "bob@example.com"}]})
    assert added["members_with_roles"] == [{"user_id": "ada", "user_email": None, "role": "admin"},
                                           {"user_id": None, "user_email": "bob@example.com", "role": "user"}]
    again = _admin(http_server, "/team/member_add", {"team_id": team_id, "member": {"role": "user", "user_id": "ada"}})
    assert len(again["members_with_roles"]) == 2 and again["updated_users"] == []
    updated = _admin(http_server, "/team/member_update", {"team_id": team_id, "user_email": "bob@example.com",
                                                          "role": "admin"})
    assert updated["role"] == "admin"
    _admin(http_server, "/team/member_delete", {"team_id": team_id, "user_id": "ada"})
    info = _admin(http_server, "/team/info", method="get", params={"team_id": team_id})
    assert [m["user_email"] for m in info["team_info"]["members_with_roles"]] == ["bob@example.com"]
    missing = _admin(http_server, "/team/member_delete", {"team_id": team_id, "user_id": "ada"}, expect=404)
    assert missing["error"]["code"] == "member_not_found"


def test_blocking_a_team_refuses_its_keys_until_unblocked(http_server, base_url):
    team_id = _id("team")
    _admin(http_server, "/team/new", {"team_id": team_id})
    client = _client(base_url, _admin(http_server, "/key/generate", {"team_id": team_id})["key"])
    assert _ask(client).choices
    assert _admin(http_server, "/team/block", {"team_id": team_id})["blocked"] is True
    with pytest.raises(PermissionDeniedError) as blocked:
        _ask(client)
    assert blocked.value.body["code"] == "team_blocked"
    _admin(http_server, "/team/unblock", {"team_id": team_id})
    assert _ask(client).choices


# ---------------------------------------------------------------- tags
def test_a_tags_budget_holds_for_every_request_carrying_it(http_server, base_url):
    tag = "proj:" + uuid.uuid4().hex[:8]
    made = _admin(http_server, "/tag/new", {"name": tag, "description": "a project", "max_budget": 0.000065})
    assert made["name"] == tag and made["litellm_budget_table"]["max_budget"] == 0.000065
    tagged_key = _admin(http_server, "/key/generate", {"metadata": {"tags": [tag]}})["key"]
    plain_key = _admin(http_server, "/key/generate", {})["key"]
    outcomes = []
    for key, extra in ((plain_key, {"extra_body": {"tags": [tag]}}), (tagged_key, {}),
                       (plain_key, {"extra_body": {"metadata": {"tags": [tag]}}}), (tagged_key, {})):
        try:
            _ask(_client(base_url, key), **extra)
            outcomes.append("ok")
        except UnprocessableEntityError as exc:
            assert f"tag {tag}" in exc.body["message"]
            outcomes.append("refused")
    assert outcomes == ["ok", "ok", "refused", "refused"]  # the request's tag or the key's: the same budget
    assert _ask(_client(base_url, plain_key)).choices  # untagged: not limited by it
    info = _admin(http_server, "/tag/info", {"names": [tag]})[tag]
    assert info["spend"] == pytest.approx(2 * FAKE_COST) and info["description"] == "a project"
    assert _admin(http_server, "/tag/update", {"name": tag, "max_budget": 1.0})["max_budget"] == 1.0
    assert _ask(_client(base_url, tagged_key)).choices
    assert tag in [t["name"] for t in _admin(http_server, "/tag/list", method="get")]
    _admin(http_server, "/tag/delete", {"name": tag})
    _admin(http_server, "/tag/info", {"names": [tag]}, expect=404)
