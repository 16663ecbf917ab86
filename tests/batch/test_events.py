"""The batch path through real S3 and SQS events (sam-generated shapes) against moto's server and
the fake upstream: size, exactly-once effects, crash/resume, poison messages, cancellation, bad
input and budgets."""
from __future__ import annotations

import json
import time

import pytest

from tests.batch.conftest import (MAX_RECEIVES, _aws, chat_line, deliver, drain, jsonl, put_input, read_output,
                                  receive, s3_event, sqs_event)

UPSTREAM_MODEL = "fake-ok"  # what the `fake` model group sends to the fake upstream
LINE_COST = 11 * 0.000001 + 7 * 0.000002  # fake upstream usage x the `fake` model's prices


def _start(s3_handler, data: bytes, **kwargs) -> dict:
    from gateway_dev.batch_worker import FakeContext

    key, etag = put_input(data, **kwargs)
    out = s3_handler(s3_event(key, etag, len(data)), FakeContext())
    assert len(out["batches"]) == 1
    return {**out["batches"][0], "etag": etag, "data": data}


def _batch(batch_id: str) -> dict:
    from gateway.batch import store

    return store.get_batch(batch_id)


def _queued(queue_url: str) -> int:
    attrs = _aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _spend(token: str) -> float:
    from gateway.keys import admin

    return float(admin.key_info(token)["info"]["spend"])


def test_thousand_line_file_has_one_output_line_per_input(batch_env, s3_handler, sqs_handler, upstream):
    before = len(upstream.calls(UPSTREAM_MODEL))
    started = _start(s3_handler, jsonl([chat_line(f"req-{i:04d}", content=f"question {i}") for i in range(1000)]))
    assert started["status"] == "in_progress"
    assert _queued(batch_env["queue_url"]) == 10  # fanned out: 10 work items of 100 lines

    drain(batch_env["queue_url"], sqs_handler)

    batch = _batch(started["batch_id"])
    assert batch["status"] == "completed" and batch["completed_at"] >= batch["in_progress_at"]
    assert (batch["total"], batch["completed"], batch["failed"]) == (1000, 1000, 0)
    output = read_output(batch["output_file_id"])
    assert [o["custom_id"] for o in output] == [f"req-{i:04d}" for i in range(1000)]
    assert all(o["response"]["status_code"] == 200 and o["error"] is None for o in output)
    assert len({o["id"] for o in output}) == 1000
    assert batch.get("error_file_id") is None
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 1000


