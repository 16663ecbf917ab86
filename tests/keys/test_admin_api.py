"""The admin API end to end through FastAPI against moto: shapes, spend totals, and bad input.

Every bad-input case asserts a 4xx in OpenAI's error shape AND that the table is byte-for-byte
unchanged (nothing half-written).
"""
from __future__ import annotations

import pytest

from tests.keys.conftest import MASTER, all_items


def _gen(client, **body):
    r = client.post("/key/generate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _is_openai_error(r, status_range=(400, 500)):
    assert status_range[0] <= r.status_code < status_range[1], (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    assert {"message", "type", "param", "code"} <= set(body["error"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_key_lifecycle(client, store):
    team = client.post("/team/new", json={"team_alias": "research", "models": ["mock", "gpt-4o"], "max_budget": 5,
                                          "rpm_limit": 100}).json()
    assert team["team_id"] and team["models"] == ["mock", "gpt-4o"] and team["spend"] == 0

    key = _gen(client, key_alias="alice", models=["mock"], max_budget=1.5, budget_duration="30d", rpm_limit=10,
               tpm_limit=1000, max_parallel_requests=2, duration="1h", metadata={"owner": "alice"},
               team_id=team["team_id"], user_id="u1")
    assert key["key"].startswith("sk-") and len(key["token"]) == 64 and key["key_name"].startswith("sk-...")
    assert key["expires"] and key["budget_reset_at"] and key["max_budget"] == 1.5
    # only the hash is stored, never the token
    assert key["key"] not in str(all_items(store.table))

    info = client.get("/key/info", params={"key": key["key"]}).json()
    assert info["info"]["key_alias"] == "alice" and info["info"]["spend"] == 0.0
    assert client.get("/key/info", params={"key": key["token"]}).json()["info"]["token"] == key["token"]

    up = client.post("/key/update", json={"key": key["key"], "max_budget": 3, "models": ["gpt-4o"], "key_alias": "al"})
    assert up.status_code == 200 and up.json()["max_budget"] == 3 and up.json()["models"] == ["gpt-4o"]
    assert up.json()["rpm_limit"] == 10  # untouched fields stay

    assert client.post("/key/block", json={"key": key["key"]}).json()["blocked"] is True
    assert client.post("/key/unblock", json={"key": key["token"]}).json()["blocked"] is False

    listed = client.get("/key/list", params={"page": 1, "size": 10}).json()
    assert listed["keys"] == [key["token"]] and listed["total_count"] == 1 and listed["total_pages"] == 1
    full = client.get("/key/list", params={"return_full_object": True, "team_id": team["team_id"]}).json()
    assert full["keys"][0]["key_alias"] == "al"

    regen = client.post("/key/regenerate", json={"key": key["key"]}).json()
    assert regen["key"] != key["key"] and regen["token"] != key["token"] and regen["key_alias"] == "al"
    assert client.get("/key/info", params={"key": key["key"]}).status_code == 404
    path_regen = client.post(f"/key/{regen['key']}/regenerate").json()
    assert path_regen["key"] != regen["key"]

    t_info = client.get("/team/info", params={"team_id": team["team_id"]}).json()
    assert t_info["team_info"]["team_alias"] == "research" and len(t_info["keys"]) == 1
    t_up = client.post("/team/update", json={"team_id": team["team_id"], "rpm_limit": 5}).json()
    assert t_up["data"]["rpm_limit"] == 5 and t_up["data"]["max_budget"] == 5
    assert [t["team_id"] for t in client.get("/team/list").json()] == [team["team_id"]]

    gone = client.post("/key/delete", json={"keys": [path_regen["key"]]}).json()
    assert gone["deleted_keys"] == [path_regen["key"]]
    assert client.get("/key/list").json()["total_count"] == 0
    assert client.post("/team/delete", json={"team_ids": [team["team_id"]]}).json()["deleted_teams"] == [team["team_id"]]
    assert client.get("/team/list").json() == []
    assert all_items(store.table) == []


def test_key_list_pagination(client):
    tokens = [_gen(client, key_alias=f"k{i}")["token"] for i in range(5)]
    p1 = client.get("/key/list", params={"page": 1, "size": 2}).json()
    p3 = client.get("/key/list", params={"page": 3, "size": 2}).json()
    assert p1["keys"] == tokens[:2] and p3["keys"] == tokens[4:] and p1["total_pages"] == 3


def test_team_delete_removes_its_keys(client):
    team = client.post("/team/new", json={"team_id": "t-x"}).json()
    _gen(client, team_id=team["team_id"])
    _gen(client)
    out = client.post("/team/delete", json={"team_ids": ["t-x"]}).json()
    assert out["deleted_keys"] == 1 and client.get("/key/list").json()["total_count"] == 1


def test_spend_in_info_and_logs(client, store):
    from gateway.keys import enforce, resolve

    team = client.post("/team/new", json={"team_id": "t1"}).json()
    key = _gen(client, team_id=team["team_id"], user_id="bob", max_budget=10)
    p = resolve.resolve_token(key["key"])
    for i, cost in enumerate((0.25, 0.5)):
        adm = enforce.admit(p, request_id=f"req-{i}", model="mock", prompt_tokens=10, max_tokens=10,
                            input_cost_per_token=0.01, output_cost_per_token=0.03)
        enforce.settle(adm, prompt_tokens=10, completion_tokens=5, cost=cost, status=200, deployment="mock-1",
                       router={"strategy": "x"}, latency_ms=12.5)
    assert client.get("/key/info", params={"key": key["key"]}).json()["info"]["spend"] == 0.75
    assert client.get("/team/info", params={"team_id": "t1"}).json()["team_info"]["spend"] == 0.75
    logs = client.get("/spend/logs", params={"api_key": key["key"]}).json()
    assert [l["request_id"] for l in logs] == ["req-1", "req-0"]
    assert logs[0]["spend"] == 0.5 and logs[0]["model_id"] == "mock-1" and logs[0]["metadata"]["router"] == {"strategy": "x"}
    assert logs[0]["prompt_tokens"] == 10 and logs[0]["completion_tokens"] == 5 and logs[0]["status_code"] == 200
    assert "messages" not in str(logs)
    by_req = client.get("/spend/logs", params={"request_id": "req-0"}).json()
    assert [l["spend"] for l in by_req] == [0.25]
    assert len(client.get("/spend/logs", params={"team_id": "t1"}).json()) == 2
    assert len(client.get("/spend/logs", params={"user_id": "bob", "page_size": 1, "page": 2}).json()) == 1
    assert client.get("/spend/logs", params={"user_id": "nobody"}).json() == []
    assert client.get("/spend/logs", params={"start_date": "2000-01-01", "end_date": "2000-01-02"}).json() == []


def test_admin_routes_need_admin(client):
    from gateway.keys import resolve

    plain = _gen(client)
    admin_key = _gen(client, metadata={"role": "admin"})
    resolve.invalidate()
    r = client.get("/key/list", headers={"Authorization": f"Bearer {plain['key']}"})
    _is_openai_error(r) and None
    assert r.status_code == 403
    assert client.get("/key/list", headers={"Authorization": f"Bearer {admin_key['key']}"}).status_code == 200
    assert client.get("/key/list", headers={"Authorization": "Bearer sk-nope"}).status_code == 401
    assert client.get("/key/list", headers={"Authorization": ""}).status_code == 401


BAD_INPUT = [
    # (method, path, body or params, expected status)
    ("post", "/key/generate", {"max_budget": -1}, 400),
    ("post", "/key/generate", {"budget_duration": "30x"}, 400),
    ("post", "/key/generate", {"duration": "soon"}, 400),
    ("post", "/key/generate", {"models": "mock"}, 400),
    ("post", "/key/generate", {"rpm_limit": "10"}, 400),
    ("post", "/key/generate", {"metadata": ["x"]}, 400),
    ("post", "/key/generate", {"team_id": "no-such-team"}, 400),
    ("post", "/key/generate", {"team_id": "T", "models": ["not-in-team"]}, 400),
    ("post", "/key/generate", {"key": "not-sk"}, 400),
    ("post", "/key/generate", "not json", 400),
    ("get", "/key/info", {"key": "sk-unknown"}, 404),
    ("get", "/key/info", {}, 400),
    ("post", "/key/update", {"key": "sk-unknown", "max_budget": 1}, 404),
    ("post", "/key/update", {"key": "EXISTING", "max_budget": -5}, 400),
    ("post", "/key/update", {"key": "EXISTING", "budget_duration": "1 fortnight"}, 400),
    ("post", "/key/update", {"key": "EXISTING", "team_id": "no-such-team"}, 400),
    ("post", "/key/update", {"key": "EXISTING", "tpm_limit": 1.5}, 400),
    ("post", "/key/update", {"max_budget": 1}, 400),
    ("post", "/key/delete", {"keys": ["EXISTING", "sk-unknown"]}, 404),
    ("post", "/key/delete", {"keys": "EXISTING"}, 400),
    ("post", "/key/delete", {}, 400),
    ("post", "/key/delete", {"key_aliases": ["nope"]}, 404),
    ("get", "/key/list", {"page": 0}, 400),
    ("get", "/key/list", {"size": "many"}, 400),
    ("post", "/key/block", {"key": "sk-unknown"}, 404),
    ("post", "/key/block", {"key": 5}, 400),
    ("post", "/key/unblock", {"key": "sk-unknown"}, 404),
    ("post", "/key/unblock", {}, 400),
    ("post", "/key/regenerate", {"key": "sk-unknown"}, 404),
    ("post", "/key/regenerate", {}, 400),
    ("post", "/key/regenerate", {"key": "EXISTING", "max_budget": -1}, 400),
    ("post", "/team/new", {"max_budget": -2}, 400),
    ("post", "/team/new", {"budget_duration": "1y"}, 400),
    ("post", "/team/new", {"team_id": "T"}, 400),  # already exists
    ("post", "/team/new", {"team_id": "bad id with spaces"}, 400),
    ("post", "/team/new", {"rpm_limit": True}, 400),
    ("get", "/team/info", {"team_id": "nope"}, 404),
    ("get", "/team/info", {}, 400),
    ("post", "/team/update", {"team_id": "nope", "rpm_limit": 1}, 404),
    ("post", "/team/update", {"team_id": "T", "max_budget": "lots"}, 400),
    ("post", "/team/update", {"rpm_limit": 1}, 400),
    ("post", "/team/delete", {"team_ids": ["T", "nope"]}, 404),
    ("post", "/team/delete", {"team_ids": []}, 400),
    ("post", "/team/delete", {"team_ids": "T"}, 400),
    ("get", "/spend/logs", {"start_date": "yesterday"}, 400),
    ("get", "/spend/logs", {"start_date": "2026-01-02", "end_date": "2026-01-01"}, 400),
    ("get", "/spend/logs", {"page": -1}, 400),
]


@pytest.fixture(scope="module")
def shared(moto_server):
    """One table, team and key for all bad-input cases (each case checks its own before/after)."""
    import uuid

    from fastapi.testclient import TestClient

    from tests.keys.conftest import aws_env, build_app, reset_caches

    mp = pytest.MonkeyPatch()
    name = f"gw-bad-{uuid.uuid4().hex[:6]}"
    for k, v in aws_env(moto_server.url, name).items():
        mp.setenv(k, v)
    reset_caches()
    from gateway.keys.store import get_store
    from gateway_dev.devstack import ensure_table

    ensure_table(name)
    with TestClient(build_app()) as c:
        c.headers["Authorization"] = f"Bearer {MASTER}"
        c.post("/team/new", json={"team_id": "T", "models": ["mock"]})
        existing = _gen(c, team_id="T", models=["mock"])
        yield c, get_store(), existing
    mp.undo()
    reset_caches()


@pytest.mark.parametrize("method,path,payload,status", BAD_INPUT, ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(BAD_INPUT)])
def test_bad_input_is_4xx_and_writes_nothing(shared, method, path, payload, status):
    client, store, existing = shared

    def fill(value):
        if value == "EXISTING":
            return existing["key"]
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    before = sorted(map(str, all_items(store.table)))
    if method == "get":
        r = client.get(path, params=fill(payload))
    elif isinstance(payload, str):
        r = client.post(path, content=payload, headers={"content-type": "application/json", "Authorization": f"Bearer {MASTER}"})
    else:
        r = client.post(path, json=fill(payload))
    _is_openai_error(r)
    assert r.status_code == status, r.text
    assert sorted(map(str, all_items(store.table))) == before
