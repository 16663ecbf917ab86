"""Admin input is bounded, and stored items that cannot be decoded never turn into 500s.

Bounds: each case breaks one limit of ``gateway.keys.schemas`` and must get a 400 in OpenAI's error
shape whose ``param`` names the field, with the table unchanged. Values at the limits are accepted
and read back intact.

Decoding: a key or team item with a field of the wrong type is written straight into moto's table
with boto3 (as a hand edit or another version would), then the admin API is called over ASGI.
"""
from __future__ import annotations

import json
import logging

import pytest

from gateway.keys import schemas
from tests.keys.conftest import all_items

LONG_NAME = "n" * (schemas.MAX_NAME_CHARS + 1)
LONG_TEAM_ID = "t" * (schemas.MAX_TEAM_ID_CHARS + 1)


def _nested(depth: int) -> dict:
    """A metadata object ``depth`` levels deep (the object itself is level 1)."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"level": value}
    return value


def _json_size(value: dict) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def _sized(size: int) -> dict:
    """A metadata object of exactly ``size`` bytes as compact JSON."""
    return {"blob": "x" * (size - _json_size({"blob": ""}))}


# (method, path, body or query, the param the 400 must name); bodies given as text are sent raw
OUT_OF_BOUNDS = [
    ("post", "/key/generate", {"metadata": _nested(schemas.MAX_METADATA_DEPTH + 1)}, "metadata"),
    ("post", "/key/generate", {"metadata": {"list": [[[[{"too": "deep"}]]]]}}, "metadata"),
    ("post", "/team/new", {"metadata": _sized(schemas.MAX_METADATA_BYTES + 1)}, "metadata"),
    ("post", "/team/new", {"metadata": {"": 1}}, "metadata"),
    ("post", "/team/new", {"metadata": {"a": {"": []}}}, "metadata"),
    ("post", "/team/new", {"metadata": {"k" * (schemas.MAX_JSON_KEY_CHARS + 1): 1}}, "metadata"),
    ("post", "/team/new", {"metadata": {"big": 10**38}}, "metadata"),
    ("post", "/team/new", {"metadata": {"big": 1e300}}, "metadata"),
    ("post", "/team/new", {"metadata": {"tiny": 1e-300}}, "metadata"),
    ("post", "/team/new", '{"metadata": {"x": NaN}}', "metadata"),
    ("post", "/team/new", '{"max_budget": Infinity}', "max_budget"),
    ("post", "/team/new", '{"max_budget": NaN}', "max_budget"),
    ("post", "/key/generate", {"max_budget": schemas.MAX_BUDGET_USD * 10}, "max_budget"),
    ("post", "/key/generate", {"rpm_limit": schemas.MAX_RPM + 1}, "rpm_limit"),
    ("post", "/key/generate", {"tpm_limit": schemas.MAX_TPM + 1}, "tpm_limit"),
    ("post", "/key/generate", {"max_parallel_requests": schemas.MAX_PARALLEL_REQUESTS + 1}, "max_parallel_requests"),
    ("post", "/key/generate", {"duration": "999999999d"}, "duration"),
    ("post", "/team/new", {"budget_duration": "1" * schemas.MAX_DURATION_CHARS + "d"}, "budget_duration"),
    ("post", "/key/generate", {"key_alias": LONG_NAME}, "key_alias"),
    ("post", "/key/generate", {"user_id": LONG_NAME}, "user_id"),
    ("post", "/key/generate", {"key": "sk-" + LONG_NAME}, "key"),
    ("post", "/key/generate", {"team_id": "has spaces"}, "team_id"),
    ("post", "/key/generate", {"models": ["m"] * (schemas.MAX_LIST_ITEMS + 1)}, "models"),
    ("post", "/key/generate", {"models": [LONG_NAME]}, "models.0"),
    ("post", "/key/generate", {"models": [""]}, "models.0"),
    ("post", "/key/update", {"key": LONG_NAME}, "key"),
    ("post", "/key/block", {"key": LONG_NAME}, "key"),
    ("post", "/key/delete", {"keys": ["sk-x"] * (schemas.MAX_LIST_ITEMS + 1)}, "keys"),
    ("post", "/key/delete", {"key_aliases": [LONG_NAME]}, "key_aliases.0"),
    ("post", "/team/new", {"team_alias": LONG_NAME}, "team_alias"),
    ("post", "/team/new", {"team_id": LONG_TEAM_ID}, "team_id"),
    ("post", "/team/update", {"team_id": "T#1"}, "team_id"),
    ("post", "/team/delete", {"team_ids": ["ok", "not ok"]}, "team_ids.1"),
    ("post", "/spend/replay", {"settlements": [{"log": {"": 1}}]}, "settlements.0"),
    ("get", "/key/info", {"key": LONG_NAME}, "key"),
    ("get", "/key/list", {"team_id": "bad id"}, "team_id"),
    ("get", "/key/list", {"key_alias": LONG_NAME}, "key_alias"),
    ("get", "/team/info", {"team_id": LONG_TEAM_ID}, "team_id"),
    ("get", "/spend/logs", {"user_id": LONG_NAME}, "user_id"),
    ("get", "/spend/logs", {"team_id": "x y"}, "team_id"),
    ("post", f"/key/sk-{LONG_NAME}/regenerate", {}, "key"),
]


@pytest.mark.parametrize("method,path,payload,param", OUT_OF_BOUNDS,
                         ids=[f"{m} {p[:20]} {param} {i}" for i, (m, p, _, param) in enumerate(OUT_OF_BOUNDS)])
def test_out_of_bounds_is_400_naming_the_field(client, store, method, path, payload, param):
    before = all_items(store.table)
    if method == "get":
        r = client.get(path, params=payload)
    elif isinstance(payload, str):
        r = client.post(path, content=payload, headers={"content-type": "application/json"})
    else:
        r = client.post(path, json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert set(r.json()) == {"error"} and set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert all_items(store.table) == before


def test_values_at_the_limits_are_stored_and_read_back(client):
    metadata = {**_nested(schemas.MAX_METADATA_DEPTH), "big": 10**38 - 1, "neg": -10**38 + 1, "tiny": 1e-130,
                "float": -123.456, "k" * schemas.MAX_JSON_KEY_CHARS: [None, True, "", 0]}
    metadata["pad"] = ""
    metadata["pad"] = "x" * (schemas.MAX_METADATA_BYTES - _json_size(metadata))
    assert _json_size(metadata) == schemas.MAX_METADATA_BYTES
    team = client.post("/team/new", json={"team_id": "t" * schemas.MAX_TEAM_ID_CHARS, "metadata": metadata,
                                          "max_budget": schemas.MAX_BUDGET_USD, "rpm_limit": schemas.MAX_RPM,
                                          "budget_duration": "1200mo"})
    assert team.status_code == 200, team.text
    alias = "a" * schemas.MAX_NAME_CHARS
    key = client.post("/key/generate", json={"team_id": team.json()["team_id"], "key_alias": alias,
                                             "metadata": metadata, "models": ["m"] * schemas.MAX_LIST_ITEMS,
                                             "duration": "36500d", "tpm_limit": schemas.MAX_TPM})
    assert key.status_code == 200, key.text
    info = client.get("/key/info", params={"key": key.json()["key"]}).json()["info"]
    assert info["metadata"] == metadata and info["key_alias"] == alias
    listed = client.get("/team/list")
    assert listed.status_code == 200 and listed.json()[0]["metadata"] == metadata


def test_metadata_with_an_empty_key_cannot_break_team_reads_for_everyone(client):
    """The fuzz's finding: moto returned such a map unparsable, and every team read failed after it."""
    client.post("/team/new", json={"team_id": "good"})
    assert client.post("/team/new", json={"team_id": "bad", "metadata": {"x": {"": ["y"]}}}).status_code == 400
    assert client.post("/team/update", json={"team_id": "good", "metadata": {"": 1}}).status_code == 400
    assert [t["team_id"] for t in client.get("/team/list").json()] == ["good"]
    assert client.get("/team/info", params={"team_id": "good"}).status_code == 200


