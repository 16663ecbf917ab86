"""Added latency of key auth + reserve + settle + spend log, and DynamoDB calls per request.

Runs moto's server on loopback (HTTP, like the local run), creates the table, then for each
scenario times N requests of ``resolve_token`` + ``admit`` + ``settle`` and counts the DynamoDB
calls they make (botocore ``before-call`` hooks; item writes counted inside transactions too).
Baseline: a single GetItem round trip to the same server, measured in the same run.

Results: a markdown table, saved to bench/results/keys.json.

    .venv/bin/python bench/keys_bench.py [--requests 200] [--json]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "gateway"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import save_results, table  # noqa: E402

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class CallCounter:
    """Counts DynamoDB API calls and the item writes inside them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.item_writes = 0

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:  # before-parameter-build
        self.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            self.item_writes += len(params.get("TransactItems", []))
        elif model.name in WRITES:
            self.item_writes += 1

    def reset(self) -> None:
        self.calls.clear()
        self.item_writes = 0


class OpTimer:
    """Wall time of each DynamoDB operation (before-call -> after-call), to see where latency goes."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._start = 0.0

    def before(self, **_: Any) -> None:
        self._start = time.perf_counter()

    def after(self, model: Any, **_: Any) -> None:
        self.times.setdefault(model.name, []).append((time.perf_counter() - self._start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    # moto's server logs every request through werkzeug at INFO; a library configuring logging later
    # must not bring the access log back, so the logger is switched off, not only raised.
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.ERROR)
    werkzeug.disabled = True
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update({
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1", "GATEWAY_TABLE": "keys-bench", "LITELLM_MASTER_KEY": "sk-bench-master",
    })
    try:
        results = run(args.requests)
    finally:
        server.stop()
    save_results("keys", results)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    base = results["baseline_getitem_ms"]
    print(f"\n## Key auth + admission + settle (moto over HTTP on loopback, {args.requests} requests per scenario)\n")
    rows = [["baseline: one GetItem round trip", base["p50"], base["p99"], 1.0, 1.0, 1.0, 0.0, 0.0, "GetItem 1"]]
    for name, r in results["scenarios"].items():
        rows.append([name, r["p50_ms"], r["p99_ms"], r["p50_ms"] / base["p50"], r["calls_per_request"],
                     r["reads_per_request"], r["writes_per_request"], r["item_writes_per_request"],
                     ", ".join(f"{op} {c / args.requests:g}" for op, c in sorted(r["calls"].items())) or "-"])
    print(table(rows, ["scenario", "p50 ms", "p99 ms", "x GetItem", "calls/req", "reads", "writes", "items written",
                       "calls per request"]))
    ops = ", ".join(f"{op} {ms:.2f}" for op, ms in sorted(results["op_p50_ms"].items()))
    print(f"\nmedian ms per DynamoDB operation (all scenarios): {ops}")


def run(n: int) -> dict[str, Any]:
    from gateway import aws
    from gateway.keys import admin, enforce, resolve
    from gateway.keys.schemas import GenerateKeyRequest, NewTeamRequest
    from gateway.dynamo.codec import serialize
    from gateway_dev.devstack import ensure_table

    ensure_table("keys-bench")
    client = aws.client("dynamodb")
    counter = CallCounter()
    client.meta.events.register("before-parameter-build.dynamodb.*", counter)
    # A second client, not counted and not timed, removes each spend-log item after its request:
    # moto deep-copies the whole table on every TransactWriteItems (its rollback), so latency would
    # otherwise grow with the number of logs stored. Real DynamoDB has no such cost.
    import boto3

    janitor = boto3.session.Session().client("dynamodb")
    timer = OpTimer()
    client.meta.events.register("before-call.dynamodb.*", timer.before)
    client.meta.events.register("after-call.dynamodb.*", timer.after)

    big = dict(rpm_limit=10**9, tpm_limit=10**12, max_budget=10**9, max_parallel_requests=10**6)
    admin.new_team(NewTeamRequest(team_id="bench-team", **big))
    key_only = admin.generate_key(GenerateKeyRequest(**big, budget_duration="30d"))["key"]
    with_team = admin.generate_key(GenerateKeyRequest(**big, team_id="bench-team"))["key"]

    def one_request(token: str, rid: str) -> None:
        principal = resolve.resolve_token(token)
        adm = enforce.admit(principal, request_id=rid, model="mock", prompt_tokens=20, max_tokens=50,
                            input_cost_per_token=1e-6, output_cost_per_token=2e-6)
        enforce.settle(adm, prompt_tokens=20, completion_tokens=30, cost=8e-5, status=200, deployment="mock-1",
                       router={"strategy": "bench"}, latency_ms=1.0)

    def clean_logs() -> None:
        for page in janitor.get_paginator("scan").paginate(
            TableName="keys-bench", FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "KEYLOG#"}}, ProjectionExpression="pk, sk",
        ):
            for item in page["Items"]:
                janitor.delete_item(TableName="keys-bench", Key=item)

    def measure(fn: Callable[[int], None]) -> tuple[list[float], Counter[str], int]:
        for i in range(20):  # warm up connections and caches
            fn(-i - 1)
        clean_logs()
        times, calls, item_writes = [], Counter(), 0
        for i in range(n):
            counter.reset()
            t0 = time.perf_counter()
            fn(i)
            times.append((time.perf_counter() - t0) * 1000)
            calls.update(counter.calls)
            item_writes += counter.item_writes
            clean_logs()
        return times, calls, item_writes

    key_item = serialize({"pk": "KEY#" + resolve.resolve_token(key_only).key_hash, "sk": "META"})
    base_times, _, _ = measure(lambda i: client.get_item(TableName="keys-bench", Key=key_item))

    scenarios: dict[str, Any] = {}

    def record(name: str, fn: Callable[[int], None]) -> None:
        times, calls, item_writes = measure(fn)
        reads = sum(v for k, v in calls.items() if k in READS)
        writes = sum(v for k, v in calls.items() if k in WRITES)
        scenarios[name] = {
            "p50_ms": statistics.median(times), "p99_ms": _pct(times, 99),
            "calls_per_request": sum(calls.values()) / n, "reads_per_request": reads / n,
            "writes_per_request": writes / n, "item_writes_per_request": item_writes / n,
            "calls": dict(calls),
        }

    record("warm key (cache hit), no team", lambda i: one_request(key_only, f"a{i}"))
    record_spares(scenarios, n, clean_logs, counter, admin, enforce, resolve, GenerateKeyRequest)
    record("warm key, team with limits", lambda i: one_request(with_team, f"b{i}"))
    os.environ["KEY_CACHE_TTL_SECONDS"] = "0"
    resolve.invalidate()  # drop entries cached with the 10 s TTL
    record("cold key (cache off), no team", lambda i: one_request(key_only, f"c{i}"))
    record("cold key (cache off), team", lambda i: one_request(with_team, f"d{i}"))
    os.environ["KEY_CACHE_TTL_SECONDS"] = "10"
    record("master key (log only)", lambda i: enforce.settle(
        enforce.admit(__import__("gateway.auth", fromlist=["Principal"]).Principal.master(), request_id=f"m{i}",
                      model="mock", prompt_tokens=1, max_tokens=1, input_cost_per_token=0, output_cost_per_token=0),
        prompt_tokens=1, completion_tokens=1, cost=0.0, status=200, deployment=None, router=None, latency_ms=1.0))
    return {
        "requests": n,
        "op_p50_ms": {op: statistics.median(v) for op, v in timer.times.items() if op != "Scan"},
        "baseline_getitem_ms": {"p50": statistics.median(base_times), "p99": _pct(base_times, 99)},
        "scenarios": scenarios,
    }


def record_spares(scenarios: dict[str, Any], n: int, clean_logs: Callable[[], None], counter: CallCounter,
                  admin: Any, enforce: Any, resolve: Any, request_cls: Any) -> None:
    """Spare admissions (Lambda): auth + admission before the provider call (timed), then settle and
    the next spare, which Lambda runs after the response (calls counted, not timed)."""
    token = admin.generate_key(request_cls(rpm_limit=10**9, tpm_limit=10**12, max_budget=10**9))["key"]

    def request(i: int) -> tuple[float, Counter[str], Counter[str]]:
        counter.reset()
        t0 = time.perf_counter()
        adm = enforce.admit(resolve.resolve_token(token), request_id=f"s{i}", model="mock", prompt_tokens=20,
                            max_tokens=50, input_cost_per_token=1e-6, output_cost_per_token=2e-6, use_spares=True)
        elapsed = (time.perf_counter() - t0) * 1000
        before = Counter(counter.calls)
        counter.reset()
        enforce.settle(adm, prompt_tokens=20, completion_tokens=30, cost=8e-5, status=200, deployment="mock-1",
                       router={"strategy": "bench"}, latency_ms=1.0)
        enforce.after_settle(adm)
        return elapsed, before, Counter(counter.calls)

    for i in range(20):
        request(-i - 1)
    clean_logs()
    times: list[float] = []
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for i in range(n):
        elapsed, b, a = request(i)
        times.append(elapsed)
        before.update(b)
        after.update(a)
        clean_logs()
    for name, calls, timed in (("spares (Lambda): before provider", before, True),
                               ("spares (Lambda): after response", after, False)):
        scenarios[name] = {
            "p50_ms": statistics.median(times) if timed else float("nan"),
            "p99_ms": _pct(times, 99) if timed else float("nan"),
            "calls_per_request": sum(calls.values()) / n,
            "reads_per_request": sum(v for k, v in calls.items() if k in READS) / n,
            "writes_per_request": sum(v for k, v in calls.items() if k in WRITES) / n,
            "item_writes_per_request": float("nan"), "calls": dict(calls),
        }


if __name__ == "__main__":
    main()
