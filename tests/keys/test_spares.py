"""Spare admissions (``gateway.keys.spares``) against moto over HTTP: no DynamoDB call before the
provider call on a warm key, exact limits, and nothing left reserved when spares go unused."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from gateway.errors import GatewayError
from gateway.keys import admin, enforce, reconcile, resolve, spares
from gateway.keys.schemas import NewTeamRequest, UpdateKeyRequest
from tests.keys.test_enforce import PRICE, make_key

WORST = Decimal("0.03")  # 10 prompt + 10 max tokens at PRICE
from gateway import settings


@pytest.fixture(autouse=True)
def no_spares_left():
    spares.forget_all()
    yield
    spares.forget_all()


def admit(p, rid: str, max_tokens: int = 10) -> enforce.Admission:
    return enforce.admit(p, request_id=rid, model="mock", prompt_tokens=10, max_tokens=max_tokens, use_spares=True,
                         **PRICE)


def finish(adm: enforce.Admission, cost: float = 0.01) -> None:
    """Settle, then what Lambda's post-response phase does: reserve the next request's spare."""
    enforce.settle(adm, prompt_tokens=10, completion_tokens=5, cost=cost, status=200, deployment="mock-1",
                   router=None, latency_ms=1.0)
    enforce.after_settle(adm)


class DynamoCalls:
    def __init__(self) -> None:
        from gateway import aws

        self.names: list[str] = []
        self._events = aws.client("dynamodb").meta.events

    def _hook(self, model, **_) -> None:
        self.names.append(model.name)

    def __enter__(self) -> list[str]:
        self._events.register("before-call.dynamodb.*", self._hook)
        return self.names

    def __exit__(self, *exc) -> None:
        self._events.unregister("before-call.dynamodb.*", self._hook)


def give_back_all(store) -> None:
    for spare in spares.forget_all():
        spares.drop(store, spare)


def assert_nothing_held(store, kind: str, ident: str) -> None:
    u = store.get_usage(kind, ident)
    assert (u.reserved, u.parallel, u.committed, u.spares) == (0, 0, u.spend, ())


def test_warm_key_is_admitted_with_no_dynamodb_call(store):
    p = resolve.resolve_token(make_key(rpm_limit=100, tpm_limit=10**6, max_budget=10))
    first = admit(p, "r1")
    assert first.spare_id is None  # nothing held yet: the usual conditional write
    with DynamoCalls() as after_response:
        finish(first)
    assert after_response == ["PutItem", "UpdateItem"]  # the log, then settle + the next request's spare
    u = store.get_usage("key", p.key_hash)
    assert u.reserved == WORST and len(u.spares) == 1 and u.requests == 2

    with DynamoCalls() as before_provider:
        second = admit(p, "r2")
    assert before_provider == []
    assert second.spare_id == u.spares[0][0]
    assert second.headers["x-ratelimit-remaining-requests"] == "98"
    finish(second, cost=0.02)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.requests, len(u.spares)) == (Decimal("0.03"), WORST, 3, 1)
    assert u.spares[0][0] != second.spare_id  # the used one is gone, a new one is held

    give_back_all(store)
    assert_nothing_held(store, "key", p.key_hash)
    u = store.get_usage("key", p.key_hash)
    assert u.requests == 2  # the unused spare's rpm slot came back (same minute)
    logs = store.query_logs(key_hash=p.key_hash, start=0, end=time.time() + 5, limit=10)
    assert sorted(l.request_id for l in logs) == ["r1", "r2"] and sum(l.cost for l in logs) == u.spend


def test_a_spare_that_does_not_cover_the_request_is_given_back(store):
    p = resolve.resolve_token(make_key(rpm_limit=3, max_budget=10))
    finish(admit(p, "r1"))  # rq 1 + spare 1
    bigger = admit(p, "r2", max_tokens=100)  # worst case above the spare's: the usual write (rq 3)
    assert bigger.spare_id is None and bigger.unused_spare is not None
    finish(bigger)  # gives the old spare back (rq 2), reserves one sized for this request (rq 3)
    u = store.get_usage("key", p.key_hash)
    assert u.requests == 3 and len(u.spares) == 1 and u.reserved == u.spares[0][1] > WORST
    with pytest.raises(GatewayError) as e:  # rpm 3 reached, counting the spare that is held
        admit(p, "r3", max_tokens=1000)
    assert e.value.status_code == 429
    assert store.get_usage("key", p.key_hash).spares == ()  # the refused request gave its spare back
    assert_nothing_held(store, "key", p.key_hash)


def test_a_spare_is_not_used_in_another_minute_or_after_its_ttl(store, monkeypatch):
    p = resolve.resolve_token(make_key(rpm_limit=100))
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "300")  # still fresh a minute later: only the window differs
    settings.reset()  # settings are read once; re-read them
    finish(admit(p, "r1"))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)  # the next minute window
    late = admit(p, "r2")
    assert late.spare_id is None and late.unused_spare is not None
    finish(late)
    monkeypatch.setattr(time, "time", real)

    q = resolve.resolve_token(make_key(max_budget=10))  # no rpm/tpm: the minute does not matter, the TTL does
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.05")
    settings.reset()  # settings are read once; re-read them
    finish(admit(q, "q1"))
    time.sleep(0.1)
    assert admit(q, "q2").spare_id is None


def test_changed_key_takes_no_new_spare(store):
    token = make_key(max_budget=10)
    p = resolve.resolve_token(token)
    finish(admit(p, "r1"))
    admin.update_key(UpdateKeyRequest(key=token, key_alias="renamed"))  # bumps the config version
    # the spare made before the change serves one request at most (documented: KEY_SPARE_TTL_SECONDS)...
    used = admit(p, "r2")
    assert used.spare_id is not None
    finish(used)
    # ...and none is made after it: the next request admits the usual way and reloads the key
    assert store.get_usage("key", p.key_hash).spares == ()
    fresh = admit(p, "r3")
    assert fresh.spare_id is None and fresh.principal.key.key_alias == "renamed"
    finish(fresh)
    give_back_all(store)
    assert_nothing_held(store, "key", p.key_hash)


def test_keys_with_parallel_limits_get_no_spares(store):
    p = resolve.resolve_token(make_key(max_parallel_requests=2, max_budget=10))
    finish(admit(p, "r1"))
    assert store.get_usage("key", p.key_hash).spares == ()
    assert admit(p, "r2").spare_id is None


def test_team_spares_are_exact_too(store):
    admin.new_team(NewTeamRequest(team_id="t", rpm_limit=50, max_budget=5))
    p = resolve.resolve_token(make_key(team_id="t", max_budget=10))
    finish(admit(p, "r1"))
    team = store.get_usage("team", "t")
    assert team.reserved == WORST and len(team.spares) == 1
    with DynamoCalls() as calls:
        second = admit(p, "r2")
    assert calls == [] and second.team_reserved == WORST
    finish(second)
    give_back_all(store)
    assert_nothing_held(store, "key", p.key_hash)
    assert_nothing_held(store, "team", "t")
    assert store.get_usage("team", "t").spend == Decimal("0.02")


def test_a_spare_whose_instance_is_gone_is_reclaimed(store, monkeypatch):
    p = resolve.resolve_token(make_key(max_budget=0.05))
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.05")
    settings.reset()  # settings are read once; re-read them
    finish(admit(p, "r1"))  # spend 0.01, and a spare of 0.03 held by this "instance"...
    spares.forget_all()  # ...which is then retired without giving it back
    with pytest.raises(GatewayError) as e:  # 0.01 + 0.03 held + 0.03 > 0.05
        enforce.admit(p, request_id="r2", model="mock", prompt_tokens=10, max_tokens=10, **PRICE)
    assert e.value.code == "budget_exceeded"
    monkeypatch.setenv("KEY_SLOT_STALE_SECONDS", "0")
    settings.reset()  # settings are read once; re-read them
    time.sleep(0.1)  # past the spare's expiry (+ the stale margin): nothing can be running on it
    admitted = enforce.admit(p, request_id="r3", model="mock", prompt_tokens=10, max_tokens=10, **PRICE)
    finish(admitted)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, u.spares) == (Decimal("0.02"), 0, 0, ())


def test_settling_a_reclaimed_spare_adds_spend_and_releases_nothing(store, monkeypatch):
    p = resolve.resolve_token(make_key(max_budget=10))
    finish(admit(p, "r1"))
    used = admit(p, "r2")
    assert used.spare_id is not None
    # another instance reclaimed it before this request's log existed, which takes KEY_SLOT_STALE_SECONDS:
    # a settlement that late goes through the transaction (gateway.keys.store.dynamodb._two_writes)
    monkeypatch.setenv("KEY_SLOT_STALE_SECONDS", "0")
    settings.reset()
    [(_, _, expires)] = store.get_usage("key", p.key_hash).spares
    assert reconcile.reclaim(store, "key", p.key_hash, [(used.spare_id, WORST, expires)])
    finish(used, cost=0.02)
    give_back_all(store)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, u.committed) == (Decimal("0.03"), 0, 0, Decimal("0.03"))
    assert store.reclaim_spares("key", p.key_hash, [("gone", WORST)]) is False


def test_spares_can_be_switched_off(store, monkeypatch):
    monkeypatch.setenv("KEY_SPARE_ADMISSIONS", "false")
    settings.reset()  # settings are read once; re-read them
    p = resolve.resolve_token(make_key(max_budget=10))
    finish(admit(p, "r1"))
    assert store.get_usage("key", p.key_hash).spares == ()
    monkeypatch.setenv("KEY_SPARE_ADMISSIONS", "true")
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "0")  # no key cache: no spares either
    settings.reset()  # settings are read once; re-read them
    finish(admit(p, "r2"))
    assert store.get_usage("key", p.key_hash).spares == ()


def test_an_expired_key_is_refused_and_its_spare_given_back(store):
    p = resolve.resolve_token(make_key(max_budget=10, duration="2s"))  # margin for a slow machine
    finish(admit(p, "r1"))
    assert len(store.get_usage("key", p.key_hash).spares) == 1
    time.sleep(max(0.0, p.key.expires - time.time()) + 0.1)
    with pytest.raises(GatewayError) as e:
        admit(p, "r2")
    assert e.value.status_code == 401
    assert_nothing_held(store, "key", p.key_hash)


def test_expired_spares_of_other_keys_are_given_back_after_a_response(store, monkeypatch):
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.3")
    settings.reset()  # settings are read once; re-read them
    idle = resolve.resolve_token(make_key(max_budget=10))
    busy = resolve.resolve_token(make_key(max_budget=10))
    finish(admit(idle, "idle-1"))  # this instance now holds a spare for `idle`, which sends nothing more
    assert len(store.get_usage("key", idle.key_hash).spares) == 1
    time.sleep(0.35)
    finish(admit(busy, "busy-1"))  # after this response, the expired spare for `idle` goes back
    assert_nothing_held(store, "key", idle.key_hash)
    assert len(store.get_usage("key", busy.key_hash).spares) == 1


def test_a_failed_spare_settle_replays_from_its_log_line_exactly(store, monkeypatch):
    import json
    import os

    from gateway import aws
    from gateway.keys import spend

    p = resolve.resolve_token(make_key(max_budget=10))
    finish(admit(p, "r1"))
    used = admit(p, "r2")
    assert used.spare_id is not None
    good = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # DynamoDB unreachable at settle time
    monkeypatch.setenv("SETTLE_MAX_ATTEMPTS", "1")
    aws.reset()
    settings.reset()  # settings are read once; re-read them
    enforce.settle(used, prompt_tokens=10, completion_tokens=5, cost=0.02, status=200, deployment="mock-1",
                   router=None, latency_ms=1.0)
    [queued] = [s for s in spend.pending() if s.log.key_hash == p.key_hash]
    monkeypatch.setenv("AWS_ENDPOINT_URL", good)
    aws.reset()
    # what `gateway-admin replay-settlements` reads back from the spend_settle_failed line
    line = json.loads(json.dumps({"settlement": spend._jsonable(queued)}, default=str))
    replayed = spend.settlement_from_record(line["settlement"])
    assert replayed.key is not None and replayed.key.spare == used.spare_id
    assert spend.replay(store, replayed) == "recorded"
    assert spend.replay(store, replayed) == "already_recorded"
    assert spend.flush_pending(store) == 0  # the in-process queue finds it recorded
    give_back_all(store)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, u.committed, u.spares) == (Decimal("0.03"), 0, 0, Decimal("0.03"), ())


def test_a_spare_the_team_refuses_leaves_nothing_on_the_key(store):
    admin.new_team(NewTeamRequest(team_id="tight", rpm_limit=2))
    p = resolve.resolve_token(make_key(team_id="tight", max_budget=10))
    finish(admit(p, "r1"))  # team: r1 + the spare = 2 requests this minute
    used = admit(p, "r2")
    assert used.spare_id is not None
    finish(used)  # the next spare would be the team's 3rd request: refused, and undone on the key
    assert_nothing_held(store, "key", p.key_hash)
    assert_nothing_held(store, "team", "tight")
    assert store.get_usage("team", "tight").requests == 2
