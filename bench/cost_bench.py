"""All-in cost per million requests, from what gateway_bench.py measured and metered in its run.

Reads bench/results/gateway.json and prices, per million requests (us-east-1, on-demand, arm64):
- Lambda: billed duration x memory at three sizes, plus the request charge. The billed duration is the
  invocation's measured duration minus the fake upstream's own time, plus a provider latency: the
  buffered function (Mangum) ends its invocation only when the Lambda extension has written the spend
  (``gateway/after_response.py``), so its measured duration includes the settle; the streaming function
  (Lambda Web Adapter, RESPONSE_STREAM Function URL) runs uvicorn, settles inline, and is billed for the
  whole stream, measured here as the uvicorn path's latency;
- the front door: HTTP API per request (512 KB increments) or a Function URL (no charge of its own;
  streamed bytes beyond 6 MB per response are charged, never reached by these responses);
- DynamoDB on-demand: the write and read units the gateway's calls used in the metered run (units counted
  from item sizes, transactional writes doubled: ``cost_model``, ``metering``);
- S3: the requests of a hot-reload check (metered: one HeadObject for the config, one ListObjectsV2 for
  the router artifacts) every ``RELOAD_INTERVAL_S`` seconds per warm environment, at
  ``REQUESTS_PER_SECOND_PER_ENVIRONMENT``.
Provider latencies: the fake upstream's (the gateway's own overhead), 0.5 s, 3 s, and a 20 s stream,
where Lambda's wall time dominates.

Pricing pages (region us-east-1; the figures are in bench/aws_prices.py):
https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/api-gateway/pricing/,
https://aws.amazon.com/dynamodb/pricing/on-demand/, https://aws.amazon.com/s3/pricing/

Usage: python bench/cost_bench.py  (after gateway_bench.py; writes bench/results/cost.json)
"""
from __future__ import annotations

import json
import sys
from typing import Any

import aws_prices
from common import RESULTS, save_results, table
from cost_model import RequestProfile, per_million, reload_checks_per_request

MEMORY_MB = (512, 1024, 1769)  # 1769 MB (one full vCPU) is the template's default
RELOAD_INTERVAL_S = 60  # the template's ConfigSyncInterval default
REQUESTS_PER_SECOND_PER_ENVIRONMENT = 1.0
PROVIDER_LATENCIES = (("gateway overhead only (fake upstream)", 0.0), ("provider 0.5 s", 500.0),
                      ("provider 3 s", 3_000.0), ("20 s stream", 20_000.0))
PATHS = (  # (label, function, front door)
    ("buffered function (Mangum + extension), HTTP API", "buffered", "http_api"),
    ("buffered function (Mangum + extension), Function URL", "buffered", "function_url"),
    ("streaming function (Web Adapter, RESPONSE_STREAM), Function URL", "streaming", "function_url"),
)


def _row(rows: list[dict], row_id: str) -> dict | None:
    return next((r for r in rows if r["id"] == row_id), None)


def overheads(gateway: dict[str, Any], key: str) -> dict[str, float]:
    """Billed milliseconds of each function beyond the provider's own time, for ``key``."""
    direct = _row(gateway["warm"], "direct-c1")["p50"]
    invocation = gateway["invocation_ms"].get(key) or {}
    uvicorn = _row(gateway["warm"], f"uvicorn-{key}-c1")
    out = {}
    if invocation.get("p50") is not None:
        out["buffered"] = max(1.0, invocation["p50"] - direct)
    if uvicorn:
        out["streaming"] = max(1.0, uvicorn["p50"] - direct)
    return out


def profiles(gateway: dict[str, Any], key: str, provider_ms: float) -> list[RequestProfile]:
    metered = gateway["metered"]
    checks = reload_checks_per_request(RELOAD_INTERVAL_S, REQUESTS_PER_SECOND_PER_ENVIRONMENT)
    s3 = {op: n * checks for op, n in metered["s3_per_reload_check"].items()}
    extra = overheads(gateway, key)
    out = []
    for label, function, front in PATHS:
        m = metered["profiles"].get(f"{function}-{key}")
        if m is None or function not in extra:
            continue
        out.append(RequestProfile(label=label, billed_ms=extra[function] + provider_ms, write_units=m["write_units"],
                                  read_units=m["read_units"], front_door=front, s3_calls=s3,
                                  response_bytes=m["response_bytes"]))
    return out


def build(gateway: dict[str, Any]) -> dict[str, Any]:
    rows, breakdown = [], []
    for key in ("virtual", "master"):
        for scenario, provider_ms in PROVIDER_LATENCIES:
            for p in profiles(gateway, key, provider_ms):
                costs = {str(mb): per_million(p, mb) for mb in MEMORY_MB}
                rows.append({"key": key, "scenario": scenario, "provider_ms": provider_ms, "path": p.label,
                             "billed_ms": p.billed_ms, "write_units": p.write_units, "read_units": p.read_units,
                             "total": {mb: c["total"] for mb, c in costs.items()}})
                if key == "virtual":
                    breakdown.append({"scenario": scenario, "path": p.label, **costs["1024"]})
    return {"region": aws_prices.REGION, "pricing_pages": aws_prices.PRICING_PAGES, "memory_mb": list(MEMORY_MB),
            "reload_interval_s": RELOAD_INTERVAL_S,
            "requests_per_second_per_environment": REQUESTS_PER_SECOND_PER_ENVIRONMENT,
            "s3_per_reload_check": gateway["metered"]["s3_per_reload_check"],
            "rows": rows, "breakdown_1024": breakdown}


def print_tables(cost: dict[str, Any]) -> None:
    mbs = [str(mb) for mb in cost["memory_mb"]]
    print(f"\n## Cost per million requests, virtual key ({cost['region']}, arm64, on-demand; $ total by memory)\n")
    print(table([[r["scenario"], r["path"], r["billed_ms"], *(r["total"][mb] for mb in mbs)]
                 for r in cost["rows"] if r["key"] == "virtual"],
                ["provider latency", "path", "billed ms", *(f"$ at {mb} MB" for mb in mbs)]))
    print("\n## Where the money goes at 1024 MB, virtual key ($ per million requests)\n")
    print(table([[b["scenario"], b["path"], b["lambda_duration"], b["lambda_requests"], b["front_door"], b["dynamodb"],
                  b["s3"], b["total"]] for b in cost["breakdown_1024"]],
                ["provider latency", "path", "Lambda duration", "Lambda requests", "HTTP API / URL", "DynamoDB",
                 "S3 reload checks", "total"]))
    print("\n## Master key against virtual key (gateway overhead only, 1024 MB)\n")
    print(table([[r["key"], r["path"], r["billed_ms"], r["write_units"], r["read_units"], r["total"]["1024"]]
                 for r in cost["rows"] if r["provider_ms"] == 0],
                ["key", "path", "billed ms", "DynamoDB write units", "DynamoDB read units", "$ per million at 1024 MB"]))
    checks = ", ".join(f"{op} {n}" for op, n in sorted(cost["s3_per_reload_check"].items()))
    print(f"\nS3 per hot-reload check: {checks}; one check per {cost['reload_interval_s']} s per warm environment "
          f"at {cost['requests_per_second_per_environment']:g} request/s each. Idle cost: $0.")


def main() -> int:
    source = RESULTS / "gateway.json"
    if not source.exists():
        print("cost_bench: run gateway_bench.py first (no bench/results/gateway.json)")
        return 1
    cost = build(json.loads(source.read_text()))
    print_tables(cost)
    save_results("cost", cost)
    return 0


if __name__ == "__main__":
    sys.exit(main())
