"""Meters for the AWS calls the gateway makes in a benchmark run: DynamoDB units and S3 requests.

Both hook the gateway's own boto3 clients (``gateway.aws.client``) with botocore events, so what is
counted is what the gateway sent, in the process that sent it. DynamoDB bills on the size of the
stored item (the larger of before and after a write, the whole item on a projected read), which the
request alone does not show: ``DynamoMeter`` reads the items it needs through a second, unhooked
client (before the call for writes and reads, after it for updates). That costs round trips, so a
metered run is separate from the timed ones. Unit rules: ``cost_model``.

botocore events used (botocore/client.py, ``BaseClient._make_api_call``): ``before-parameter-build``
(the API parameters, the request context) and ``after-call`` (the parsed response, also for an
error such as a failed condition).
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from cost_model import item_size, read_units, write_units

_PLACEHOLDER = re.compile(r"[:#][A-Za-z0-9_]+")


class DynamoMeter:
    """Write and read units of every DynamoDB call made through ``client``."""

    def __init__(self, client: Any, peek: Any) -> None:
        self.peek = peek
        self.lock = threading.Lock()
        self.write_units = 0.0
        self.read_units = 0.0
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def reset(self) -> None:
        with self.lock:
            self.write_units = self.read_units = 0.0
            self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"write_units": self.write_units, "read_units": self.read_units, "calls": dict(self.calls)}

    # -- hooks ---------------------------------------------------------------------------------
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        op = model.name
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            key = params.get("Key") or self._key_of(params["TableName"], params["Item"])
            context["bench_before"] = item_size(self._get(params["TableName"], key))
        elif op == "GetItem":
            context["bench_read"] = read_units(item_size(self._get(params["TableName"], params["Key"])),
                                               consistent=bool(params.get("ConsistentRead")))
        elif op in ("Query", "Scan"):
            context["bench_read"] = read_units(self._scanned_bytes(op, params), consistent=bool(params.get("ConsistentRead")))
        elif op == "TransactWriteItems":
            context["bench_before"] = [self._transact_before(entry) for entry in params["TransactItems"]]
        context["bench_params"] = params

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        op = model.name
        params = context.get("bench_params")
        if params is None:
            return
        writes, reads = 0.0, context.get("bench_read", 0.0)
        if op == "PutItem":
            writes = write_units(max(context["bench_before"], item_size(params["Item"])))
        elif op == "UpdateItem":
            writes = write_units(max(context["bench_before"], item_size(self._get(params["TableName"], params["Key"]))))
        elif op == "DeleteItem":
            writes = write_units(context["bench_before"])
        elif op == "TransactWriteItems":
            for entry, before in zip(params["TransactItems"], context["bench_before"]):
                w, r = self._transact_units(entry, before)
                writes += w
                reads += r
        with self.lock:
            self.calls[op] += 1
            self.write_units += writes
            self.read_units += reads

    # -- helpers -------------------------------------------------------------------------------
    def _transact_before(self, entry: dict[str, Any]) -> int:
        (kind, body), = entry.items()
        key = body.get("Key") or self._key_of(body["TableName"], body["Item"])
        return item_size(self._get(body["TableName"], key))

    def _transact_units(self, entry: dict[str, Any], before: int) -> tuple[float, float]:
        """(write units, read units) of one TransactWriteItems entry; each is billed at twice the rate."""
        (kind, body), = entry.items()
        if kind == "Put":
            return write_units(max(before, item_size(body["Item"])), transactional=True), 0.0
        if kind == "Update":
            after = item_size(self._get(body["TableName"], body["Key"]))
            return write_units(max(before, after), transactional=True), 0.0
        if kind == "Delete":
            return write_units(before, transactional=True), 0.0
        return 0.0, read_units(before, transactional=True)  # ConditionCheck: a transactional read of the item

    _schemas: dict[str, list[str]] = {}

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        if table not in self._schemas:
            schema = self.peek.describe_table(TableName=table)["Table"]["KeySchema"]
            self._schemas[table] = [k["AttributeName"] for k in schema]
        return {name: item[name] for name in self._schemas[table]}

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.peek.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _scanned_bytes(self, op: str, params: dict[str, Any]) -> int:
        """Bytes of every item the Query/Scan reads: the same key condition, limit and start, without
        the filter or projection (DynamoDB bills the items read, not the items returned)."""
        kept = {k: params[k] for k in ("TableName", "IndexName", "KeyConditionExpression", "Limit",
                                       "ExclusiveStartKey", "ScanIndexForward") if k in params}
        used = set(_PLACEHOLDER.findall(params.get("KeyConditionExpression", "")))
        names = {k: v for k, v in params.get("ExpressionAttributeNames", {}).items() if k in used}
        values = {k: v for k, v in params.get("ExpressionAttributeValues", {}).items() if k in used}
        if names:
            kept["ExpressionAttributeNames"] = names
        if values:
            kept["ExpressionAttributeValues"] = values
        items = getattr(self.peek, op.lower())(**kept).get("Items", [])
        return sum(item_size(item) for item in items)


class S3Counter:
    """S3 requests by operation, made through ``client``."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
