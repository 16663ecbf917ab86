"""Key limits hold exactly when several gateway instances serve ``/v1/messages`` at once, over HTTP.

Three OS processes each run the gateway app under uvicorn (as separate instances do), configured
like the ``stack`` fixture: the same moto server for S3 and DynamoDB, the same bucket, config and
table. A burst of concurrent Anthropic Messages requests (the official SDK, stream and non-stream
mixed) is spread round-robin over them, all on one virtual key:

- a key with ``rpm_limit``: at most ``rpm_limit`` accepted per minute window (exactly that many
  when the burst fits in one window), every other request a 429 ``rate_limit_error`` in
  Anthropic's shape (a budget refusal is LiteLLM's 422);
- a key with ``max_budget``: final spend <= max_budget, at least one accepted and one refused, and
  no fewer accepted than fit side by side at the worst-case reservation;
- for both: one spend log per accepted request and none for a refused one, the logs' costs summed
  equal the key's recorded spend exactly (Decimal, and through the admin API), nothing left
  reserved or in flight.

The instances share a moto server of their own that serves one request at a time
(``SerialMotoServer``): DynamoDB applies each conditional write atomically, moto's threaded server
does not (two UpdateItems on one item interleave inside it, and the rpm condition then admits one
request too many). The clients still race as separate Lambda instances do.

The in-process counterpart at the ``enforce`` level is ``tests/keys/test_concurrency.py``.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import anthropic
import httpx
import pytest

from tests.anthropic.conftest import CLAUDE, generate_key
from tests.conftest import BUCKET, CONFIG_KEY, FIXTURES, MASTER_KEY, ROOT, ROUTER_PREFIX, TABLE
from tests.keys.conftest import SerialMotoServer
from tests.support.gateway_processes import gateway_processes

INSTANCES = 3
BURST = 30
RPM = 10
MAX_TOKENS = 16
# a prompt of ~90 counted tokens: the reservation (counted prompt tokens at the input price +
# max_tokens at the output price) then covers what the fake upstream reports whatever the pricing
# (20 input + 30 cache-read + 10 cache-write tokens, 9 output tokens; tests/support/upstream.py)
PROMPT = [{"role": "user", "content": "hello " * 80}]
# tests/fixtures/gateway.yaml, claude-sonnet-4-5-20250929
PRICE_IN, PRICE_OUT = Decimal("0.000003"), Decimal("0.000015")
SETTLE_DEADLINE_S = 15.0


# ---------------------------------------------------------------- the instances
def _instance_env(aws_endpoint: str) -> dict[str, str]:
    """The environment the ``stack`` fixture set on this process (moto, bucket, config, table,
    master key, fake upstream), as a separate instance would get it."""
    env = dict(os.environ)
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS="True",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_TRACE_DISABLED="true",
        PYTHONUNBUFFERED="1",
    )
    env["AWS_ENDPOINT_URL"] = aws_endpoint
    for name in ("AWS_LAMBDA_RUNTIME_API", "GATEWAY_DEV_MODE"):  # a plain server, not Lambda, not dev mode
        env.pop(name, None)
    for name in ("AWS_ENDPOINT_URL", "CONFIG_S3_BUCKET", "CONFIG_S3_KEY", "GATEWAY_TABLE", "LITELLM_MASTER_KEY",
                 "FAKE_UPSTREAM_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION"):
        assert env.get(name), f"{name} is not set: the stack fixture did not run"
    return env


@pytest.fixture(scope="module")
def serial_aws(stack):
    """A serial moto server with the stack's bucket, config and table, for the instances and this
    module's own reads; the rest of the session keeps its server (nothing global is changed)."""
    from gateway_dev import devstack

    server = SerialMotoServer().start()
    devstack.create_bucket(BUCKET, server.url)
    devstack.create_table(TABLE, server.url)
    devstack.upload_file(BUCKET, CONFIG_KEY, FIXTURES / "gateway.yaml", server.url)
    devstack.upload_dir(BUCKET, ROUTER_PREFIX + "default/", ROOT / "router" / "artifacts" / "default", server.url)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def books(serial_aws):
    """The key store on the instances' DynamoDB, for this process's reads of usage and spend logs."""
    import boto3

    from gateway.keys.store.dynamodb import DynamoDBKeyStore

    return DynamoDBKeyStore(TABLE, client=boto3.client("dynamodb", endpoint_url=serial_aws))


@pytest.fixture(scope="module")
def instances(serial_aws):
    """``INSTANCES`` uvicorn processes serving ``gateway.app:app``, each ready (config loaded, AWS
    answering) before the tests start; stopped at the end of the module."""
    with gateway_processes(_instance_env(serial_aws), INSTANCES) as urls:
        yield urls


