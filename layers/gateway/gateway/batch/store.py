"""Batch, file and line items in the gateway's single DynamoDB table (``GATEWAY_TABLE``).

| item  | pk               | sk               | gsi1pk / gsi1sk                         |
| ----- | ---------------- | ---------------- | --------------------------------------- |
| file  | ``FILE#<id>``    | ``META``         | ``FILES#<owner>`` / ``<created µs>#<id>``|
| batch | ``BATCH#<id>``   | ``META``         | ``BATCHES#<owner>`` / ``<created µs>#<id>``|
| line  | ``BATCH#<id>``   | ``LINE#<index>`` | (none)                                  |
| stand-alone request (one SQS message) | ``SQSREQ#<owner>`` | ``REQ#<custom_id>`` | (none)      |
| S3 input prefix grant | ``S3PREFIX#<prefix>`` | ``META`` | ``S3PREFIXES`` / ``<prefix>``     |

``owner`` is the key's SHA-256 (``Principal.key_id``) or ``master``; tokens are never stored. Every
item but a prefix grant (the master key's registration, kept until deleted) has ``ttl``
(``BATCH_RETENTION_DAYS``). Counters on the batch item move once per chunk, guarded by the number
set ``cd`` (chunks done), so a redelivered chunk never counts twice.

Values go through ``gateway.dynamo.codec`` (written in fixed-point text, read back as plain dicts:
numbers as int/float, ``cd`` as a set). Failures propagate as botocore raises them (this store does
not map them to ``StoreUnavailable``); a failed condition is an answer (False / None / ``busy``).
"""
from __future__ import annotations

import time
from typing import Any, Iterator, Literal

from botocore.exceptions import ClientError

from gateway import aws
from gateway.batch import settings as batch_settings
from gateway.dynamo.codec import plain_item, serialize, serialize_values
from gateway.dynamo.errors import error_code

Claim = Literal["claimed", "done", "busy"]


class StoreMissing(RuntimeError):
    """No table configured: the batch API needs ``GATEWAY_TABLE``."""


def _failed_condition(exc: ClientError) -> bool:
    return error_code(exc) in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def table() -> str:
    name = batch_settings.get().table
    if not name:
        raise StoreMissing("The batch API needs a DynamoDB table (GATEWAY_TABLE).")
    return name


def ttl_for(now: float) -> int:
    return int(now + batch_settings.get().retention_days * 86400)


def _db() -> Any:
    return aws.client("dynamodb")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _get(pk: str, sk: str) -> dict[str, Any] | None:
    out = _db().get_item(TableName=table(), Key=_key(pk, sk), ConsistentRead=True)
    return plain_item(out["Item"]) if "Item" in out else None


