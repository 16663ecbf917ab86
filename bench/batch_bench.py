"""Lines per second through the batch path, next to litellm called directly in a loop.

One process plays one batch worker (Lambda instance): the S3 handler starts the batch (validate,
fan out), then the SQS handler drains the queue on moto's server, as the event source mapping would
(one invocation per receive of up to 10 work items). Every line goes through the full pipeline:
claim item, budget/spend in DynamoDB (moto over HTTP), litellm Router, the fake upstream (its own
process), result item, and at the end the assembly of the output file. Baselines, same requests,
same fake upstream, same process: ``litellm.acompletion`` one at a time, and with the same number
in flight as the batch worker (``BATCH_LINE_CONCURRENCY``).

Results: a markdown table, saved to bench/results/batch.json.

Usage: python bench/batch_bench.py [--lines 2000] [--concurrency 8] [--chunk 100]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid

from common import BASE_ENV, ROOT, save_results, start_process, stop_process, table, wait_http

from gateway_dev import devstack

BODY = {"model": "fake", "messages": [{"role": "user", "content": "benchmark prompt"}], "max_tokens": 16}


def _lines(n: int) -> bytes:
    return "\n".join(json.dumps({"custom_id": f"b-{i}", "method": "POST", "url": "/v1/chat/completions",
                                 "body": BODY}) for i in range(n)).encode() + b"\n"


class DynamoCounter:
    """Counts DynamoDB calls made through gateway.aws's client (botocore event hook)."""

    def __init__(self) -> None:
        from gateway import aws

        self.calls = 0
        aws.client("dynamodb").meta.events.register("before-call.dynamodb", self._count)

    def _count(self, **_: object) -> None:
        self.calls += 1


async def _direct(upstream_url: str, n: int, concurrency: int) -> tuple[float, float]:
    import litellm

    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await litellm.acompletion(model="openai/fake-ok", api_base=upstream_url, api_key="fake-upstream-key",
                                      messages=BODY["messages"], max_tokens=16)

    await asyncio.gather(*(one() for _ in range(min(20, n))))  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started, (time.process_time() - cpu) * 1000 / n


def _cpu(pid: int) -> float:
    """User+system CPU seconds of another process (moto's server)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fresh_table(endpoint: str) -> str:
    """A new table per run: moto's TransactWriteItems copies the whole table (rollback), so its cost
    grows with the item count; DynamoDB's does not. Each scenario starts from an empty table."""
    from gateway import settings
    from gateway.keys import resolve

    name = f"bench-{uuid.uuid4().hex[:6]}"
    devstack.create_table(name, endpoint)
    os.environ["GATEWAY_TABLE"] = name
    settings.reset()
    resolve.invalidate()
    return name


