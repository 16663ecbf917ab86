"""Admission, settle and release against moto: limits, headers, rollback, periods, exactly-once."""
from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest

from gateway.principal import Principal
from gateway.errors import GatewayError
from gateway.keys import access, admin, enforce, resolve, spend
from gateway.keys.schemas import GenerateKeyRequest, NewTeamRequest, UpdateKeyRequest, UpdateTeamRequest
from tests.keys.conftest import all_items

PRICE = dict(input_cost_per_token=0.001, output_cost_per_token=0.002)
from gateway import settings


def make_key(**fields) -> str:
    return admin.generate_key(GenerateKeyRequest(**fields))["key"]


def admit(p: Principal, rid: str, prompt: int = 10, max_tokens: int = 10) -> enforce.Admission:
    return enforce.admit(p, request_id=rid, model="mock", prompt_tokens=prompt, max_tokens=max_tokens, **PRICE)


def settle(adm: enforce.Admission, cost: float = 0.01, prompt: int = 10, completion: int = 5) -> None:
    enforce.settle(adm, prompt_tokens=prompt, completion_tokens=completion, cost=cost, status=200,
                   deployment="mock-1", router=None, latency_ms=5.0)


def test_model_access(store):
    admin.new_team(NewTeamRequest(team_id="t", models=["mock", "gpt-4o", "openai/*", "claude"]))
    token = make_key(team_id="t", models=["mock", "claude"])
    admin.update_team(UpdateTeamRequest(team_id="t", models=["mock", "gpt-4o", "openai/*"]))  # team drops claude
    p = resolve.resolve_token(token)
    access.check_model_access(p, "mock", access.NO_ACCESS_GROUPS)
    with pytest.raises(GatewayError) as e:
        access.check_model_access(p, "gpt-4o", access.NO_ACCESS_GROUPS)  # team allows, key does not
    assert e.value.status_code == 403 and e.value.code == "key_model_access_denied"  # LiteLLM's type
    with pytest.raises(GatewayError) as e:
        access.check_model_access(p, "claude", access.NO_ACCESS_GROUPS)  # key allows, team does not
    assert e.value.status_code == 403 and e.value.code == e.value.type == "team_model_access_denied"
    everything = ["mock", "gpt-4o", "claude", "openai/gpt-5"]
    assert access.allowed_models(p, everything, access.NO_ACCESS_GROUPS) == ["mock"]
    p_all = resolve.resolve_token(make_key(team_id="t", models=["all-team-models"]))
    assert access.allowed_models(p_all, everything, access.NO_ACCESS_GROUPS) == ["mock", "gpt-4o", "openai/gpt-5"]
    p_free = resolve.resolve_token(make_key())
    assert access.allowed_models(p_free, everything, access.NO_ACCESS_GROUPS) == everything
    assert access.allowed_models(Principal.master(), everything, access.NO_ACCESS_GROUPS) == everything


def test_rpm_limit_headers_and_retry_after(store):
    p = resolve.resolve_token(make_key(rpm_limit=2, tpm_limit=1000))
    a1 = admit(p, "r1")
    assert a1.headers["x-ratelimit-remaining-requests"] == "1"
    assert a1.headers["x-ratelimit-remaining-tokens"] == "980"  # prompt + max_tokens reserved
    admit(p, "r2")
    with pytest.raises(GatewayError) as e:
        admit(p, "r3")
    err = e.value
    assert err.status_code == 429 and err.type == "requests" and err.code == "rate_limit_exceeded"
    assert err.headers["x-ratelimit-remaining-requests"] == "0" and 1 <= int(err.headers["retry-after"]) <= 60
    assert "x-ratelimit-remaining-tokens" in err.headers
    settle(a1, prompt=10, completion=2)
    assert store.get_usage("key", p.key_hash).tokens == 12 + 20  # a1 corrected to the 12 it used, a2 still 20 reserved


def test_tpm_limit(store):
    p = resolve.resolve_token(make_key(tpm_limit=50))
    admit(p, "a", prompt=10, max_tokens=20)
    with pytest.raises(GatewayError) as e:
        admit(p, "b", prompt=10, max_tokens=20)
    assert e.value.status_code == 429 and e.value.type == "tokens"