# ---------------------------------------------------------------- the burst
def _one(client: anthropic.Anthropic, rid: str, stream: bool) -> dict:
    """One Messages request; what came back (accepted, or the refusal's status and body)."""
    headers = {"x-request-id": rid}
    try:
        if stream:
            with client.messages.stream(model=CLAUDE, max_tokens=MAX_TOKENS, messages=PROMPT,
                                        extra_headers=headers) as events:
                message = events.get_final_message()
                echoed = events.response.headers.get("x-request-id")
        else:
            raw = client.messages.with_raw_response.create(model=CLAUDE, max_tokens=MAX_TOKENS, messages=PROMPT,
                                                           extra_headers=headers)
            message, echoed = raw.parse(), raw.headers.get("x-request-id")
    except (anthropic.RateLimitError, anthropic.UnprocessableEntityError) as exc:  # rpm; budget (LiteLLM's 422)
        return {"rid": rid, "stream": stream, "ok": False, "status": exc.status_code, "body": exc.body,
                "retry_after": exc.response.headers.get("retry-after"), "error": None}
    except Exception as exc:  # any other outcome fails the test, with what it was
        return {"rid": rid, "stream": stream, "ok": False, "status": getattr(exc, "status_code", None),
                "body": getattr(exc, "body", None), "retry_after": None, "error": repr(exc)}
    return {"rid": rid, "stream": stream, "ok": True, "echoed": echoed, "type": message.type,
            "stop_reason": message.stop_reason, "output_tokens": message.usage.output_tokens}


def _burst(urls: list[str], key: str, tag: str) -> list[dict]:
    """``BURST`` requests released together by a barrier, round-robin over the instances, every
    other one streamed."""
    clients = [anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=30) for url in urls]
    barrier = threading.Barrier(BURST)

    def run(i: int) -> dict:
        barrier.wait(30)
        return _one(clients[i % len(clients)], f"{tag}-{i:02d}", stream=bool(i % 2))

    try:
        with ThreadPoolExecutor(BURST) as pool:
            return list(pool.map(run, range(BURST)))
    finally:
        for client in clients:
            client.close()


def _avoid_minute_boundary(margin: float = 12.0) -> None:
    """Start the burst early enough in a minute that it cannot straddle two rpm windows (the
    assertions still allow for it, see below)."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.2)


def _check_refusals(rows: list[dict], words: str, *, retry_after: bool) -> None:
    """Every request not accepted was refused by the limit in Anthropic's shape: a 429
    ``rate_limit_error`` with ``retry-after`` for a window that resets, LiteLLM's 422 without it
    for a budget that never does (an SDK retries the first, not the second)."""
    status, kind = (429, "rate_limit_error") if retry_after else (422, "invalid_request_error")
    for r in rows:
        if r["ok"]:
            continue
        assert r["error"] is None and r["status"] == status, r
        body = r["body"]
        assert isinstance(body, dict) and body.get("type") == "error", r
        assert body["error"]["type"] == kind and words in body["error"]["message"], r
        assert body.get("request_id") == r["rid"], r
        if retry_after:
            assert r["retry_after"] and 1 <= int(r["retry_after"]) <= 60, r
        else:
            assert r["retry_after"] is None, r


def _check_accepted(rows: list[dict]) -> None:
    for r in rows:
        if r["ok"]:
            assert r["echoed"] == r["rid"] and r["type"] == "message" and r["stop_reason"] == "end_turn", r


# ---------------------------------------------------------------- the books
def _settled_books(store, key: str, accepted_ids: set[str]) -> tuple:
    """(usage, logs) from DynamoDB once every accepted request is settled: one log each and no
    request still in flight. Streams settle as they end, which may be after the client saw the end."""
    from gateway.keys.tokens import hash_token

    key_hash = hash_token(key)
    deadline = time.monotonic() + SETTLE_DEADLINE_S
    while True:
        usage = store.get_usage("key", key_hash)
        logs = store.query_logs(key_hash=key_hash, start=0, end=time.time() + 60, limit=10_000)
        settled = usage.parallel == 0 and usage.reserved == 0 and len(logs) >= len(accepted_ids)
        if settled or time.monotonic() > deadline:
            return usage, logs
        time.sleep(0.2)


def _check_books(store, url: str, key: str, rows: list[dict]) -> tuple:
    """What every key must show after the burst; returns (usage, logs) for the limit's own checks."""
    accepted_ids = {r["rid"] for r in rows if r["ok"]}
    usage, logs = _settled_books(store, key, accepted_ids)
    # one log per accepted request, none for a refused one (refused at admission: nothing reserved)
    assert sorted(l.request_id for l in logs) == sorted(accepted_ids)
    assert all(l.status == 200 and l.error_code is None and l.cost > 0 for l in logs), logs
    assert all(l.model == CLAUDE for l in logs)
    # the logs' costs add up to the key's spend to the last digit; nothing reserved or in flight
    total = sum((l.cost for l in logs), Decimal(0))
    assert total == usage.spend == usage.spend_total
    assert (usage.reserved, usage.parallel, usage.committed) == (0, 0, usage.spend)
    assert usage.spares == ()

    # the same through the admin API of an instance (floats there)
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    info = httpx.get(url + "/key/info", params={"key": key}, headers=admin, timeout=10)
    assert info.status_code == 200, info.text
    info = info.json()["info"]
    views = httpx.get(url + "/spend/logs", params={"api_key": key, "page_size": 1000}, headers=admin, timeout=10)
    assert views.status_code == 200, views.text
    views = views.json()
    assert sorted(v["request_id"] for v in views) == sorted(accepted_ids)
    assert all(v["status"] == "success" and v["api_key"] == logs[0].key_hash for v in views)
    assert abs(sum(v["spend"] for v in views) - info["spend"]) <= 1e-12
    assert info["spend"] == float(usage.spend) and info["spend_total"] == float(usage.spend)
    assert info["reserved_spend"] == 0.0
    return usage, logs


