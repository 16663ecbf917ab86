"""Stored responses on DynamoDB and S3 (moto's server over HTTP): large bodies go to S3 with a
checksum, expired ones are gone, and a continuation works from a fresh process's view (no
in-memory state: the caches are dropped between the turns)."""
from __future__ import annotations

import time

import boto3
import openai
import pytest

from tests.conftest import BUCKET, MASTER_KEY, TABLE


@pytest.fixture()
def client(client_for):
    return client_for(MASTER_KEY)


def _item(response_id: str) -> dict:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"RESP#{response_id}"},
                                                                   "sk": {"S": "META"}})["Item"]


def test_a_small_response_is_one_compressed_item_with_a_ttl(client):
    response = client.responses.create(model="fake", input="small")
    item = _item(response.id)
    assert "blob" in item and "s3key" not in item
    assert int(item["ttl"]["N"]) == pytest.approx(time.time() + 30 * 86400, abs=120)
    assert item["owner"]["S"] == "master"
    assert b"small" not in item["blob"]["B"]  # compressed, not plain JSON


def test_a_large_response_lives_in_s3_and_is_checked_on_read(client, monkeypatch):
    monkeypatch.setenv("RESPONSES_INLINE_MAX_BYTES", "64")
    response = client.responses.create(model="fake", input="large " * 50)
    item = _item(response.id)
    assert "blob" not in item and item["s3key"]["S"] == f"responses/{response.id}.json.z"
    s3 = boto3.client("s3")
    assert s3.head_object(Bucket=BUCKET, Key=item["s3key"]["S"])["ContentLength"] > 64
    follow_up = client.responses.create(model="fake", input="next", previous_response_id=response.id)
    assert follow_up.output_text.startswith("echo: 3 messages")
    assert client.responses.retrieve(response.id).output_text == response.output_text

    s3.put_object(Bucket=BUCKET, Key=item["s3key"]["S"], Body=b"tampered")
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.retrieve(response.id)
    assert caught.value.status_code == 503 and caught.value.body["code"] == "response_store_unavailable"

    client.responses.delete(response.id)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key=item["s3key"]["S"])


def test_an_expired_response_is_not_found_before_dynamodb_deletes_it(client, monkeypatch):
    monkeypatch.setenv("RESPONSES_RETENTION_DAYS", str(4 / 86400))  # 4 seconds
    response = client.responses.create(model="fake", input="short-lived")
    assert client.responses.retrieve(response.id).id == response.id
    time.sleep(5)
    assert _item(response.id)  # still in the table (TTL deletion is DynamoDB's, later)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_a_conversation_continues_without_any_in_process_state(client, upstream):
    """What another Lambda instance sees: the only shared state is the table (the gateway keeps no
    responses in memory; litellm's process-local cache of tool calls is emptied)."""
    from litellm.responses.litellm_completion_transformation.transformation import TOOL_CALLS_CACHE
    from tests.responses.conftest import WEATHER

    first = client.responses.create(model="fake", input="weather?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    TOOL_CALLS_CACHE.flush_cache()
    upstream.reset()
    client.responses.create(model="fake", previous_response_id=first.id, tools=[WEATHER],
                            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
    sent = [c for c in upstream.calls() if c["path"].endswith("/chat/completions")][-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call.call_id