def test_parallel_limit_and_release(store):
    p = resolve.resolve_token(make_key(max_parallel_requests=1))
    a = admit(p, "a")
    with pytest.raises(GatewayError) as e:
        admit(p, "b")
    assert e.value.code == "max_parallel_requests_exceeded" and e.value.headers["retry-after"] == "1"
    enforce.release(a, status=502, error_code="upstream_error")
    b = admit(p, "b")  # slot is free again
    settle(b)
    u = store.get_usage("key", p.key_hash)
    assert u.parallel == 0 and u.reserved == 0 and u.spend == Decimal("0.01")
    logs = store.query_logs(key_hash=p.key_hash, start=0, end=time.time() + 5, limit=10)
    failed = [l for l in logs if l.request_id == "a"][0]
    assert failed.cost == 0 and failed.status == 502 and failed.error_code == "upstream_error"


def test_budget_reserves_worst_case_and_settles_real_cost(store):
    # worst case per request: 10*0.001 + 10*0.002 = 0.03
    p = resolve.resolve_token(make_key(max_budget=0.1))
    admitted = [admit(p, f"r{i}") for i in range(3)]  # 0.09 reserved
    with pytest.raises(GatewayError) as e:
        admit(p, "r4")  # 0.12 > 0.1
    assert e.value.status_code == 422 and e.value.type == "budget_exceeded"  # LiteLLM 1.106.2's status
    assert "retry-after" not in e.value.headers  # no budget_duration: it never resets
    for a in admitted:
        settle(a, cost=0.01)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.committed) == (Decimal("0.03"), 0, Decimal("0.03"))
    admit(p, "r5")  # room again after settling below the reservation


def test_budget_period_resets_without_cron(store):
    p = resolve.resolve_token(make_key(max_budget=0.05, budget_duration="3s"))
    time.sleep(3 - time.time() % 3 + 0.01)  # start at a period boundary, so "a" and "b" share a period
    settle(admit(p, "a"), cost=0.04)
    with pytest.raises(GatewayError) as e:
        admit(p, "b")
    assert e.value.type == "budget_exceeded" and 1 <= int(e.value.headers["retry-after"]) <= 3
    time.sleep(int(e.value.headers["retry-after"]) + 0.05)
    settle(admit(p, "c"), cost=0.01)  # new period: spend restarted
    u = store.get_usage("key", p.key_hash)
    assert u.spend == Decimal("0.01") and u.spend_total == Decimal("0.05")


def test_team_limits_apply_and_failed_team_check_rolls_back_key(store):
    admin.new_team(NewTeamRequest(team_id="t", rpm_limit=1))
    p1 = resolve.resolve_token(make_key(team_id="t", rpm_limit=10))
    p2 = resolve.resolve_token(make_key(team_id="t", rpm_limit=10))
    a = admit(p1, "a")
    assert a.headers["x-ratelimit-remaining-requests"] == "0"  # team's (tighter) remaining
    with pytest.raises(GatewayError) as e:
        admit(p2, "b")
    assert e.value.status_code == 429 and "team" in e.value.message
    u2 = store.get_usage("key", p2.key_hash)
    assert (u2.requests, u2.parallel, u2.reserved) == (0, 0, 0)  # nothing left reserved on the key
    settle(a, cost=0.02)
    assert store.get_usage("team", "t").spend == Decimal("0.02")


def test_team_without_limits_still_totals_spend(store):
    admin.new_team(NewTeamRequest(team_id="free"))
    p = resolve.resolve_token(make_key(team_id="free"))
    settle(admit(p, "x"), cost=0.5)
    assert store.get_usage("team", "free").spend_total == Decimal("0.5")


def test_revocation_is_immediate_at_admission_despite_cache(store):
    token = make_key()
    p = resolve.resolve_token(token)
    admin.set_blocked(token, True)
    with pytest.raises(GatewayError) as e:
        admit(p, "after-block")  # cached principal, but the version check sees the change
    assert e.value.status_code == 403 and e.value.code == "key_blocked"
    admin.set_blocked(token, False)
    p = resolve.resolve_token(token)
    admin.update_key(UpdateKeyRequest(key=token, models=["other"]))
    with pytest.raises(GatewayError) as e:
        admit(p, "after-update")  # reloaded config no longer allows "mock"
    assert e.value.code == "key_model_access_denied"
    admin.update_key(UpdateKeyRequest(key=token, models=[]))
    p = resolve.resolve_token(token)
    admin.delete_keys(admin.DeleteKeysRequest(keys=[token]))
    with pytest.raises(GatewayError) as e:
        admit(p, "after-delete")
    assert e.value.status_code == 401


