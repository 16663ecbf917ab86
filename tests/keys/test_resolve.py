"""Token resolution: hashing, the TTL cache and what it means for revocation, and failing closed."""
from __future__ import annotations

import time

import pytest

from gateway.errors import GatewayError
from gateway.keys import admin, enforce, resolve
from gateway.keys.schemas import GenerateKeyRequest, NewTeamRequest, UpdateTeamRequest
from gateway import settings


def make_key(**fields) -> str:
    return admin.generate_key(GenerateKeyRequest(**fields))["key"]


def count_calls(fn):
    from gateway import aws

    calls: list[str] = []
    hook = lambda model, **_: calls.append(model.name)  # noqa: E731
    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb.*", hook)
    try:
        fn()
    finally:
        events.unregister("before-call.dynamodb.*", hook)
    return calls


def test_unknown_key_is_401(store):
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token("sk-does-not-exist")
    assert e.value.status_code == 401 and e.value.type == "authentication_error"
    assert e.value.body()["error"]["code"] == "invalid_api_key"


def test_resolve_principal_and_admin_flag(store):
    admin.new_team(NewTeamRequest(team_id="t", models=["mock"]))
    p = resolve.resolve_token(make_key(team_id="t", metadata={"role": "admin"}))
    assert p.kind == "virtual" and p.is_admin and p.team.team_id == "t" and len(p.key_id) == 64
    assert not resolve.resolve_token(make_key()).is_admin


def test_cache_hit_within_ttl_then_reload(store, monkeypatch):
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "0.5")
    settings.reset()  # settings are read once; re-read them
    token = make_key()
    assert count_calls(lambda: resolve.resolve_token(token)) == ["GetItem"]
    assert count_calls(lambda: resolve.resolve_token(token)) == []  # cached
    time.sleep(0.55)
    assert count_calls(lambda: resolve.resolve_token(token)) == ["GetItem"]  # expired from cache


def test_revoked_key_works_from_cache_for_at_most_ttl(store, monkeypatch):
    """The documented window: resolve may serve a blocked key until its cache entry expires,
    but admission (every model request) refuses it at once."""
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "1.5")
    settings.reset()  # settings are read once; re-read them
    token = make_key()
    p = resolve.resolve_token(token)
    # block from "another instance": write the store directly, so this process's cache is not told
    store.save_key(p.key.with_changes(blocked=True, version=p.key.version + 1), p.key.version)
    assert resolve.resolve_token(token).key_hash == p.key_hash  # still served from this instance's cache
    time.sleep(1.55)
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(token)  # cache entry expired: reloaded and refused
    assert e.value.status_code == 403 and e.value.code == "key_blocked"
    with pytest.raises(GatewayError) as e:  # a principal resolved before the block is refused at admission
        enforce.admit(p, request_id="r", model="m", prompt_tokens=1, max_tokens=1,
                      input_cost_per_token=0.0, output_cost_per_token=0.0)
    assert e.value.status_code == 403 and e.value.code == "key_blocked"


def test_admin_change_in_same_process_invalidates_cache(store):
    token = make_key()
    resolve.resolve_token(token)
    admin.set_blocked(token, True)
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(token)
    assert e.value.status_code == 403


def test_expired_and_blocked_team(store):
    token = make_key(duration="1s")
    resolve.resolve_token(token)
    time.sleep(1.05)
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(token)  # checked on every resolve, even from cache
    assert e.value.status_code == 401 and e.value.code == "key_expired"
    admin.new_team(NewTeamRequest(team_id="tb"))
    t_token = make_key(team_id="tb")
    admin.update_team(UpdateTeamRequest(team_id="tb", blocked=True))
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(t_token)
    assert e.value.status_code == 403 and e.value.code == "team_blocked"


def test_fail_closed_when_dynamodb_unreachable(store, monkeypatch):
    from gateway import aws

    token = make_key()
    p = resolve.resolve_token(token)
    resolve.invalidate()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.reset()
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(token)
    assert e.value.status_code == 503 and e.value.type == "service_unavailable"
    with pytest.raises(GatewayError) as e:
        enforce.admit(p, request_id="r", model="m", prompt_tokens=1, max_tokens=1,
                      input_cost_per_token=0.0, output_cost_per_token=0.0)
    assert e.value.status_code == 503


def test_ping_for_readiness(store, monkeypatch):
    from gateway import aws
    from gateway.keys.errors import StoreUnavailable

    store.ping()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.reset()
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_fail_closed_when_table_missing(store, monkeypatch):
    from gateway import settings
    from gateway.keys.store import dynamodb

    token = make_key()
    resolve.invalidate()
    monkeypatch.setenv("GATEWAY_TABLE", "no-such-table")
    settings.reset()
    dynamodb._store_for.cache_clear()
    with pytest.raises(GatewayError) as e:
        resolve.resolve_token(token)
    assert e.value.status_code == 503


def test_fail_closed_when_dynamodb_throttles(store):
    """DynamoDB answering ThrottlingException (after botocore's own retries) is a 503, never a pass."""
    from botocore.awsrequest import AWSResponse

    from gateway import aws
    from gateway.keys import spend

    token = make_key()
    p = resolve.resolve_token(token)
    resolve.invalidate()
    seen: list[str] = []

    def throttle(model, **_):
        seen.append(model.name)
        return AWSResponse("http://dynamodb", 400, {}, None), {
            "Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the allowed throughput."},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    events = aws.client("dynamodb").meta.events
    events.register_first("before-call.dynamodb.*", throttle)
    try:
        with pytest.raises(GatewayError) as e:
            resolve.resolve_token(token)
        assert e.value.status_code == 503 and e.value.code == "key_store_unavailable"
        with pytest.raises(GatewayError) as e:
            enforce.admit(p, request_id="t", model="m", prompt_tokens=1, max_tokens=1,
                          input_cost_per_token=0.0, output_cost_per_token=0.0)
        assert e.value.status_code == 503
    finally:
        events.unregister("before-call.dynamodb.*", throttle)
    assert seen == ["GetItem", "UpdateItem"]
    assert spend.pending() == []
