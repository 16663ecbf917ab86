"""Runs inside a fresh process: import the Lambda handler, answer requests, print timings as JSON.

Used twice by gateway_bench.py: ``cold`` (time from process start to the first response, with the
import/config/warm-up breakdown) and ``warm`` (per-invocation latency of the Mangum handler,
in-process, no network between client and handler).
"""
from __future__ import annotations

import time

PROCESS_START = time.time()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "functions" / "gateway"), str(ROOT)]


def _spend_log_cleaner(key: str):
    """Delete this key's spend-log items after each request, outside the timed window.

    moto deep-copies the whole table on every TransactWriteItems, so without this the numbers
    would measure moto's table growth instead of the gateway (DynamoDB has no such effect)."""
    import hashlib
    import os

    import boto3

    table = os.environ.get("GATEWAY_TABLE")
    if not table:
        return lambda: None
    master = os.environ.get("LITELLM_MASTER_KEY")
    partition = "KEYLOG#master" if key == master else "KEYLOG#" + hashlib.sha256(key.encode()).hexdigest()
    dynamodb = boto3.client("dynamodb")

    def clean() -> None:
        items = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": partition}},
                               ProjectionExpression="pk, sk")["Items"]
        for item in items:
            dynamodb.delete_item(TableName=table, Key=item)

    return clean


def main() -> None:
    mode, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0
    before_import = time.time()
    import app  # the Lambda handler module: config from S3, litellm Router, warm-up

    imported = time.time()
    from tests.support import lambda_events as ev

    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16})

    def invoke() -> dict:
        event = ev.http_api_event("POST", "/v1/chat/completions", body=body, headers={"authorization": f"Bearer {key}"})
        return app.handler(event, ev.FakeContext())

    first = invoke()
    done = time.time()
    if mode == "cold":
        print(json.dumps({"status": first["statusCode"], "process_start": PROCESS_START, "import_s": imported - before_import,
                          "first_request_s": done - imported, "end": done}))
        return
    clean = _spend_log_cleaner(key)
    for _ in range(50):
        invoke()
        clean()
    latencies = []
    statuses = set()
    for _ in range(n):
        started = time.perf_counter()
        result = invoke()
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.add(result["statusCode"])
        clean()  # untimed: keeps moto's table small (its transactions copy the whole table)
    print(json.dumps({"latencies_ms": latencies, "statuses": sorted(statuses)}))


if __name__ == "__main__":
    main()
