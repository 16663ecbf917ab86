"""Runs inside a fresh process: import the Lambda handler, answer requests, print timings as JSON.

Used by gateway_bench.py: ``cold`` (time from process start to the first response, with the
import/config/warm-up breakdown; with the Extensions API stand-in, as on Lambda), ``warm``
(per-invocation latency of the Mangum handler, in-process, no network between client and handler),
``warm-ext`` (the same with a stand-in for Lambda's Extensions API, so spend is settled after the
response as on Lambda; reports both the latency the caller sees and the invocation's duration),
``gateway-alone`` (``warm-ext`` with the Router's call answering a prepared response: the gateway's
own share), ``litellm`` (the litellm Router call alone, a baseline; ``litellm-stream``: its time to
the first chunk), and ``meter-ext`` / ``meter-inline`` (untimed: the DynamoDB units and S3 requests
of each invocation, with and without the extension, and the S3 requests of one hot-reload check;
``BENCH_STREAM=1`` sends ``stream: true``).
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
    extensions_api = None
    if mode in ("cold", "warm-ext", "gateway-alone", "meter-ext"):
        # Play Lambda's Extensions API so app.py registers its post-response extension, as on Lambda.
        import os

        from tests.support.extensions_api import FakeExtensionsAPI

        extensions_api = FakeExtensionsAPI()
        os.environ["AWS_LAMBDA_RUNTIME_API"] = extensions_api.address
    before_import = time.time()
    import app  # the Lambda handler module: config from S3, litellm Router, warm-up

    imported = time.time()
    from tests.support import lambda_events as ev

    if mode == "gateway-alone":
        _answer_without_provider()

    import os

    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16,
                       **({"stream": True} if os.environ.get("BENCH_STREAM") == "1" else {})})

    def invoke() -> dict:
        event = ev.http_api_event("POST", "/v1/chat/completions", body=body, headers={"authorization": f"Bearer {key}"})
        return app.handler(event, ev.FakeContext())

    calls = 0
    answered = 0.0  # wall clock when the last response was ready

    def invocation() -> tuple[dict, float, float]:
        """(result, ms until the handler returned, ms until the invocation ended)."""
        nonlocal calls, answered
        if extensions_api is not None:
            extensions_api.invoke()
        started = time.perf_counter()
        result = invoke()
        returned = time.perf_counter()
        answered = time.time()
        if extensions_api is not None:  # Lambda ends the invocation when the extension asks for more
            calls += 1
            extensions_api.wait_next(calls + 1)
        return result, (returned - started) * 1000, (time.perf_counter() - started) * 1000

    first = invocation()[0]
    done = answered  # as on Lambda, the caller has the response before the extension's settle
    if mode == "cold":
        print(json.dumps({"status": first["statusCode"], "process_start": PROCESS_START, "import_s": imported - before_import,
                          "first_request_s": done - imported, "end": done}))
        return
    clean = _spend_log_cleaner(key)
    if mode == "litellm":
        print(json.dumps({"latencies_ms": _litellm_alone(n)}))
        return
    if mode == "litellm-stream":
        print(json.dumps({"latencies_ms": _litellm_alone(n, stream=True)}))
        return
    if mode.startswith("meter"):
        print(json.dumps(_meter(invocation, clean, n)))
        return
    for _ in range(50):
        invocation()
        clean()
    latencies, durations = [], []
    statuses = set()
    for _ in range(n):
        result, latency, duration = invocation()
        latencies.append(latency)
        durations.append(duration)
        statuses.add(result["statusCode"])
        clean()  # untimed: keeps moto's table small (its transactions copy the whole table)
    print(json.dumps({"latencies_ms": latencies, "durations_ms": durations, "statuses": sorted(statuses)}))


def _meter(invocation, clean, n: int) -> dict:
    """Untimed: units and requests per invocation (metering reads items back, so it is slow), then
    the S3 requests of one forced hot-reload check (``CONFIG_HOT_RELOAD=true`` in the environment)."""
    import boto3

    from gateway import aws
    from gateway.runtime import get_runtime

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from metering import DynamoMeter, S3Counter

    for _ in range(5):
        invocation()
        clean()
    dynamo = DynamoMeter(aws.client("dynamodb"), boto3.client("dynamodb"))
    s3 = S3Counter(aws.client("s3"))
    per_request, statuses, body_bytes = [], set(), []
    for _ in range(n):
        dynamo.reset()
        result = invocation()[0]
        per_request.append(dynamo.snapshot())
        statuses.add(result["statusCode"])
        body_bytes.append(len(result.get("body") or ""))
        clean()
    request_s3 = dict(s3.calls)
    s3.calls.clear()
    get_runtime().reloads.force_check()
    invocation()
    clean()
    return {"requests": per_request, "statuses": sorted(statuses), "response_bytes": max(body_bytes or [0]),
            "s3_per_request": {op: c / max(1, n) for op, c in request_s3.items()},
            "s3_per_reload_check": dict(s3.calls)}


def _answer_without_provider() -> None:
    """Attribution only: the Router's call returns a prepared response, so what is left is the
    gateway's own time (Mangum, auth, admission, routing, response, Powertools)."""
    import litellm

    from gateway.runtime import get_runtime

    answer = litellm.ModelResponse(
        id="chatcmpl-bench", model="fake", usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        choices=[{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}])

    async def prepared(**_: object) -> object:
        return answer

    get_runtime().engine().provider_router.acompletion = prepared


def _litellm_alone(n: int, stream: bool = False) -> list[float]:
    """Baseline: the same call through the gateway's litellm Router directly, no gateway around it;
    with ``stream``, the time to litellm's first chunk (the stream is then read to its end)."""
    import asyncio

    from gateway.runtime import get_runtime

    router = get_runtime().engine().provider_router
    messages = [{"role": "user", "content": "benchmark prompt"}]

    async def run(count: int) -> list[float]:
        out = []
        for _ in range(count):
            started = time.perf_counter()
            response = await router.acompletion(model="fake", messages=messages, max_tokens=16, stream=stream)
            if stream:
                first = None
                async for _chunk in response:
                    first = first or time.perf_counter()
                out.append(((first or time.perf_counter()) - started) * 1000)
            else:
                out.append((time.perf_counter() - started) * 1000)
        return out

    loop = asyncio.get_event_loop()
    loop.run_until_complete(run(50))
    return loop.run_until_complete(run(n))


if __name__ == "__main__":
    main()