def test_expired_key_refused_at_admission(store):
    p = resolve.resolve_token(make_key(duration="1s"))
    time.sleep(1.05)
    with pytest.raises(GatewayError) as e:
        admit(p, "late")
    assert e.value.status_code == 401 and e.value.code == "key_expired"


def test_master_admission_logs_spend(store):
    adm = admit(Principal.master(), "m1", prompt=10**6, max_tokens=10**6)  # no limits
    assert adm.headers == {}
    settle(adm, cost=1.25)
    logs = store.query_logs(key_hash="master", start=0, end=time.time() + 5, limit=5)
    assert [(l.request_id, l.cost) for l in logs] == [("m1", Decimal("1.25"))]


def test_settle_is_exactly_once(store):
    p = resolve.resolve_token(make_key())
    a = admit(p, "once")
    settle(a, cost=0.3)
    settle(a, cost=0.3)  # ignored: already done
    a.done = False
    settle(a, cost=0.3)  # a replay of the same admission: the conditional log put refuses it
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.3")
    assert len(store.query_logs(key_hash=p.key_hash, start=0, end=time.time() + 5, limit=10)) == 1


def test_settle_failure_is_queued_and_replayed(store, monkeypatch):
    from gateway import aws

    p = resolve.resolve_token(make_key())
    a = admit(p, "queued")
    good = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("SETTLE_MAX_ATTEMPTS", "2")
    aws.reset()
    settings.reset()  # settings are read once; re-read them
    settle(a, cost=0.2)  # does not raise
    assert [s.log.request_id for s in spend.pending()] == ["queued"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", good)
    aws.reset()
    assert spend.flush_pending(store) == 0
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.2")
    assert [l.cost for l in store.query_logs(key_hash=p.key_hash, start=0, end=time.time() + 5, limit=5)] == [Decimal("0.2")]


def test_leaked_slot_from_killed_instance_is_recovered(store, monkeypatch):

    p = resolve.resolve_token(make_key(max_parallel_requests=1, max_budget=0.03))
    admit(p, "killed")  # never settled: its instance "died"
    with pytest.raises(GatewayError):
        admit(p, "blocked")
    monkeypatch.setenv("KEY_SLOT_STALE_SECONDS", "0")
    settings.reset()  # settings are read once; re-read them
    time.sleep(0.01)
    settle(admit(p, "recovered"), cost=0.01)
    u = store.get_usage("key", p.key_hash)
    assert (u.parallel, u.reserved, u.spend) == (0, 0, Decimal("0.01"))


def test_warm_key_costs_three_one_unit_writes_no_reads(store):
    from gateway import aws

    token = make_key(rpm_limit=100, max_budget=10, tpm_limit=10**6)
    settle(admit(resolve.resolve_token(token), "warmup"))
    calls: list[str] = []
    events = aws.client("dynamodb").meta.events
    hook = lambda model, **_: calls.append(model.name)  # noqa: E731
    events.register("before-call.dynamodb.*", hook)
    try:
        settle(admit(resolve.resolve_token(token), "counted"))  # resolve is a cache hit
    finally:
        events.unregister("before-call.dynamodb.*", hook)
    # admission (with the request's own sp_ record), the log, the conditional settle: no transaction
    assert calls == ["UpdateItem", "PutItem", "UpdateItem"]


def test_prompt_text_logged_only_when_enabled(store, monkeypatch):
    from gateway import settings

    p = resolve.resolve_token(make_key())
    payload = {"messages": [{"role": "user", "content": "secret prompt"}], "response": "secret answer"}
    a = admit(p, "quiet")
    enforce.settle(a, prompt_tokens=1, completion_tokens=1, cost=0.0, status=200, deployment=None, router=None,
                   latency_ms=1.0, payload=payload)
    monkeypatch.setenv("GATEWAY_LOG_PROMPTS", "true")
    settings.reset()
    b = admit(p, "loud")
    enforce.settle(b, prompt_tokens=1, completion_tokens=1, cost=0.0, status=200, deployment=None, router=None,
                   latency_ms=1.0, payload=payload)
    items = {i["request_id"]["S"]: i for i in all_items(store.table) if "request_id" in i}
    assert "secret" not in str(items["quiet"])
    assert "secret prompt" in items["loud"]["payload"]["S"]
