"""Batch fixtures on top of the shared ones (``stack``: moto server + fake upstream + config from S3).

The work queue and its DLQ are real SQS queues on moto's server with the template's redrive policy;
S3 and SQS events are built from ``sam local generate-event`` output (``events/``), filled in with the
real bucket, key, ETag, message ids and receipt handles.
"""
from __future__ import annotations

import copy
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest

from tests.conftest import BUCKET, MASTER_KEY

EVENTS = Path(__file__).resolve().parent / "events"
MAX_RECEIVES = 3


def _aws(service: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture(scope="session")
def batch_stack(stack):
    """Queue + DLQ (maxReceiveCount 3) and the batch environment; needs the DynamoDB table."""
    if not os.environ.get("GATEWAY_TABLE"):
        pytest.skip("the batch API keeps its state in DynamoDB: run without DEV_NO_TABLE")
    from gateway_dev import batch_worker

    queue_url, dlq_url = batch_worker.create_local_queues(f"batch-test-{uuid.uuid4().hex[:6]}",
                                                   max_receive_count=MAX_RECEIVES, visibility_timeout=30)
    os.environ.update(BATCH_QUEUE_URL=queue_url, BATCH_S3_BUCKET=BUCKET, BATCH_MAX_RECEIVES=str(MAX_RECEIVES),
                      BATCH_CHUNK_LINES="100", BATCH_LINE_CONCURRENCY="16", BATCH_INLINE_MAX_LINES="5",
                      BATCH_STATUS_REFRESH_SECONDS="0.2")
    return {"queue_url": queue_url, "dlq_url": dlq_url, "bucket": BUCKET}


@pytest.fixture()
def batch_env(batch_stack, monkeypatch):
    """Per test: a fresh table and an empty queue; env changes are undone afterwards.

    A fresh table because moto's TransactWriteItems copies the whole table (its rollback), so the
    keys' settle transaction costs O(items): 200+ ms per line once a few thousand items exist.
    DynamoDB's does not; the tests should measure this code, not moto's table size.
    """
    from gateway import settings
    from gateway_dev import devstack
    from gateway.keys import resolve

    name = f"batch-{uuid.uuid4().hex[:8]}"
    devstack.create_table(name, os.environ["AWS_ENDPOINT_URL"])
    monkeypatch.setenv("GATEWAY_TABLE", name)
    settings.reset()
    resolve.invalidate()
    yield batch_stack
    monkeypatch.undo()
    settings.reset()
    resolve.invalidate()


@pytest.fixture(autouse=True)
def _empty_queues(request):
    if "batch_env" not in request.fixturenames:
        yield
        return
    stack = request.getfixturevalue("batch_stack")
    sqs = _aws("sqs")
    for url in (stack["queue_url"], stack["dlq_url"]):  # PurgeQueue is once a minute
        while messages := receive(url):
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    yield


def chat_line(custom_id: str, model: str = "fake", content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 16, **extra}}


def jsonl(lines: list[Any]) -> bytes:
    return ("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n").encode()


def grant_prefix(owner: str) -> str:
    """Register (as the master key would) the input prefix the tests use for ``owner``; returns it."""
    from gateway.batch import prefixes

    prefix = "master" if owner == "master" else f"k-{owner[:16]}"
    prefixes.register(prefixes.PrefixGrant(prefix=prefix, key_id=owner))
    return prefix


def put_input(data: bytes, *, name: str | None = None, owner: str | None = "master", prefix: str | None = None,
              metadata: dict[str, str] | None = None) -> tuple[str, str]:
    """Upload under batch/input/<prefix>/ (default: a prefix granted to ``owner``, a key hash or
    ``master``; ``owner=None``: a prefix nobody registered); returns (key, etag)."""
    if prefix is None:
        prefix = grant_prefix(owner) if owner else f"nobody-{uuid.uuid4().hex[:8]}"
    folder = f"{prefix}/" if prefix else ""  # prefix="": directly under batch/input/
    key = f"batch/input/{folder}{name or uuid.uuid4().hex}.jsonl"
    etag = _aws("s3").put_object(Bucket=BUCKET, Key=key, Body=data, Metadata=metadata or {})["ETag"]
    return key, etag


