"""Stored responses in the gateway's table, so any Lambda instance can continue a conversation.

| item     | pk               | sk       | attributes                                              |
| -------- | ---------------- | -------- | ------------------------------------------------------- |
| response | ``RESP#<id>``    | ``META`` | ``owner``, ``created_at``, ``ttl``, ``blob`` or ``s3key`` + ``sha256`` |

``owner`` is the creating key's SHA-256 (``Principal.key_id``) or ``master``; a read by another key
finds nothing (404), an admin key reads all. The record (the response, the items used to make it
and the conversation as chat messages, for ``previous_response_id``) is JSON compressed with zlib:
inline in ``blob`` up to ``RESPONSES_INLINE_MAX_BYTES``, else in S3 at ``responses/<id>.json.z``
with its SHA-256 in the item, checked on every read. Expiry is ``ttl``; DynamoDB deletes expired
items within days, so a read also refuses one past its ``ttl``.
"""
from __future__ import annotations

import hashlib
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from gateway import aws
from gateway.dynamo.codec import plain_item, serialize
from gateway.dynamo.errors import error_code
from gateway.principal import Principal
from gateway.responses import settings as responses_settings

S3_PREFIX = "responses/"


class StoreMissing(RuntimeError):
    """No table configured: stored responses need ``GATEWAY_TABLE``."""


class CorruptRecord(RuntimeError):
    """A stored body whose checksum does not match (never decoded)."""


@dataclass
class StoredResponse:
    id: str
    owner: str
    created_at: int
    response: dict[str, Any]
    input_items: list[dict[str, Any]] = field(default_factory=list)  # every item used to make it, in order
    messages: list[dict[str, Any]] = field(default_factory=list)  # the conversation through its output, chat form

    def payload(self) -> bytes:
        data = {"response": self.response, "input_items": self.input_items, "messages": self.messages}
        return zlib.compress(json.dumps(data, separators=(",", ":"), default=str).encode(), 6)


def _table(config: responses_settings.ResponsesSettings) -> str:
    name = config.table
    if not name:
        raise StoreMissing("Stored responses need a DynamoDB table (GATEWAY_TABLE).")
    return name


def _key(response_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"RESP#{response_id}"}, "sk": {"S": "META"}}


def _s3_key(response_id: str) -> str:
    return f"{S3_PREFIX}{response_id}.json.z"


def may_read(principal: Principal, owner: str) -> bool:
    return principal.is_admin or principal.key_id == owner


def _visible(item: dict[str, Any], principal: Principal) -> bool:
    """Not expired (DynamoDB's TTL deletes late) and readable by ``principal``."""
    return int(item.get("ttl", 0)) > time.time() and may_read(principal, str(item.get("owner")))


def save(record: StoredResponse) -> dict[str, int]:
    """Write one response (S3 first when large, so the item never points at nothing); returns
    what it cost: ``{"item_bytes": ..., "s3_bytes": ...}``."""
    config = responses_settings.get()
    blob = record.payload()
    item: dict[str, Any] = {"pk": f"RESP#{record.id}", "sk": "META", "type": "response", "owner": record.owner,
                            "created_at": record.created_at,
                            "ttl": int(record.created_at + config.retention_days * 86400)}
    s3_bytes = 0
    if len(blob) > config.inline_max_bytes:
        if not config.bucket:
            raise StoreMissing("A response this large is stored in S3: set RESPONSES_S3_BUCKET (or CONFIG_S3_BUCKET).")
        aws.client("s3").put_object(Bucket=config.bucket, Key=_s3_key(record.id), Body=blob,
                                    ContentType="application/zlib")
        item.update(s3key=_s3_key(record.id), sha256=hashlib.sha256(blob).hexdigest())
        s3_bytes = len(blob)
    serialized = serialize(item)
    if not s3_bytes:
        serialized["blob"] = {"B": blob}
    aws.client("dynamodb").put_item(TableName=_table(config), Item=serialized)
    return {"item_bytes": item_size(serialized), "s3_bytes": s3_bytes}


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item: attribute names plus values (strings and binaries by length,
    numbers about their digits; "Item sizes and formats" in the DynamoDB developer guide)."""
    size = 0
    for name, value in item.items():
        (kind, data), = value.items()
        size += len(name.encode()) + (len(data) if kind == "B" else len(str(data).encode()))
    return size


def load(response_id: str, principal: Principal) -> StoredResponse | None:
    """The response if it exists, has not expired and ``principal`` may read it; else None."""
    config = responses_settings.get()
    out = aws.client("dynamodb").get_item(TableName=_table(config), Key=_key(response_id), ConsistentRead=True)
    raw = out.get("Item")
    if raw is None:
        return None
    blob = raw.pop("blob", {}).get("B")
    item = plain_item(raw)
    if not _visible(item, principal):
        return None
    if blob is None:
        blob = aws.client("s3").get_object(Bucket=config.bucket, Key=item["s3key"])["Body"].read()
        if hashlib.sha256(blob).hexdigest() != item.get("sha256"):
            raise CorruptRecord(f"stored response {response_id}: checksum mismatch")
    data = json.loads(zlib.decompress(blob))
    return StoredResponse(id=response_id, owner=str(item["owner"]), created_at=int(item["created_at"]),
                          response=data["response"], input_items=data["input_items"], messages=data["messages"])


def delete(response_id: str, principal: Principal) -> bool:
    """Delete a response ``principal`` may read; False if there is none."""
    config = responses_settings.get()
    record_item = aws.client("dynamodb").get_item(TableName=_table(config), Key=_key(response_id), ConsistentRead=True,
                                                  ProjectionExpression="#o, s3key, #t",
                                                  ExpressionAttributeNames={"#o": "owner", "#t": "ttl"}).get("Item")
    if record_item is None:
        return False
    item = plain_item(record_item)
    if not _visible(item, principal):
        return False
    try:
        aws.client("dynamodb").delete_item(TableName=_table(config), Key=_key(response_id),
                                           ConditionExpression="attribute_exists(pk)")
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    if item.get("s3key"):
        aws.client("s3").delete_object(Bucket=config.bucket, Key=item["s3key"])
    return True
