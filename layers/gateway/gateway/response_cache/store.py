"""Cached answers on the gateway's DynamoDB table: one item per key, its body zlib-compressed.

Item: ``pk = RESPCACHE#<key>``, ``sk = RESPONSE``, ``body`` (binary), ``created`` and
``expires_at`` (epoch seconds), ``ttl`` (the table's TTL attribute, ``gateway.dynamo.table``).
DynamoDB's TTL deletes expired items lazily (typically within days, not seconds:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html), so a read
checks ``expires_at`` itself. An answer larger than ``max_item_bytes`` once compressed is not
stored (items are capped at 400 KB; offloading to S3 would add a second round trip to every hit
of the rare answers that big). Blocking boto3 calls: callers run these in a worker thread.
"""
from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from gateway import aws
from gateway.dynamo import errors as dynamo_errors

PK_PREFIX = "RESPCACHE#"
SK = "RESPONSE"


@dataclass(frozen=True)
class Entry:
    body: dict[str, Any]
    created: float


def _key(key: str) -> dict[str, Any]:
    return {"pk": {"S": PK_PREFIX + key}, "sk": {"S": SK}}


def get(table: str, key: str, *, now: float, max_age: int | None) -> Entry | None:
    """The live entry for ``key``, or None (absent, expired, older than ``max_age``, unreadable)."""
    item = dynamo_errors.call(aws.client("dynamodb"), "get_item", TableName=table, Key=_key(key)).get("Item")
    if not item:
        return None
    try:
        created, expires_at = float(item["created"]["N"]), float(item["expires_at"]["N"])
        if expires_at <= now or (max_age is not None and now - created > max_age):
            return None
        body = json.loads(zlib.decompress(item["body"]["B"]))
    except (KeyError, ValueError, zlib.error):
        return None
    return Entry(body=body, created=created) if isinstance(body, dict) else None


def encode(body: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(body, separators=(",", ":"), default=str).encode(), 6)


def put(table: str, key: str, body: dict[str, Any], *, group: str, ttl: int, now: float, max_item_bytes: int) -> bool:
    """Store ``body`` under ``key`` for ``ttl`` seconds; False when it is too large to store."""
    data = encode(body)
    if len(data) > max_item_bytes:
        return False
    item = {**_key(key), "type": {"S": "response_cache"}, "group": {"S": group}, "body": {"B": data},
            "created": {"N": repr(round(now, 3))}, "expires_at": {"N": repr(round(now + ttl, 3))},
            "ttl": {"N": str(math.ceil(now + ttl))}}
    dynamo_errors.call(aws.client("dynamodb"), "put_item", TableName=table, Item=item)
    return True
