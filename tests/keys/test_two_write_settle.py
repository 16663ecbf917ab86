"""A key admitted against its spare settles with two plain writes (the spend log, then one update
that also takes the next spare) instead of a transaction plus an update, and stays exact when the
instance dies or fails between the two: replayed, reclaimed or both, the key's spend equals the
sum of its spend logs. Against moto over HTTP; failures are injected at the botocore boundary.
A reclaim needs ``KEY_SLOT_STALE_SECONDS``; the tests set it to 0 (and wait past the spare's expiry)
where they reclaim, which also makes every settlement after that "late" (it uses the transaction)."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from botocore.exceptions import EndpointConnectionError

from gateway import aws, settings
from gateway.dynamo.codec import serialize
from gateway.keys import enforce, resolve, spares, spend
from gateway.keys.store.dynamodb import log_item
from tests.keys.test_enforce import PRICE, make_key
from tests.keys.test_spares import DynamoCalls, admit, finish

WORST = Decimal("0.03")


@pytest.fixture(autouse=True)
def no_spares_left():
    spares.forget_all()
    yield
    spares.forget_all()


class Killed(BaseException):
    """The execution environment stops here (timeout, out of memory): nothing after it runs."""


class FailOn:
    """Raise at the moment a DynamoDB ``operation`` would be sent (the first ``times`` of them)."""

    def __init__(self, operation: str, error: BaseException, times: int = 1) -> None:
        self.operation, self.error, self.left = operation, error, times
        self._events = aws.client("dynamodb").meta.events

    def _hook(self, model, **_) -> None:
        if model.name == self.operation and self.left > 0:
            self.left -= 1
            raise self.error

    def __enter__(self) -> "FailOn":
        self._events.register("before-call.dynamodb.*", self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._events.unregister("before-call.dynamodb.*", self._hook)


def _item_bytes(item: dict) -> int:
    """DynamoDB's item size (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
    attribute names plus values; numbers about 1 byte per 2 digits + 1; maps and lists 3 bytes + contents."""
    def size(value: dict) -> int:
        (kind, v), = value.items()
        if kind == "S":
            return len(v.encode())
        if kind == "N":
            return len(v.lstrip("-").replace(".", "")) // 2 + 2
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + 1 + size(x) for k, x in v.items())
        if kind in ("L", "SS"):
            return 3 + sum(size(x) if kind == "L" else len(x.encode()) for x in v)
        raise AssertionError(kind)
    return sum(len(name.encode()) + size(value) for name, value in item.items())


def _logged_spend(store, key_hash: str) -> Decimal:
    return sum((log.cost for log in store.query_logs(key_hash=key_hash, start=0, end=time.time() + 60, limit=1000)),
               Decimal(0))


def _warm_key(store, **limits):
    """A key whose first request settled the usual way and left a spare for the next."""
    p = resolve.resolve_token(make_key(**limits))
    finish(admit(p, "warm-up"))
    return p


def _killed_while_settling(monkeypatch, used: enforce.Admission, at: str):
    """Settle ``used`` and die when ``at`` is sent; the instance and its spares are gone. Returns
    the settlement it was writing (what its ``spend_settle_failed`` line would have held)."""
    captured = []
    original = spend.commit
    monkeypatch.setattr(spend, "commit", lambda store_, s: captured.append(s) or original(store_, s))
    with FailOn(at, Killed()), pytest.raises(Killed):
        finish(used)
    monkeypatch.setattr(spend, "commit", original)
    spares.forget_all()
    return captured[0]


def _refused_after_reclaiming(monkeypatch, p, request_id: str, wait: float = 0.1) -> None:
    """Make every record abandoned (``KEY_SLOT_STALE_SECONDS=0``, past expiry), then an admission the
    budget refuses: its refusal reclaims them first."""
    monkeypatch.setenv("KEY_SLOT_STALE_SECONDS", "0")
    settings.reset()
    time.sleep(wait)
    with pytest.raises(Exception):
        enforce.admit(p, request_id=request_id, model="mock", prompt_tokens=10, max_tokens=20, **PRICE)


def test_a_spare_admitted_request_settles_in_two_writes_of_one_unit_each(store, table):
    p = _warm_key(store, max_budget=10, rpm_limit=1000)
    used = admit(p, "r2")
    assert used.spare_id is not None
    with DynamoCalls() as calls:
        finish(used)
    assert calls == ["PutItem", "UpdateItem"]  # the log, then settle + the next spare in one update
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, len(u.spares)) == (Decimal("0.02"), WORST, 1, 1)
    assert spares.covered(p, WORST, 20, time.time())  # this instance holds the new spare
    usage_item = aws.client("dynamodb").get_item(TableName=table, Key=serialize({"pk": f"KEY#{p.key_hash}", "sk": "USAGE"}))["Item"]
    [log] = [x for x in store.query_logs(key_hash=p.key_hash, start=0, end=time.time() + 1, limit=10) if x.request_id == "r2"]
    assert log.reservation_id == used.spare_id
    for item in (usage_item, serialize({k: v for k, v in log_item(log).items() if v is not None})):
        assert _item_bytes(item) <= 1024  # one write unit each: 2 per request (it was about 5)
    assert _logged_spend(store, p.key_hash) == u.spend


def test_a_next_spare_that_does_not_fit_still_settles(store):
    p = _warm_key(store, max_budget=0.045)  # after r2: 0.02 spent, and a next spare of 0.03 would pass 0.045
    used = admit(p, "r2")
    with DynamoCalls() as calls:
        finish(used)
    assert calls[:3] == ["PutItem", "UpdateItem", "UpdateItem"]  # with the spare (refused), then alone
    u = store.get_usage("key", p.key_hash)
    assert u.spend == Decimal("0.02") and u.spend == _logged_spend(store, p.key_hash)


def test_killed_between_the_writes_a_reclaim_settles_from_the_log(store, monkeypatch):
    p = _warm_key(store, max_budget=0.05)  # spend 0.01; the spare holds 0.03
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.05")
    settings.reset()
    used = admit(p, "r2")
    with FailOn("UpdateItem", Killed()), pytest.raises(Killed):
        finish(used)
    spares.forget_all()  # the instance is gone with whatever it held
    u = store.get_usage("key", p.key_hash)
    assert u.spend == Decimal("0.01") and u.reserved == WORST  # the log is written, the counters are not
    assert _logged_spend(store, p.key_hash) == Decimal("0.02")
    monkeypatch.setenv("KEY_SLOT_STALE_SECONDS", "0")
    settings.reset()
    time.sleep(0.1)
    # 0.01 + 0.03 held + 0.03 > 0.05: the refusal reclaims the abandoned spare, settling r2 by its log
    after = enforce.admit(p, request_id="r3", model="mock", prompt_tokens=10, max_tokens=10, **PRICE)
    enforce.settle(after, prompt_tokens=10, completion_tokens=5, cost=0.01, status=200, deployment="d",
                   router=None, latency_ms=1.0)
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, u.spares) == (Decimal("0.03"), 0, 0, ())
    assert u.spend == _logged_spend(store, p.key_hash)


def test_failing_between_the_writes_the_logged_settlement_replays_exactly_once(store, monkeypatch, caplog):
    monkeypatch.setenv("SETTLE_MAX_ATTEMPTS", "2")
    settings.reset()
    p = _warm_key(store, max_budget=10)
    used = admit(p, "r2")
    down = EndpointConnectionError(endpoint_url="http://dynamodb")
    with caplog.at_level(logging.ERROR, logger="gateway.keys.spend"), FailOn("UpdateItem", down, times=2):
        enforce.settle(used, prompt_tokens=10, completion_tokens=5, cost=0.01, status=200, deployment="d",
                       router=None, latency_ms=1.0)
    [line] = [r.getMessage() for r in caplog.records if "spend_settle_failed" in r.getMessage()]
    spend._pending.clear()  # the instance is gone: only the ERROR line is left
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.01")  # logged, not counted yet
    settlement = spend.settlement_from_record(json.loads(line)["settlement"])
    assert settlement.next_spare is None  # a replay settles only
    assert spend.replay(store, settlement) == "recorded"
    assert spend.replay(store, settlement) == "already_recorded"
    u = store.get_usage("key", p.key_hash)
    assert u.spend == Decimal("0.02") == _logged_spend(store, p.key_hash)


def test_a_replay_after_the_reclaim_adds_nothing_twice(store, monkeypatch):
    p = _warm_key(store, max_budget=0.05)
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.05")
    settings.reset()
    original = _killed_while_settling(monkeypatch, admit(p, "r2"), at="UpdateItem")
    _refused_after_reclaiming(monkeypatch, p, "r3")  # its refusal reclaimed (and settled) r2 first
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.02")
    assert spend.replay(store, original) == "already_recorded"  # the original settlement, late
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel) == (Decimal("0.02"), 0, 0) and u.spend == _logged_spend(store, p.key_hash)


def test_killed_before_the_log_a_late_replay_after_the_reclaim_adds_the_spend_once(store, monkeypatch):
    p = _warm_key(store, max_budget=0.05)
    monkeypatch.setenv("KEY_SPARE_TTL_SECONDS", "0.05")
    settings.reset()
    original = _killed_while_settling(monkeypatch, admit(p, "r2"), at="PutItem")  # nothing written at all
    _refused_after_reclaiming(monkeypatch, p, "r3")  # its refusal reclaimed r2's spare, finding no log
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.spares) == (Decimal("0.01"), 0, ())
    late = replace(original, next_spare=None)  # as replayed from its spend_settle_failed line
    assert spend.replay(store, late) == "recorded"
    assert spend.replay(store, late) == "already_recorded"
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel) == (Decimal("0.02"), 0, 0) and u.spend == _logged_spend(store, p.key_hash)


def test_an_admission_s_own_record_makes_its_settle_exact_without_a_transaction(store, monkeypatch):
    """Off Lambda (no spares) the admission leaves the request's own sp_ record: killed between the
    settle's two writes, the reclaim settles the request from its log just the same."""
    p = resolve.resolve_token(make_key(max_budget=0.05))
    adm = enforce.admit(p, request_id="r1", model="mock", prompt_tokens=10, max_tokens=10, **PRICE)
    assert adm.spare_id is None and adm.record_id is not None
    with DynamoCalls() as calls, FailOn("UpdateItem", Killed()), pytest.raises(Killed):
        enforce.settle(adm, prompt_tokens=10, completion_tokens=5, cost=0.01, status=200, deployment="d",
                       router=None, latency_ms=1.0)
    assert calls == ["PutItem", "UpdateItem"]
    assert store.get_usage("key", p.key_hash).reserved == WORST
    _refused_after_reclaiming(monkeypatch, p, "r2", wait=0.05)  # 0.03 held + 0.05 > 0.05, after reclaiming r1
    u = store.get_usage("key", p.key_hash)
    assert (u.spend, u.reserved, u.parallel, u.spares) == (Decimal("0.01"), 0, 0, ())
    assert u.spend == _logged_spend(store, p.key_hash)