def test_redelivery_and_reupload_never_call_or_bill_twice(batch_env, s3_handler, sqs_handler, upstream, virtual_key,
                                                          monkeypatch):
    from gateway_dev.batch_worker import FakeContext, queue_arn

    monkeypatch.setenv("BATCH_LINE_CONCURRENCY", "1")  # see below: moto and concurrent writes to one key
    monkeypatch.setenv("BATCH_CHUNK_LINES", "40")

    token, key_hash = virtual_key(key_alias="batch-redelivery")
    before = len(upstream.calls(UPSTREAM_MODEL))
    data = jsonl([chat_line(f"r{i}") for i in range(120)])
    first = _start(s3_handler, data, name="redelivery", owner=key_hash)
    # the same S3 event again, and the same bytes uploaded again to the same key: the same batch, nothing new
    again = _start(s3_handler, data, name="redelivery", owner=key_hash)
    assert again["batch_id"] == first["batch_id"]
    assert _queued(batch_env["queue_url"]) == 3

    # The same messages handled twice (SQS is at-least-once), then all of them come back once more.
    # (One after the other: moto's threaded server does not make conditional writes to one item
    # atomic as DynamoDB does, so true concurrency would test moto, not this code.)
    messages = receive(batch_env["queue_url"])
    event = sqs_event(messages, queue_arn(batch_env["queue_url"]))
    for _ in range(2):
        assert sqs_handler(event, FakeContext()) == {"batchItemFailures": []}
    for m in messages:
        _aws("sqs").change_message_visibility(QueueUrl=batch_env["queue_url"], ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
    drain(batch_env["queue_url"], sqs_handler)
    # a late duplicate of a finished work item
    _aws("sqs").send_message(QueueUrl=batch_env["queue_url"], MessageBody=messages[0]["Body"])
    drain(batch_env["queue_url"], sqs_handler)

    batch = _batch(first["batch_id"])
    assert batch["status"] == "completed" and (batch["completed"], batch["failed"]) == (120, 0)
    assert len(read_output(batch["output_file_id"])) == 120
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 120
    assert _spend(token) == pytest.approx(120 * LINE_COST, rel=1e-6)


def test_crash_mid_batch_resumes_without_repeating(batch_env, s3_handler, sqs_handler, upstream, monkeypatch):
    """A worker died holding claims on lines 0-4 (before calling the model): the work item fails
    until the claims' leases expire, then the lines run once and the batch completes."""
    from gateway.batch import store

    monkeypatch.setenv("BATCH_LINE_LEASE_SECONDS", "1")
    before = len(upstream.calls(UPSTREAM_MODEL))
    data = jsonl([chat_line(f"c{i}") for i in range(40)])
    from gateway.batch import ids

    key, etag = put_input(data, name="crash")
    batch_id, _ = ids.s3_batch_ids(batch_env["bucket"], key, etag.strip('"'), "master")
    from gateway_dev.batch_worker import FakeContext

    # the dead worker's claims exist before the work item is first delivered
    monkeypatch.setenv("BATCH_INLINE_MAX_LINES", "0")
    s3_handler(s3_event(key, etag, len(data)), FakeContext())
    for i in range(5):
        assert store.claim_line(batch_id, i, "dead-worker", 1) == "claimed"
    records, failed = deliver(batch_env["queue_url"], sqs_handler)
    assert records == 1 and len(failed) == 1  # busy lines: reported as a batch item failure
    assert _batch(batch_id)["status"] == "in_progress"
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 35
    time.sleep(2.1)  # leases expire
    drain(batch_env["queue_url"], sqs_handler)
    batch = _batch(batch_id)
    assert batch["status"] == "completed" and batch["completed"] == 40
    assert sorted(o["custom_id"] for o in read_output(batch["output_file_id"])) == sorted(f"c{i}" for i in range(40))
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 40


def test_poison_message_lands_in_dlq_while_batch_mates_succeed(batch_env, s3_handler, sqs_handler):
    started = _start(s3_handler, jsonl([chat_line(f"p{i}") for i in range(150)]))
    # the body of `sam local generate-event sqs receive-message`: not a work item
    _aws("sqs").send_message(QueueUrl=batch_env["queue_url"], MessageBody="Hello from SQS!")
    _aws("sqs").send_message(QueueUrl=batch_env["queue_url"], MessageBody=json.dumps({"type": "chunk", "batch_id": 7}))

    records, failed = deliver(batch_env["queue_url"], sqs_handler)
    assert records == 4 and len(failed) == 2  # the two work items of the batch succeeded
    invocations = drain(batch_env["queue_url"], sqs_handler)
    assert invocations == MAX_RECEIVES - 1  # received 3 times in all, then moved on the next receive

    dead = receive(batch_env["dlq_url"])
    assert sorted(m["Body"] for m in dead) == sorted(["Hello from SQS!", json.dumps({"type": "chunk", "batch_id": 7})])
    batch = _batch(started["batch_id"])
    assert batch["status"] == "completed" and batch["completed"] == 150


def test_cancelled_batch_stops(batch_env, s3_handler, sqs_handler, upstream):
    from gateway.batch import jobs

    before = len(upstream.calls(UPSTREAM_MODEL))
    started = _start(s3_handler, jsonl([chat_line(f"x{i}") for i in range(300)]))
    records, failed = deliver(batch_env["queue_url"], sqs_handler, max_messages=1)  # one work item runs
    assert records == 1 and not failed
    assert jobs.cancel(_batch(started["batch_id"]))["status"] == "cancelling"
    drain(batch_env["queue_url"], sqs_handler)

    batch = _batch(started["batch_id"])
    assert batch["status"] == "cancelled" and batch["cancelled_at"]
    assert (batch["completed"], batch["failed"]) == (100, 200)
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 100
    errors = read_output(batch["error_file_id"])
    assert len(errors) == 200 and {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert len(read_output(batch["output_file_id"])) == 100
    with pytest.raises(Exception) as err:
        jobs.cancel(batch | {"status": "completed"})
    assert getattr(err.value, "status_code", None) == 409


def test_bad_lines_go_to_the_error_file(batch_env, s3_handler, sqs_handler, upstream, virtual_key, monkeypatch):
    monkeypatch.setenv("BATCH_LINE_CONCURRENCY", "1")
    token, key_hash = virtual_key(key_alias="batch-bad-lines", models=["fake"])
    before = len(upstream.calls(UPSTREAM_MODEL))
    lines = [
        chat_line("good-1"),
        "this is not json",
        {"method": "POST", "url": "/v1/chat/completions", "body": {"model": "fake", "messages": []}},
        {"custom_id": "bad-url", "method": "POST", "url": "/v1/images/generations", "body": {"model": "fake"}},
        {"custom_id": "no-messages", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "fake"}},
        chat_line("unknown-model", model="does-not-exist"),
        chat_line("not-allowed", model="mock"),
        chat_line("good-1", content="duplicate custom_id"),
        chat_line("streaming", stream=True),
        "",
        chat_line("good-2"),
        "[1, 2, 3]",
    ]
    # metadata agreeing with the prefix's grant is fine, even as a raw token (hashed, never stored)
    started = _start(s3_handler, jsonl(lines), owner=key_hash, metadata={"gateway-key-id": token})
    drain(batch_env["queue_url"], sqs_handler)
    batch = _batch(started["batch_id"])
    assert batch["owner"] == key_hash
    assert batch["status"] == "completed" and (batch["total"], batch["completed"], batch["failed"]) == (11, 2, 9)
    assert [o["custom_id"] for o in read_output(batch["output_file_id"])] == ["good-1", "good-2"]
    errors = read_output(batch["error_file_id"])
    assert len(errors) == 9
    by_code = {}
    for e in errors:
        if e["error"] is not None:
            by_code[e["error"]["code"]] = e
        else:
            by_code[e["response"]["body"]["error"]["code"]] = e
    assert set(by_code) == {"invalid_json_line", "missing_custom_id", "invalid_url", "missing_required_parameter",
                            "model_not_found", "key_model_access_denied", "duplicate_custom_id", "invalid_value"}
    assert by_code["key_model_access_denied"]["response"]["status_code"] == 403
    assert by_code["model_not_found"]["response"]["status_code"] == 404
    assert by_code["missing_required_parameter"]["response"]["status_code"] == 400
    assert by_code["invalid_json_line"]["error"]["line"] in (2, 12)
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 2


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", b"name,age\nada,36\n", b"\n\n"])
def test_a_file_that_is_not_jsonl_fails_the_batch(batch_env, s3_handler, data):
    started = _start(s3_handler, data)
    batch = _batch(started["batch_id"])
    assert batch["status"] == "failed" and batch["failed_at"]
    assert batch["errors"][0]["code"] == "invalid_file" and "JSONL" in batch["errors"][0]["message"] or \
        "empty" in batch["errors"][0]["message"]
    assert _queued(batch_env["queue_url"]) == 0


def test_budget_exhaustion_stops_the_batch_cleanly(batch_env, s3_handler, sqs_handler, upstream, virtual_key,
                                                    monkeypatch):
    monkeypatch.setenv("BATCH_LINE_CONCURRENCY", "1")
    token, key_hash = virtual_key(key_alias="batch-budget", max_budget=0.0002)
    before = len(upstream.calls(UPSTREAM_MODEL))
    started = _start(s3_handler, jsonl([chat_line(f"b{i}") for i in range(30)]), owner=key_hash)
    drain(batch_env["queue_url"], sqs_handler)
    batch = _batch(started["batch_id"])
    ran = len(upstream.calls(UPSTREAM_MODEL)) - before
    assert batch["status"] == "completed"
    assert 1 <= ran < 30 and batch["completed"] == ran and batch["completed"] + batch["failed"] == 30
    assert [e["code"] for e in batch["errors"]] == ["budget_exceeded"]
    errors = read_output(batch["error_file_id"])
    assert len(errors) == 30 - ran
    refused = [e for e in errors if e["response"]]
    assert len(refused) == 1 and refused[0]["response"]["status_code"] == 422  # LiteLLM 1.106.2
    assert refused[0]["response"]["body"]["error"]["code"] == "budget_exceeded"
    assert all(e["error"]["code"] == "budget_exceeded" for e in errors if not e["response"])
    assert _spend(token) <= 0.0002 + 1e-12


def test_small_file_runs_inline_and_key_is_url_decoded(batch_env, s3_handler, upstream):
    from gateway_dev.batch_worker import FakeContext

    data = jsonl([chat_line(f"s{i}") for i in range(3)])
    key, etag = put_input(data, name="my file")
    event = s3_event(key.replace(" ", "+"), etag, len(data))  # S3 events carry URL-encoded keys
    out = s3_handler(event, FakeContext())
    batch = _batch(out["batches"][0]["batch_id"])
    assert batch["status"] == "completed" and batch["completed"] == 3
    assert _queued(batch_env["queue_url"]) == 0


def test_eventbridge_object_created_event_starts_the_batch(batch_env, s3_handler):
    """The trigger as template.yaml wires it: S3 -> EventBridge rule (shape as AWS documents it,
    checked with Powertools' data class), then the same handler."""
    from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

    from gateway_dev.batch_worker import FakeContext
    from tests.batch.conftest import EVENTS

    data = jsonl([chat_line(f"e{i}") for i in range(2)])
    key, etag = put_input(data, name="from eventbridge")
    event = json.loads((EVENTS / "eventbridge-s3-object-created.json").read_text())
    event["detail"]["object"].update(key=key, size=len(data), etag=etag.strip('"'))
    parsed = S3EventBridgeNotificationEvent(event)
    assert parsed.detail.bucket.name == batch_env["bucket"] and parsed.detail.object.key == key
    out = s3_handler(event, FakeContext())
    batch = _batch(out["batches"][0]["batch_id"])
    assert batch["status"] == "completed" and batch["completed"] == 2
    # a second delivery of the same event (EventBridge retries) starts nothing new
    assert s3_handler(event, FakeContext())["batches"][0]["batch_id"] == batch["id"]


def test_stand_alone_request_messages(batch_env, sqs_handler, upstream, virtual_key):
    """The repository's sample event (events/sqs-chat.json: one OpenAI Batch line per message) through
    the real queue: each request runs once, as the key whose token it carries, even when the message
    comes twice; a message without a key is a poison message."""
    from gateway.batch import blobs
    from tests.conftest import ROOT

    token, key_hash = virtual_key(key_alias="batch-sqs")
    sample = json.loads((ROOT / "events" / "sqs-chat.json").read_text())
    sqs = _aws("sqs")
    before = len(upstream.calls(UPSTREAM_MODEL))
    owner = {"gateway-key": {"DataType": "String", "StringValue": token}}
    bodies = []
    for record in sample["Records"]:
        line = json.loads(record["body"])
        line["body"]["model"] = "fake"
        bodies.append(json.dumps(line))
    for body in bodies + bodies[:1]:  # the first one is sent twice
        sqs.send_message(QueueUrl=batch_env["queue_url"], MessageBody=body, MessageAttributes=owner)
    sqs.send_message(QueueUrl=batch_env["queue_url"], MessageBody=bodies[0])  # no owner attribute

    records, failed = deliver(batch_env["queue_url"], sqs_handler)
    assert records == len(bodies) + 2 and len(failed) == 1
    drain(batch_env["queue_url"], sqs_handler)
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == len(bodies)
    for body in bodies:
        custom_id = json.loads(body)["custom_id"]
        result = json.loads(blobs.get(f"batch/output/sqs/{key_hash}/{custom_id}.jsonl"))
        assert result["custom_id"] == custom_id and result["response"]["status_code"] == 200
    assert len(receive(batch_env["dlq_url"])) == 1
    assert _spend(token) == pytest.approx(len(bodies) * LINE_COST, rel=1e-6)


def test_work_item_near_the_lambda_timeout_continues_in_a_new_message(batch_env, s3_handler, sqs_handler, upstream):
    """Little time left in the invocation: the worker stops claiming lines, re-sends its work item and
    reports success (no receive is used up); the next invocation finishes the chunk."""
    from gateway_dev.batch_worker import FakeContext, queue_arn

    before = len(upstream.calls(UPSTREAM_MODEL))
    started = _start(s3_handler, jsonl([chat_line(f"t{i}") for i in range(100)]))
    messages = receive(batch_env["queue_url"])
    short = FakeContext(timeout_s=21.0)  # 21 s left - 20 s margin: about one second of work
    result = sqs_handler(sqs_event(messages, queue_arn(batch_env["queue_url"])), short)
    assert result == {"batchItemFailures": []}
    for m in messages:
        _aws("sqs").delete_message(QueueUrl=batch_env["queue_url"], ReceiptHandle=m["ReceiptHandle"])
    ran_first = len(upstream.calls(UPSTREAM_MODEL)) - before
    assert 0 < ran_first < 100 and _queued(batch_env["queue_url"]) == 1
    drain(batch_env["queue_url"], sqs_handler)
    batch = _batch(started["batch_id"])
    assert batch["status"] == "completed" and batch["completed"] == 100
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 100


def test_lost_work_items_are_resumed_and_expired_batches_stop(batch_env, s3_handler, sqs_handler, upstream):
    """Work items lost (say, moved to the DLQ): ``jobs.resume`` re-sends what is not counted yet. A
    batch past its 24 h window records the lines not run as ``batch_expired`` and ends ``expired``."""
    from gateway.batch import jobs, store

    before = len(upstream.calls(UPSTREAM_MODEL))
    started = _start(s3_handler, jsonl([chat_line(f"l{i}") for i in range(250)]))  # 3 work items
    records, failed = deliver(batch_env["queue_url"], sqs_handler, max_messages=1)
    assert records == 1 and not failed
    for m in receive(batch_env["queue_url"]):  # the other two are lost
        _aws("sqs").delete_message(QueueUrl=batch_env["queue_url"], ReceiptHandle=m["ReceiptHandle"])
    assert jobs.resume(started["batch_id"]) == 2
    records, failed = deliver(batch_env["queue_url"], sqs_handler, max_messages=1)
    assert records == 1 and not failed
    store.update_batch(started["batch_id"], {"expires_at": int(time.time()) - 1})
    drain(batch_env["queue_url"], sqs_handler)
    batch = _batch(started["batch_id"])
    ran = len(upstream.calls(UPSTREAM_MODEL)) - before
    assert batch["status"] == "expired" and batch["expired_at"]
    assert ran == batch["completed"] == 200 and batch["failed"] == 50
    errors = read_output(batch["error_file_id"])
    assert len(errors) == 50 and {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert jobs.resume(started["batch_id"]) == 0