# ---------------------------------------------------------------- the proofs
def test_rpm_limit_holds_across_instances(instances, books):
    key = generate_key(instances[0], models=[CLAUDE], rpm_limit=RPM)
    _avoid_minute_boundary()
    rows = _burst(instances, key, f"rpm-{uuid.uuid4().hex[:8]}")

    accepted = [r for r in rows if r["ok"]]
    refused = [r for r in rows if not r["ok"]]
    _check_refusals(rows, "requests per minute", retry_after=True)
    _check_accepted(rows)
    assert {r["stream"] for r in accepted} == {True, False}  # both kinds got through
    usage, logs = _check_books(books, instances[1], key, rows)

    # accepted per minute window (of the admission, the log's start) <= rpm; a burst that could
    # straddle a boundary was delayed, but should one still straddle, each window holds on its own
    per_window = Counter(int(l.start_time // 60) for l in logs)
    print(f"\nrpm: accepted={len(accepted)} refused={len(refused)} windows={dict(per_window)}")
    assert all(n <= RPM for n in per_window.values()), per_window
    assert usage.requests <= RPM
    if len(per_window) == 1:
        # a refusal means the window's count had reached rpm (rpm counts admissions, and nothing
        # else refuses here): exactly rpm got through, the rest were refused
        assert len(accepted) == RPM and len(refused) == BURST - RPM
    else:
        assert RPM < len(accepted) <= 2 * RPM and refused


def test_max_budget_holds_across_instances(instances, books):
    # what one request reserves, at most: its counted prompt tokens (~90 for PROMPT) at the input
    # price plus max_tokens at the output price; what it really costs is well below (see PROMPT)
    import litellm

    prompt_tokens = litellm.token_counter(model="anthropic/" + CLAUDE, messages=PROMPT)
    reservation = prompt_tokens * PRICE_IN + MAX_TOKENS * PRICE_OUT
    max_budget = Decimal("5.5") * reservation  # 5 fit side by side even if all reserve at once
    key = generate_key(instances[0], models=[CLAUDE], max_budget=float(max_budget))
    rows = _burst(instances, key, f"budget-{uuid.uuid4().hex[:8]}")

    accepted = [r for r in rows if r["ok"]]
    refused = [r for r in rows if not r["ok"]]
    _check_refusals(rows, "Budget exceeded", retry_after=False)
    _check_accepted(rows)
    usage, logs = _check_books(books, instances[2], key, rows)
    budget = Decimal(repr(float(max_budget)))
    costs = sorted(l.cost for l in logs)
    print(f"\nbudget: max_budget={budget} reservation~{reservation} accepted={len(accepted)} "
          f"refused={len(refused)} spend={usage.spend} costs={costs[0]}..{costs[-1]}")
    assert usage.spend <= budget
    assert accepted and refused
    # a refusal means spend + reserved + this reservation would pass the budget, so at least
    # floor(max_budget / reservation) requests were admitted: the budget is not refused early
    assert len(accepted) >= int(budget // reservation) == 5
    assert costs[-1] <= reservation  # (the premise of the strict bound above: no request costs more)