# ---------------------------------------------------------------- items that cannot be decoded
#: (item kind, attribute, a stored value of the wrong type in DynamoDB's JSON)
CORRUPTIONS = [
    ("team", "metadata", {"L": [{"S": "a"}]}),
    ("team", "rpm_limit", {"S": "ten"}),
    ("team", "models", {"S": "mock"}),
    ("team", "budget_duration", {"S": "fortnightly"}),
    ("team", "created_at", {"S": "yesterday"}),
    ("key", "metadata", {"M": {"blob": {"B": b"\x00"}}}),
    ("key", "max_budget", {"S": "lots"}),
    ("key", "blocked", {"N": "1"}),
    ("key", "expires", {"N": "1e30"}),
    ("key", "ver", {"N": "1.5"}),
    ("key", "team_id", {"N": "7"}),
]


@pytest.fixture()
def corrupted(client, store, request):
    """A good and a bad team, each with a good and a bad key; the bad ones have one field corrupted."""
    from gateway import aws

    kind, attribute, value = request.param
    for team_id in ("good", "bad"):
        assert client.post("/team/new", json={"team_id": team_id}).status_code == 200
    keys = {name: client.post("/key/generate", json={"team_id": "bad" if name == "bad-team" else "good",
                                                     "key_alias": name}).json()
            for name in ("good", "bad", "bad-team")}
    pk = "TEAM#bad" if kind == "team" else f"KEY#{keys['bad']['token']}"
    aws.client("dynamodb").update_item(
        TableName=store.table, Key={"pk": {"S": pk}, "sk": {"S": "META"}},
        UpdateExpression="SET #a = :v", ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value})
    return kind, attribute, keys