# ---------------------------------------------------------------- files
def put_file(item: dict[str, Any]) -> None:
    fid, owner, created = item["id"], item["owner"], int(item["created_at"])
    order = max(time.time_ns() // 1000, created * 1_000_000)
    full = {"pk": f"FILE#{fid}", "sk": "META", "type": "batch_file", "gsi1pk": f"FILES#{owner}",
            "gsi1sk": f"{order:017d}#{fid}", "ttl": ttl_for(created), **item}
    _db().put_item(TableName=table(), Item=serialize(full))


def get_file(file_id: str) -> dict[str, Any] | None:
    return _get(f"FILE#{file_id}", "META")


# ---------------------------------------------------------------- batches
def create_batch(item: dict[str, Any]) -> bool:
    """Put a new batch item; False if one with this id exists (a replayed S3 event)."""
    bid, owner, created = item["id"], item["owner"], int(item["created_at"])
    order = max(time.time_ns() // 1000, created * 1_000_000)  # microseconds: creation order within a second
    full = {"pk": f"BATCH#{bid}", "sk": "META", "type": "batch", "gsi1pk": f"BATCHES#{owner}",
            "gsi1sk": f"{order:017d}#{bid}", "ttl": ttl_for(created), "completed": 0, "failed": 0, **item}
    try:
        _db().put_item(TableName=table(), Item=serialize(full), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if _failed_condition(exc):
            return False
        raise
    return True


def get_batch(batch_id: str) -> dict[str, Any] | None:
    return _get(f"BATCH#{batch_id}", "META")


def update_batch(batch_id: str, changes: dict[str, Any], *, when_status: tuple[str, ...] | None = None,
                 remove: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """SET ``changes`` (and REMOVE ``remove``); with ``when_status`` only if the status is one of
    those. Returns the new item, or None when the condition did not hold."""
    names = {f"#a{i}": k for i, k in enumerate(changes)}
    values = {f":v{i}": v for i, v in enumerate(changes.values())}
    expr = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes)))
    if remove:
        names.update({f"#r{i}": k for i, k in enumerate(remove)})
        expr += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    cond = "attribute_exists(pk)"
    if when_status:
        names["#st"] = "status"
        values.update({f":s{i}": s for i, s in enumerate(when_status)})
        cond += " AND #st IN (" + ", ".join(f":s{i}" for i in range(len(when_status))) + ")"
    try:
        out = _db().update_item(TableName=table(), Key=_key(f"BATCH#{batch_id}", "META"), UpdateExpression=expr,
                                ConditionExpression=cond, ExpressionAttributeNames=names,
                                ExpressionAttributeValues=serialize_values(values), ReturnValues="ALL_NEW")
    except ClientError as exc:
        if _failed_condition(exc):
            return None
        raise
    return plain_item(out["Attributes"])


def set_stop(batch_id: str, code: str) -> None:
    """Record why the rest of the batch must not run (first reason wins)."""
    _db().update_item(TableName=table(), Key=_key(f"BATCH#{batch_id}", "META"),
                      UpdateExpression="SET stop_code = if_not_exists(stop_code, :c)",
                      ExpressionAttributeValues={":c": {"S": code}})


def count_chunk(batch_id: str, chunk: int, completed: int, failed: int) -> dict[str, Any] | None:
    """Add one chunk's counts exactly once; the new item, or None if this chunk was counted before."""
    try:
        out = _db().update_item(
            TableName=table(), Key=_key(f"BATCH#{batch_id}", "META"),
            UpdateExpression="ADD cd :set, completed :c, failed :f",
            ConditionExpression="attribute_exists(pk) AND NOT contains(cd, :n)",
            ExpressionAttributeValues={":set": {"NS": [str(chunk)]}, ":n": {"N": str(chunk)},
                                       ":c": {"N": str(completed)}, ":f": {"N": str(failed)}},
            ReturnValues="ALL_NEW")
    except ClientError as exc:
        if _failed_condition(exc):
            return None
        raise
    return plain_item(out["Attributes"])


def _list(prefix: str, owner: str, limit: int, after: dict[str, Any] | None) -> tuple[list[dict[str, Any]], bool]:
    kwargs: dict[str, Any] = {
        "TableName": table(), "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": f"{prefix}#{owner}"}}, "ScanIndexForward": False,
        "Limit": limit + 1,
    }
    if after is not None:
        kwargs["ExclusiveStartKey"] = serialize({k: after[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")})
    out = _db().query(**kwargs)
    items = [plain_item(i) for i in out.get("Items", [])]
    return items[:limit], len(items) > limit


def list_batches(owner: str, *, limit: int, after: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """The owner's batches, newest first, after the batch ``after`` (cursor), and whether more exist."""
    return _list("BATCHES", owner, limit, after)


def list_files(owner: str, *, limit: int, after: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """The owner's files (inputs and outputs), newest first."""
    return _list("FILES", owner, limit, after)


# ---------------------------------------------------------------- lines (and stand-alone requests)
def _line_key(batch_id: str, index: int) -> dict[str, Any]:
    return _key(f"BATCH#{batch_id}", f"LINE#{index:07d}")


def claim(pk: str, sk: str, token: str, lease_seconds: float) -> Claim:
    """Take a unit of work before calling the model: ``claimed`` (ours now), ``done`` (recorded
    by someone, skip) or ``busy`` (another worker holds an unexpired lease: retry later)."""
    now = time.time()
    item = {"pk": pk, "sk": sk, "st": "claimed", "tok": token, "lease": int(now + lease_seconds), "ttl": ttl_for(now)}
    try:
        _db().put_item(TableName=table(), Item=serialize(item),
                       ConditionExpression="attribute_not_exists(pk) OR (st = :c AND lease < :now)",
                       ExpressionAttributeValues={":c": {"S": "claimed"}, ":now": {"N": str(int(now))}},
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as exc:
        if not _failed_condition(exc):
            raise
        old = exc.response.get("Item")
        state = plain_item(old).get("st") if old else (_get(pk, sk) or {}).get("st")
        return "done" if state == "done" else "busy"
    return "claimed"


def finish(pk: str, sk: str, token: str, *, ok: bool, out: str | None, out_s3: str | None) -> bool:
    """Record the result, only while our claim stands; False if we lost it (lease expired and
    another worker recorded first)."""
    values: dict[str, Any] = {":d": "done", ":ok": ok, ":t": token, ":d2": "claimed"}
    kwargs: dict[str, Any] = {}
    if out is not None:
        values[":o"] = out
        expr = "SET st = :d, ok = :ok, #o = :o REMOVE lease"
        kwargs["ExpressionAttributeNames"] = {"#o": "out"}
    else:
        values[":s"] = out_s3
        expr = "SET st = :d, ok = :ok, os3 = :s REMOVE lease"
    try:
        _db().update_item(TableName=table(), Key=_key(pk, sk), UpdateExpression=expr,
                          ConditionExpression="st = :d2 AND tok = :t", ExpressionAttributeValues=serialize_values(values), **kwargs)
    except ClientError as exc:
        if _failed_condition(exc):
            return False
        raise
    return True


def release(pk: str, sk: str, token: str) -> None:
    """Give a claim back (refused for a transient reason; it will be retried)."""
    try:
        _db().delete_item(TableName=table(), Key=_key(pk, sk), ConditionExpression="tok = :t AND st = :c",
                          ExpressionAttributeValues={":t": {"S": token}, ":c": {"S": "claimed"}})
    except ClientError as exc:
        if not _failed_condition(exc):
            raise


def line_sk(index: int) -> str:
    return f"LINE#{index:07d}"


def claim_line(batch_id: str, index: int, token: str, lease_seconds: float) -> Claim:
    return claim(f"BATCH#{batch_id}", line_sk(index), token, lease_seconds)


def finish_line(batch_id: str, index: int, token: str, *, ok: bool, out: str | None, out_s3: str | None) -> bool:
    return finish(f"BATCH#{batch_id}", line_sk(index), token, ok=ok, out=out, out_s3=out_s3)


def release_line(batch_id: str, index: int, token: str) -> None:
    release(f"BATCH#{batch_id}", line_sk(index), token)


def get_item(pk: str, sk: str) -> dict[str, Any] | None:
    return _get(pk, sk)


def _query_lines(batch_id: str, first: int, last: int, projection: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {
        "TableName": table(), "ConsistentRead": True,
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": f"BATCH#{batch_id}"}, ":a": {"S": f"LINE#{first:07d}"},
                                      ":b": {"S": f"LINE#{last:07d}"}},
        "ProjectionExpression": projection, "ExpressionAttributeNames": {"#o": "out"},
    }
    while True:
        out = _db().query(**kwargs)
        for raw in out.get("Items", []):
            yield plain_item(raw)
        if "LastEvaluatedKey" not in out:
            return
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]


def count_lines(batch_id: str, first: int, last: int) -> tuple[int, int, int]:
    """(completed, failed, not yet done) among lines ``first..last``."""
    completed = failed = done = 0
    for item in _query_lines(batch_id, first, last, "st, ok, #o"):
        if item.get("st") == "done":
            done += 1
            completed += bool(item.get("ok"))
            failed += not item.get("ok")
    return completed, failed, (last - first + 1) - done


def line_results(batch_id: str, total: int) -> Iterator[dict[str, Any]]:
    """Every recorded line result in input order (``sk``, ``ok``, ``out`` or ``os3``)."""
    return _query_lines(batch_id, 0, max(0, total - 1), "sk, st, ok, #o, os3")


# ---------------------------------------------------------------- S3 input prefix grants
def put_prefix(prefix: str, owner: str, created_at: int) -> dict[str, Any] | None:
    """Register ``prefix`` -> ``owner`` unless it is registered already: None when it was new, else
    the existing grant (never overwritten: re-pointing a prefix takes a delete first)."""
    item = {"pk": f"S3PREFIX#{prefix}", "sk": "META", "type": "batch_s3_prefix", "gsi1pk": "S3PREFIXES",
            "gsi1sk": prefix, "prefix": prefix, "owner": owner, "created_at": created_at}
    try:
        _db().put_item(TableName=table(), Item=serialize(item), ConditionExpression="attribute_not_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as exc:
        if not _failed_condition(exc):
            raise
        old = exc.response.get("Item")
        return plain_item(old) if old else (get_prefix(prefix) or {"prefix": prefix})
    return None


def get_prefix(prefix: str) -> dict[str, Any] | None:
    return _get(f"S3PREFIX#{prefix}", "META")


def delete_prefix(prefix: str) -> dict[str, Any] | None:
    """Remove a grant; the removed item, or None if there was none."""
    out = _db().delete_item(TableName=table(), Key=_key(f"S3PREFIX#{prefix}", "META"),
                            ReturnValues="ALL_OLD")
    return plain_item(out["Attributes"]) if "Attributes" in out else None


def list_prefixes() -> list[dict[str, Any]]:
    """Every grant, by prefix name (a handful per deployment: no paging for the caller)."""
    kwargs: dict[str, Any] = {"TableName": table(), "IndexName": "gsi1", "KeyConditionExpression": "gsi1pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": "S3PREFIXES"}}}
    items: list[dict[str, Any]] = []
    while True:
        out = _db().query(**kwargs)
        items += [plain_item(i) for i in out.get("Items", [])]
        if "LastEvaluatedKey" not in out:
            return items
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
