"""The OpenAI Files and Batches API, driven by the official ``openai`` SDK against the gateway over
HTTP (the ``make run`` path: uvicorn + the local worker on moto's SQS), and through the Lambda handler."""
from __future__ import annotations

import io
import json
import time

import httpx
import openai
import pytest
from openai import OpenAI

from tests.batch.conftest import MASTER_KEY, chat_line, jsonl


def _client(base: str, key: str = MASTER_KEY) -> OpenAI:
    return OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=20)


def _wait(client: OpenAI, batch_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in {"completed", "failed", "cancelled", "expired"} or time.monotonic() > deadline:
            return batch
        time.sleep(0.2)


def test_sdk_flow_with_mock_model(batch_api, worker):
    client = _client(batch_api)
    lines = [chat_line(f"q{i}", model="mock", content=f"question {i}") for i in range(7)]
    uploaded = client.files.create(file=("requests.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
    assert uploaded.object == "file" and uploaded.purpose == "batch" and uploaded.bytes == len(jsonl(lines))
    assert client.files.retrieve(uploaded.id).filename == "requests.jsonl"

    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h", metadata={"job": "sdk-test"})
    assert batch.status == "validating" and batch.metadata == {"job": "sdk-test"}

    done = _wait(client, batch.id)
    assert done.status == "completed", done
    assert done.request_counts.total == 7 and done.request_counts.completed == 7 and done.request_counts.failed == 0
    assert done.error_file_id is None and done.completed_at and done.in_progress_at

    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == [f"q{i}" for i in range(7)]
    first = output[0]
    assert first["error"] is None and first["response"]["status_code"] == 200
    assert first["id"].startswith("batch_req_") and first["response"]["request_id"] == first["id"]
    assert first["response"]["body"]["choices"][0]["message"]["content"] == "offline mock answer"

    listed = client.batches.list(limit=100)
    assert batch.id in [b.id for b in listed.data]
    files = client.files.list()
    assert {uploaded.id, done.output_file_id} <= {f.id for f in files.data}
    assert [f.id for f in client.files.list(purpose="batch_output").data] == [done.output_file_id]


def test_list_pages_newest_first(batch_api, worker):
    client = _client(batch_api)
    uploaded = client.files.create(file=("one.jsonl", io.BytesIO(jsonl([chat_line("a", model="mock")]))), purpose="batch")
    ids = [client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    nxt = client.batches.list(limit=2, after=page.data[-1].id)
    assert nxt.data[0].id == ids[0]
    for bid in ids:
        _wait(client, bid)


def test_cancel_over_http_and_errors(batch_api, batch_env):
    """No worker here: the batch stays queued, so the cancel lands while it is still validating."""
    client = _client(batch_api)
    uploaded = client.files.create(file=("c.jsonl", io.BytesIO(jsonl([chat_line("a", model="mock")]))), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelling" and cancelled.cancelling_at

    from gateway_dev.batch_worker import drain

    drain(batch_env["queue_url"])
    final = client.batches.retrieve(batch.id)
    assert final.status == "cancelled" and final.cancelled_at
    with pytest.raises(openai.ConflictError):
        completed_file = client.files.create(file=("d.jsonl", io.BytesIO(jsonl([chat_line("b", model="mock")]))),
                                             purpose="batch")
        other = client.batches.create(input_file_id=completed_file.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        drain(batch_env["queue_url"])
        client.batches.cancel(other.id)

    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=uploaded.id, endpoint="/v1/images/generations", completion_window="24h")
    with pytest.raises(openai.BadRequestError):
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")
    with pytest.raises(openai.AuthenticationError):
        _client(batch_api, key="sk-wrong").batches.list()


def test_other_keys_cannot_see_a_batch(batch_api, worker, virtual_key):
    token_a, _ = virtual_key(key_alias="batch-a")
    token_b, _ = virtual_key(key_alias="batch-b")
    a, b = _client(batch_api, token_a), _client(batch_api, token_b)
    uploaded = a.files.create(file=("a.jsonl", io.BytesIO(jsonl([chat_line("x", model="mock")]))), purpose="batch")
    batch = a.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        b.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        b.files.content(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        b.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.id not in [x.id for x in b.batches.list().data]
    done = _wait(a, batch.id)
    assert done.status == "completed" and done.request_counts.completed == 1
    # the admin (master key) sees it too
    assert _client(batch_api).batches.retrieve(batch.id).status == "completed"


def test_files_api_through_the_lambda_handler(batch_stack, lambda_handler):
    """multipart upload through API Gateway (base64 body) -> Mangum -> the batch router."""
    from tests.support.lambda_events import LambdaTransport

    client = OpenAI(base_url="https://example.invalid/v1", api_key=MASTER_KEY, max_retries=0,
                    http_client=httpx.Client(transport=LambdaTransport(lambda_handler, front="http-api")))
    data = jsonl([chat_line("lambda-1", model="mock")])
    uploaded = client.files.create(file=("lambda.jsonl", io.BytesIO(data)), purpose="batch")
    assert uploaded.bytes == len(data)
    assert client.files.content(uploaded.id).content == data
