"""Response-cache lookups on the request path: the gateway's DynamoDB store against litellm's S3 cache.

Runs moto's server on loopback (HTTP, both services) and times, from an asyncio loop as the
gateway calls them:

- baselines: one bare DynamoDB GetItem round trip, and one S3 GetObject round trip, of a missing key;
- the gateway's store (``gateway.response_cache.store``, in a worker thread): hit (GetItem + zlib +
  JSON), miss, write;
- litellm's ``S3Cache`` (``litellm/caching/s3_cache.py``, 1.106.2: sync boto3 run through
  ``loop.run_in_executor``): ``async_get_cache`` hit and miss, ``async_set_cache``;
- the provider call a hit saves: ``litellm.acompletion`` against the fake upstream on loopback.

Loopback moto measures the client-side work and one local HTTP round trip, not AWS: in a region
both services add network time (DynamoDB GetItem is typically single-digit ms, S3 GetObject
tens of ms to first byte), so compare the rows with each other, not with production.

Results: a markdown table, saved to bench/results/cache.json.

    .venv/bin/python bench/cache_bench.py [--requests 200] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import string
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "gateway")]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

TABLE = "cache-bench"
BUCKET = "cache-bench"


def _answer(words: int) -> dict[str, Any]:
    """A chat completion body of ``words`` words drawn from a 5,000-word vocabulary (text that
    compresses about as prose does, not a repeated pattern)."""
    rng = random.Random(words)
    vocabulary = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    text = " ".join(rng.choices(vocabulary, k=words))
    return {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": words, "total_tokens": 11 + words}}


async def _time(n: int, make: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(5):  # warm connections and imports
        await make()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await make()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _row(name: str, samples: list[float]) -> dict[str, Any]:
    from bench.common import summary

    return {"case": name, **{k: round(v, 3) if isinstance(v, float) else v for k, v in summary(samples).items()}}


async def run(n: int) -> list[dict[str, Any]]:
    import boto3
    import litellm
    from gateway import aws
    from gateway.response_cache import store
    from gateway_dev import devstack
    from litellm.caching.s3_cache import S3Cache
    from starlette.concurrency import run_in_threadpool

    from tests.support.upstream import FakeUpstream

    moto = devstack.MotoServer.start()
    os.environ.update(moto.environ())
    upstream = FakeUpstream().start()
    rows: list[dict[str, Any]] = []
    try:
        devstack.create_table(TABLE, moto.endpoint)
        devstack.create_bucket(BUCKET, moto.endpoint)
        aws.reset()
        dynamodb = aws.client("dynamodb")
        s3 = boto3.client("s3")
        s3_cache = S3Cache(s3_bucket_name=BUCKET, s3_endpoint_url=moto.endpoint, s3_region_name="us-east-1")

        missing = {"pk": {"S": "RESPCACHE#missing"}, "sk": {"S": "RESPONSE"}}
        rows.append(_row("baseline: DynamoDB GetItem (miss), thread", await _time(n, lambda: run_in_threadpool(
            dynamodb.get_item, TableName=TABLE, Key=missing))))
        rows.append(_row("baseline: S3 GetObject (miss), thread", await _time(n, lambda: run_in_threadpool(
            _s3_get_missing, s3))))

        for words in (200, 4000):
            rows += await _sized(n, words, s3_cache)
        rows.append(_row("gateway DynamoDB miss", await _time(n, lambda: run_in_threadpool(
            store.get, TABLE, "absent", now=time.time(), max_age=None))))
        rows.append(_row("litellm S3Cache miss", await _time(n, lambda: s3_cache.async_get_cache("absent"))))
        messages = [{"role": "user", "content": "hi"}]
        rows.append(_row("the call a hit saves: litellm.acompletion to the fake upstream", await _time(
            n, lambda: litellm.acompletion(model="openai/fake-ok", api_base=upstream.url, api_key="x",
                                           messages=messages))))
    finally:
        upstream.stop()
        moto.stop()
    return rows


async def _sized(n: int, words: int, s3_cache: Any) -> list[dict[str, Any]]:
    """Write and hit rows of both caches for one answer size."""
    from gateway.response_cache import store
    from starlette.concurrency import run_in_threadpool

    body = _answer(words)
    label = f"{words} words ({len(json.dumps(body))} B JSON, {len(store.encode(body))} B zlib)"
    key, now = uuid.uuid4().hex, time.time()
    s3_key = f"{key}:s3"
    stored = {"timestamp": now, "response": json.dumps(body)}  # Cache._add_cache_logic's shape
    return [
        _row(f"gateway DynamoDB write, {label}", await _time(n, lambda: run_in_threadpool(
            store.put, TABLE, key, body, group="fake", ttl=600, now=now, max_item_bytes=350_000))),
        _row(f"gateway DynamoDB hit, {label}", await _time(n, lambda: run_in_threadpool(
            store.get, TABLE, key, now=time.time(), max_age=None))),
        _row(f"litellm S3Cache write, {label}", await _time(n, lambda: s3_cache.async_set_cache(s3_key, stored, ttl=600))),
        _row(f"litellm S3Cache hit, {label}", await _time(n, lambda: s3_cache.async_get_cache(s3_key))),
    ]


def _s3_get_missing(s3: Any) -> None:
    try:
        s3.get_object(Bucket=BUCKET, Key="missing")
    except s3.exceptions.NoSuchKey:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(args.requests))
    from bench.common import save_results, table

    save_results("cache", {"requests": args.requests, "rows": rows})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\n## Response-cache lookups (n={args.requests} per row)\n")
    print(table([[r["case"], r["p50"], r["p99"], r["mean"]] for r in rows], ["case", "p50 ms", "p99 ms", "mean ms"]))
    print("\nmoto on loopback: relative numbers only; in AWS both services add network time.")


if __name__ == "__main__":
    main()