@pytest.mark.parametrize("corrupted", CORRUPTIONS, indirect=True, ids=[f"{k}.{a}" for k, a, _ in CORRUPTIONS])
def test_lists_skip_an_undecodable_item_with_a_log_line(client, corrupted, caplog):
    kind, attribute, keys = corrupted
    with caplog.at_level(logging.WARNING, logger="gateway.keys.store.dynamodb"):
        teams = client.get("/team/list")
        listed = client.get("/key/list", params={"return_full_object": True})
    assert teams.status_code == 200 and listed.status_code == 200
    bad_team_listed = "bad" in [t["team_id"] for t in teams.json()]
    bad_key_listed = keys["bad"]["token"] in [k["token"] for k in listed.json()["keys"]]
    assert (bad_team_listed, bad_key_listed) == ((False, True) if kind == "team" else (True, False))
    assert keys["good"]["token"] in [k["token"] for k in listed.json()["keys"]]
    skipped = [r.getMessage() for r in caplog.records if "skipping undecodable" in r.getMessage()]
    ident = "bad" if kind == "team" else keys["bad"]["token"]
    assert skipped and all(ident in line and repr(attribute) in line for line in skipped), skipped
    assert keys["bad"]["key"] not in caplog.text  # the token itself is never logged


@pytest.mark.parametrize("corrupted", CORRUPTIONS, indirect=True, ids=[f"{k}.{a}" for k, a, _ in CORRUPTIONS])
def test_single_reads_show_the_raw_item_and_changes_are_a_clean_409(client, corrupted):
    kind, attribute, keys = corrupted
    if kind == "team":
        info = client.get("/team/info", params={"team_id": "bad"})
        shown = info.json()["team_info"]
        change = client.post("/team/update", json={"team_id": "bad", "rpm_limit": 1})
        assert client.post("/key/generate", json={"team_id": "bad"}).status_code == 409
    else:
        info = client.get("/key/info", params={"key": keys["bad"]["key"]})
        shown = info.json()["info"]
        change = client.post("/key/update", json={"key": keys["bad"]["key"], "rpm_limit": 1})
        assert client.post("/key/block", json={"key": keys["bad"]["key"]}).status_code == 409
        assert client.post("/key/regenerate", json={"key": keys["bad"]["key"]}).status_code == 409
    assert info.status_code == 200, info.text
    assert shown["undecodable_field"] == attribute and attribute in shown
    assert change.status_code == 409, change.text
    assert change.json()["error"]["code"] == "undecodable_record" and attribute in change.json()["error"]["message"]
    # the good team's info and update still work, whichever of its keys is unreadable
    assert client.get("/team/info", params={"team_id": "good"}).status_code == 200
    assert client.post("/team/update", json={"team_id": "good", "rpm_limit": 5}).status_code == 200


@pytest.mark.parametrize("corrupted", CORRUPTIONS, indirect=True, ids=[f"{k}.{a}" for k, a, _ in CORRUPTIONS])
def test_an_undecodable_item_can_be_deleted(client, store, corrupted):
    kind, _, keys = corrupted
    if kind == "team":
        r = client.post("/team/delete", json={"team_ids": ["bad"]})
        assert r.status_code == 200 and r.json() == {"deleted_teams": ["bad"], "deleted_keys": 1}, r.text
        gone = {"TEAM#bad", f"KEY#{keys['bad-team']['token']}"}
    else:
        r = client.post("/key/delete", json={"keys": [keys["bad"]["key"]]})
        assert r.status_code == 200, r.text
        gone = {f"KEY#{keys['bad']['token']}"}
    assert not gone & {item["pk"]["S"] for item in all_items(store.table)}


@pytest.mark.parametrize("corrupted", CORRUPTIONS, indirect=True, ids=[f"{k}.{a}" for k, a, _ in CORRUPTIONS])
def test_a_request_with_an_undecodable_key_or_team_is_a_401_not_a_500(corrupted, caplog):
    """The key (or its team) cannot be read: the caller is refused like an unknown key, with a log
    line naming the item, and the refusal is not cached (a repaired item works at once)."""
    from gateway.errors import GatewayError
    from gateway.keys import resolve

    kind, attribute, keys = corrupted
    token = keys["bad"]["key"] if kind == "key" else keys["bad-team"]["key"]
    resolve.invalidate()
    with caplog.at_level(logging.WARNING, logger="gateway.keys.resolve"), pytest.raises(GatewayError) as refused:
        resolve.resolve_token(token)
    assert (refused.value.status_code, refused.value.code) == (401, "invalid_api_key")
    assert any(attribute in r.getMessage() and "cannot be decoded" in r.getMessage() for r in caplog.records)
    assert token not in caplog.text
    assert resolve.resolve_token(keys["good"]["key"]).key.key_alias == "good"