def _batch_run(n: int, owner: str, bucket: str, queue_url: str, counter: DynamoCounter, moto_pid: int) -> dict[str, float]:
    import boto3

    from gateway.batch import handlers, prefixes, store
    from gateway_dev.batch_worker import FakeContext, drain, s3_put_event

    s3 = boto3.client("s3")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    prefixes.register(prefixes.PrefixGrant(prefix=prefix, key_id=owner))  # what POST /batch/s3_prefix/new does
    key = f"batch/input/{prefix}/requests.jsonl"
    data = _lines(n)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"]
    calls0 = counter.calls
    cpu0, moto0 = time.process_time(), _cpu(moto_pid)
    t0 = time.perf_counter()
    out = handlers.handle_s3_event(s3_put_event(bucket, key, len(data), etag), FakeContext())
    t1 = time.perf_counter()
    invocations = drain(queue_url, fail_fast=True)
    t2 = time.perf_counter()
    batch = store.get_batch(out["batches"][0]["batch_id"])
    assert batch["status"] == "completed" and batch["completed"] == n, batch
    return {"start_s": t1 - t0, "run_s": t2 - t1, "total_s": t2 - t0, "invocations": invocations,
            "ddb_per_line": (counter.calls - calls0) / n, "failed": batch["failed"],
            "cpu_ms_per_line": (time.process_time() - cpu0) * 1000 / n,
            "moto_cpu_ms_per_line": (_cpu(moto_pid) - moto0) * 1000 / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--virtual-lines", type=int, default=300,
                        help="lines for the virtual-key run (concurrency 1: moto's threaded server is not "
                             "atomic for concurrent transactions on one key's counters)")
    args = parser.parse_args()

    upstream_port = devstack.free_port()
    upstream = start_process([sys.executable, "-m", "tests.support.upstream", "--port", str(upstream_port)], {})
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    moto = devstack.MotoServer.start()
    try:
        wait_http(upstream_url + "/models")
        devstack.create_bucket("bench", moto.endpoint)
        devstack.create_table("bench", moto.endpoint)
        devstack.upload_file("bench", "config/config.yaml", ROOT / "bench" / "config.yaml", moto.endpoint)
        os.environ.update({**BASE_ENV, **moto.environ(), "LITELLM_MASTER_KEY": "sk-" + secrets.token_hex(16),
                           "FAKE_UPSTREAM_URL": upstream_url, "CONFIG_S3_BUCKET": "bench",
                           "CONFIG_S3_KEY": "config/config.yaml", "GATEWAY_TABLE": "bench",
                           "BATCH_CHUNK_LINES": str(args.chunk), "BATCH_LINE_CONCURRENCY": str(args.concurrency),
                           "BATCH_INLINE_MAX_LINES": "0"})
        os.environ.pop("LITELLM_CONFIG_PATH", None)
        from gateway_dev.batch_worker import create_local_queues
        from gateway.runtime import get_runtime
        from gateway.warmup import warm_up

        warm_up()
        get_runtime()
        queue_url, _ = create_local_queues("bench-batch")
        os.environ["BATCH_QUEUE_URL"] = queue_url
        counter = DynamoCounter()

        from gateway.batch import aio
        from gateway.keys import admin
        from gateway.keys.schemas import GenerateKeyRequest

        pid = moto.process.pid
        _fresh_table(moto.endpoint)
        _batch_run(50, "master", "bench", queue_url, counter, pid)  # warm: first pipeline calls, clients
        # baselines on the batch event loop (litellm keeps its async clients per loop)
        n1 = min(args.lines, 500)
        direct_1, direct_1_cpu = aio.run(_direct(upstream_url, n1, 1))
        direct_c, direct_c_cpu = aio.run(_direct(upstream_url, args.lines, args.concurrency))
        _fresh_table(moto.endpoint)
        master = _batch_run(args.lines, "master", "bench", queue_url, counter, pid)
        os.environ["BATCH_LINE_CONCURRENCY"] = "1"
        _fresh_table(moto.endpoint)
        master_1 = _batch_run(args.virtual_lines, "master", "bench", queue_url, counter, pid)
        _fresh_table(moto.endpoint)
        key_hash = admin.generate_key(GenerateKeyRequest(key_alias="bench-batch", max_budget=1000.0))["token_id"]
        virtual_1 = _batch_run(args.virtual_lines, key_hash, "bench", queue_url, counter, pid)

        def row(label: str, inflight: int, n: int, r: dict) -> list:
            return [label, inflight, n, n / r["total_s"], f"{r['start_s']:.2f} + {r['run_s']:.2f}",
                    f"{r['ddb_per_line']:.2f}", f"{r['cpu_ms_per_line']:.1f}", f"{r['moto_cpu_ms_per_line']:.1f}"]

        rows = [
            ["litellm.acompletion loop (baseline)", 1, n1, n1 / direct_1, "-", "-", f"{direct_1_cpu:.1f}", "-"],
            [f"litellm.acompletion, {args.concurrency} in flight (baseline)", args.concurrency, args.lines,
             args.lines / direct_c, "-", "-", f"{direct_c_cpu:.1f}", "-"],
            row("batch path, master key", args.concurrency, args.lines, master),
            row("batch path, master key", 1, args.virtual_lines, master_1),
            row("batch path, virtual key (budget + spend)", 1, args.virtual_lines, virtual_1),
        ]
        header = ["path", "lines in flight", "lines", "lines/s", "start + run (s)", "DynamoDB calls/line",
                  "worker CPU ms/line", "moto CPU ms/line"]
        print("\n## Batch throughput (one worker process)\n")
        print(table(rows, header))
        save_results("batch", {"lines": args.lines, "concurrency": args.concurrency, "chunk": args.chunk,
                               "rows": [dict(zip(header, r)) for r in rows],
                               "sqs_invocations": master["invocations"]})
        print(f"\nOne worker process on {os.cpu_count()} cores; moto's server and the fake upstream are separate "
              f"processes on the same cores. Chunks of {args.chunk} lines; {master['invocations']} SQS invocations "
              f"for {args.lines} lines. In AWS, BatchMaxConcurrency workers run in parallel.")
        return 0
    finally:
        stop_process(upstream)
        moto.stop()


if __name__ == "__main__":
    sys.exit(main())