def s3_event(key: str, etag: str, size: int) -> dict[str, Any]:
    """``sam local generate-event s3 put`` output with this object's key, size and ETag."""
    event = json.loads((EVENTS / "s3-put.json").read_text())
    obj = event["Records"][0]["s3"]["object"]
    obj.update(key=key, size=size, eTag=etag.strip('"'))
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    event["Records"][0]["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{BUCKET}"
    return event


def sqs_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    """``sam local generate-event sqs receive-message`` output, one record per received message."""
    from gateway_dev.batch_worker import lambda_message_attributes

    template = json.loads((EVENTS / "sqs-receive-message.json").read_text())["Records"][0]
    records = []
    for m in messages:
        record = copy.deepcopy(template)
        record.update(messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"],
                      md5OfBody=m["MD5OfBody"], eventSourceARN=arn)
        record["attributes"]["ApproximateReceiveCount"] = m["Attributes"]["ApproximateReceiveCount"]
        record["messageAttributes"] = lambda_message_attributes(m.get("MessageAttributes"))
        records.append(record)
    return {"Records": records}


def receive(queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
    return _aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages,
                                       AttributeNames=["All"], MessageAttributeNames=["All"],
                                       WaitTimeSeconds=0).get("Messages", [])


def deliver(queue_url: str, handler: Callable[[dict, Any], dict], *, max_messages: int = 10) -> tuple[int, set[str]]:
    """One event-source-mapping cycle with the sam-shaped event: receive, invoke, delete successes,
    make failures visible again at once. Returns (records, failed message ids)."""
    from gateway_dev.batch_worker import FakeContext, queue_arn

    messages = receive(queue_url, max_messages)
    if not messages:
        return 0, set()
    result = handler(sqs_event(messages, queue_arn(queue_url)), FakeContext())
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    sqs = _aws("sqs")
    for m in messages:
        if m["MessageId"] in failed:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return len(messages), failed


def drain(queue_url: str, handler: Callable[[dict, Any], dict], max_cycles: int = 500) -> int:
    cycles = 0
    while cycles < max_cycles and deliver(queue_url, handler)[0]:
        cycles += 1
    return cycles


def wait_status(get: Callable[[], dict[str, Any]], statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = get()
        if item["status"] in statuses or time.monotonic() > deadline:
            return item
        time.sleep(0.1)


def read_output(file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    from gateway.batch import blobs, store

    item = store.get_file(file_id)
    return [json.loads(line) for line in blobs.get(item["s3_key"]).decode().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def sqs_handler(batch_stack):
    """``functions/batch/sqs_handler.py`` imported as Lambda would."""
    from tests.support.lambda_events import load_handler

    return load_handler("functions/batch/sqs_handler.py", "batch_sqs_handler")


@pytest.fixture(scope="session")
def s3_handler(batch_stack):
    from tests.support.lambda_events import load_handler

    return load_handler("functions/batch/s3_handler.py", "batch_s3_handler")


@pytest.fixture()
def virtual_key(batch_env):
    """Make a virtual key: returns (token, key hash)."""
    from gateway.keys import admin
    from gateway.keys.schemas import GenerateKeyRequest

    def make(**fields: Any) -> tuple[str, str]:
        out = admin.generate_key(GenerateKeyRequest(**fields))
        return out["key"], out["token_id"]

    return make


__all__ = ["MASTER_KEY"]


@pytest.fixture(scope="session")
def batch_api(batch_stack, http_server):
    """The uvicorn app over the batch stack (``create_app`` mounts the batch router, with and without ``/v1``)."""
    return http_server


@pytest.fixture()
def worker(batch_env):
    """The local event-source stand-in polling the test queue (what `make run` starts)."""
    from gateway_dev.batch_worker import LocalWorker

    w = LocalWorker(batch_env["queue_url"], watch_inputs=False, poll_wait_seconds=0, fail_fast=True).start()
    yield w
    w.stop()
