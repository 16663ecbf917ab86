"""The local stand-in for Lambda's event sources (``make run``, tests, benchmarks; dev-only, not in the layer).

- ``create_local_queues``: the work queue and its dead-letter queue with the same redrive policy as
  ``template.yaml`` (on moto's server: ``AWS_ENDPOINT_URL``).
- ``LocalWorker`` / ``start_local_worker``: a thread that long-polls the queue, hands each batch of
  messages to ``handle_sqs_event`` (the function the Lambda handler calls) as a real SQS event, and
  deletes what succeeded, exactly like an event source mapping with ``ReportBatchItemFailures``.
  Failed records are left for redelivery after the visibility timeout (moto applies the redrive
  policy on receive). With ``watch_inputs``, it also polls ``batch/input/`` in the bucket and hands
  each new object to ``handle_s3_event``, standing in for the S3 notification (so, as in AWS, only
  objects under a granted ``batch/input/<prefix>/`` start a batch).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from gateway import aws
from gateway.batch import blobs

log = logging.getLogger(__name__)
REGION = "us-east-1"
ACCOUNT = "123456789012"


def create_local_queues(name: str = "llm-gateway-batch", *, max_receive_count: int = 3,
                        visibility_timeout: int = 30) -> tuple[str, str]:
    """Create (or find) the queue and its DLQ; returns (queue_url, dlq_url)."""
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout),
                                                             "RedrivePolicy": redrive})["QueueUrl"]
    return queue_url, dlq_url


def queue_arn(queue_url: str) -> str:
    return aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def lambda_message_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """ReceiveMessage's ``MessageAttributes`` -> the camelCase shape Lambda puts in SQS events."""
    return {name: {"stringValue": a.get("StringValue"), "binaryValue": a.get("BinaryValue"),
                   "stringListValues": a.get("StringListValues", []), "binaryListValues": a.get("BinaryListValues", []),
                   "dataType": a.get("DataType", "String")}
            for name, a in (attributes or {}).items()}


def sqs_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    """SQS ReceiveMessage output -> the Lambda event (same shape as ``sam local generate-event sqs receive-message``)."""
    records = []
    for m in messages:
        attrs = m.get("Attributes", {})
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": {
                "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attrs.get("SentTimestamp", str(int(time.time() * 1000))),
                "SenderId": attrs.get("SenderId", ACCOUNT),
                "ApproximateFirstReceiveTimestamp": attrs.get("ApproximateFirstReceiveTimestamp",
                                                              str(int(time.time() * 1000))),
            },
            "messageAttributes": lambda_message_attributes(m.get("MessageAttributes")),
            "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        })
    return {"Records": records}


def s3_put_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """The ``ObjectCreated:Put`` event S3 would send (as ``sam local generate-event s3 put``)."""
    return {"Records": [{
        "eventVersion": "2.0", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16], "x-amz-id-2": "EXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "BatchInput",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": size, "eTag": etag.strip('"'), "sequencer": uuid.uuid4().hex[:18].upper()}},
    }]}


class FakeContext:
    """Enough of a LambdaContext for Powertools and the deadline logic."""

    function_name = "llm-gateway-batch-worker"
    function_version = "$LATEST"
    memory_limit_in_mb = 1769
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:llm-gateway-batch-worker"

    def __init__(self, timeout_s: float = 900.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._ends = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def poll_once(queue_url: str, *, arn: str | None = None, max_messages: int = 10, wait_seconds: int = 0,
              handler: Callable[[dict, Any], dict] | None = None, fail_fast: bool = False) -> tuple[int, int]:
    """One event-source-mapping cycle: receive, invoke, delete successes. Returns (received, failed).

    ``fail_fast`` makes failed records visible again at once (ChangeMessageVisibility 0) instead of
    after the visibility timeout: tests use it to run receive cycles quickly.
    """
    from gateway.batch.handlers import handle_sqs_event

    handler = handler or handle_sqs_event
    sqs = aws.client("sqs")
    out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds,
                              AttributeNames=["All"], MessageAttributeNames=["All"])
    messages = out.get("Messages", [])
    if not messages:
        return 0, 0
    try:
        result = handler(sqs_event(messages, arn or queue_arn(queue_url)), FakeContext()) or {}
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    except Exception:
        log.exception("batch worker invocation failed; all its records will be retried")
        failed = {m["MessageId"] for m in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    for i in range(0, len(done), 10):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(done[i:i + 10])])
    if fail_fast:
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    return len(messages), len(failed)


def drain(queue_url: str, *, max_cycles: int = 10_000, fail_fast: bool = True, max_messages: int = 10) -> int:
    """Poll until the queue is empty (no message received); returns the number of invocations."""
    arn = queue_arn(queue_url)
    cycles = 0
    while cycles < max_cycles:
        received, _ = poll_once(queue_url, arn=arn, fail_fast=fail_fast, max_messages=max_messages)
        if not received:
            return cycles
        cycles += 1
    return cycles


@dataclass
class LocalWorker:
    queue_url: str
    watch_inputs: bool = True
    poll_wait_seconds: int = 1
    max_messages: int = 10
    fail_fast: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def start(self) -> "LocalWorker":
        self._thread = threading.Thread(target=self._run, name="batch-local-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        arn = None
        while not self._stop.is_set():
            try:
                arn = arn or queue_arn(self.queue_url)
                if self.watch_inputs:
                    self._scan_inputs()
                poll_once(self.queue_url, arn=arn, max_messages=self.max_messages,
                          wait_seconds=self.poll_wait_seconds, fail_fast=self.fail_fast)
            except Exception:
                log.exception("local batch worker cycle failed")
                self._stop.wait(1.0)

    def _scan_inputs(self) -> None:
        """Stand-in for the S3 notification: new objects under batch/input/ start a batch."""
        from gateway.batch.handlers import handle_s3_event

        bucket = blobs.bucket()
        pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=blobs.INPUT_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                seen = (obj["Key"], obj["ETag"])
                if seen in self._seen or obj["Key"].endswith("/"):
                    continue
                self._seen.add(seen)
                handle_s3_event(s3_put_event(bucket, obj["Key"], obj["Size"], obj["ETag"]), FakeContext())


def start_local_worker(queue_url: str | None = None, *, watch_inputs: bool = True) -> LocalWorker:
    """Create the queues if needed, export ``BATCH_QUEUE_URL`` and start the worker thread."""
    import os

    if queue_url is None:
        queue_url, _ = create_local_queues()
    os.environ["BATCH_QUEUE_URL"] = queue_url
    return LocalWorker(queue_url, watch_inputs=watch_inputs).start()
