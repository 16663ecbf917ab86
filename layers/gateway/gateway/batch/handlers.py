"""Lambda entry points for batch work (``functions/batch/*`` only wrap these).

- ``handle_s3_event``: an object created under ``batch/input/``: an S3 notification or, as
  ``template.yaml`` wires it (no circular dependency with the bucket), the EventBridge
  ``Object Created`` event. The owner is the identity the master key granted the object's prefix,
  ``batch/input/<prefix>/...`` (``prefixes.py``); objects outside a granted prefix (or outside the
  batch bucket) are ignored with a log line and listed under ``ignored``. Metadata
  ``x-amz-meta-gateway-key-id`` that names anyone else fails the batch (``owner_mismatch``). The
  batch id is derived from (bucket, key, ETag, owner): a duplicate event or a re-upload of the same
  bytes to the same key starts nothing new. Files up to ``BATCH_INLINE_MAX_LINES`` lines run right here.
- ``handle_sqs_event``: work items (``workqueue.py``), and stand-alone requests (a message whose body is
  one OpenAI Batch line). A stand-alone request must carry the key itself in the message attribute
  ``gateway-key`` (checked like an HTTP request's key, then only its hash is used: the result goes to
  ``batch/output/sqs/<key hash>/<custom_id>.jsonl``); naming an owner (``gateway-key-id``) proves
  nothing and is refused, and so is the master key unless ``BATCH_SQS_ALLOW_MASTER``. Partial batch
  responses: a record that fails is reported in ``batchItemFailures`` and comes back alone; after the
  queue's ``maxReceiveCount`` it goes to the dead-letter queue.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gateway import errors
from gateway.batch import aio, blobs, ids, jobs, prefixes, runner, starter, store, workqueue
from gateway.batch import principal as owners
from gateway.batch import settings as batch_settings

log = logging.getLogger(__name__)
KEY_ATTRIBUTE = "gateway-key"  # SQS message attribute of a stand-alone request: the key's token itself
DEADLINE_MARGIN_S = 20.0  # stop claiming new lines this long before the Lambda timeout


class PoisonMessage(ValueError):
    """A record that is not a work item: fails until the redrive policy moves it to the DLQ."""


def start_from_object(bucket: str, key: str, owner: str) -> dict[str, Any] | None:
    """Create (once) and start the batch for one uploaded input object, as ``owner`` (its prefix's grant)."""
    head = blobs.head(bucket, key)
    etag = head.get("ETag", "").strip('"')
    claimed = prefixes.claimed_owner({k.lower(): v for k, v in (head.get("Metadata") or {}).items()})
    batch_id, file_id = ids.s3_batch_ids(bucket, key, etag, owner)
    if store.get_batch(batch_id) is None:
        dest = blobs.file_key(file_id)
        blobs.copy_in(bucket, key, dest, etag)
        file = {"id": file_id, "owner": owner, "bytes": int(head.get("ContentLength") or 0),
                "created_at": int(time.time()), "filename": key.rsplit("/", 1)[-1], "purpose": "batch",
                "status": "processed", "s3_key": dest, "source_key": key}
        store.put_file(file)
        item = jobs.new_batch_item(batch_id=batch_id, owner=owner, input_file=file, endpoint=None,
                                   completion_window="24h", metadata={"s3_key": key[:512]}, source="s3")
        store.create_batch(item)  # False = a concurrent duplicate event won the race: fine
    if claimed is not None and claimed != owner:  # checked on every delivery, not only the first
        log.warning("batch input refused: its metadata names another owner than its prefix's grant",
                    extra={"bucket": bucket, "key": key[:512], "batch_id": batch_id})
        starter.fail(batch_id, "owner_mismatch",
                     f"s3://{bucket}/{key}: x-amz-meta-{blobs.OWNER_METADATA} names another key than the one "
                     f"this prefix is registered to; nothing was run.")
        return store.get_batch(batch_id)
    batch, chunks = starter.prepare(batch_id)
    if batch is not None and chunks:
        inline = int(batch.get("total") or 0) <= batch_settings.get().inline_max_lines
        starter.dispatch(batch, chunks, inline=inline)
    return store.get_batch(batch_id)


def _objects(event: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(bucket, candidate keys) of each created object, from either event shape:
    S3 notification records (keys URL-encoded) or an EventBridge ``Object Created`` event."""
    if event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created":
        detail = event.get("detail") or {}
        key = str((detail.get("object") or {}).get("key", ""))
        return [(str((detail.get("bucket") or {}).get("name", "")), list(dict.fromkeys([key, unquote_plus(key)])))]
    found = []
    for record in event.get("Records", []):
        if str(record.get("eventName", "")).startswith("ObjectCreated"):
            key = str(record["s3"]["object"]["key"])
            found.append((record["s3"]["bucket"]["name"], list(dict.fromkeys([unquote_plus(key), key]))))
    return found


def _existing_key(bucket: str, keys: list[str]) -> str | None:
    from botocore.exceptions import ClientError

    for key in keys:
        try:
            blobs.head(bucket, key)
            return key
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise
    return None


def handle_s3_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    started, ignored = [], []
    for bucket, keys in _objects(event):
        keys = [k for k in keys if k.startswith(blobs.INPUT_PREFIX) and not k.endswith("/")]
        key = _existing_key(bucket, keys) if keys else None
        if key is None:
            if keys:
                log.warning("input object is gone; nothing to start", extra={"bucket": bucket, "key": keys[0]})
            continue
        owner = prefixes.owner_for(bucket, key)
        if owner is None:
            ignored.append({"key": key, "reason": "unregistered_prefix"})
            continue
        batch = start_from_object(bucket, key, owner)
        if batch is not None:
            started.append({"key": key, "batch_id": batch["id"], "status": batch["status"]})
    return {"batches": started, "ignored": ignored}


def _deadline(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + max(1.0, remaining() / 1000 - DEADLINE_MARGIN_S)


def handle_record(record: SQSRecord, context: Any = None) -> str:
    try:
        return _handle_record(record, context)
    except runner.ChunkIncomplete as err:
        log.info("work item left for a later delivery: %s", err, extra={"message_id": record.message_id})
        raise
    except PoisonMessage as err:
        log.error("poison work item: %s", err, extra={"message_id": record.message_id})
        raise
    except Exception:
        log.exception("work item failed", extra={"message_id": record.message_id})
        raise


def _handle_record(record: SQSRecord, context: Any = None) -> str:
    try:
        body = json.loads(record.body)
    except (TypeError, ValueError) as err:
        raise PoisonMessage(f"not JSON: {err}") from None
    if not isinstance(body, dict):
        raise PoisonMessage("not a JSON object")
    receives = int(record.attributes.approximate_receive_count or 1)
    last = receives >= batch_settings.get().max_receives
    kind = body.get("type")
    if kind == "start" and isinstance(body.get("batch_id"), str):
        batch, chunks = starter.prepare(body["batch_id"])
        if batch is not None:
            starter.dispatch(batch, chunks, inline=False)
        return "started"
    if kind == "chunk":
        try:
            chunk = runner.Chunk.from_message(body)
        except (KeyError, TypeError, ValueError) as err:
            raise PoisonMessage(f"bad chunk work item: {err}") from None
        try:
            return aio.run(runner.process_chunk(chunk, last_attempt=last, deadline=_deadline(context)))
        except runner.ChunkIncomplete as err:
            if not err.out_of_time or not batch_settings.get().queue_url:
                raise
            workqueue.send([chunk.message()])  # continue in a fresh invocation, without using up a receive
            return "continued"
    if kind is None and "body" in body and ("url" in body or "custom_id" in body):
        owner = _request_owner(record)
        return aio.run(runner.run_single(record.body, owner=owner, message_id=record.message_id, last_attempt=last))
    raise PoisonMessage(f"unknown work item (type={kind!r})")


def _request_owner(record: SQSRecord) -> str:
    """The owner a stand-alone request proves with the token it carries. Refusals are poison (a
    redelivery cannot fix them); a key store outage (503) is an ordinary failure, retried."""
    attributes = record.raw_event.get("messageAttributes") or {}
    token = ((attributes.get(KEY_ATTRIBUTE) or {}).get("stringValue") or "").strip()
    if not token:
        raise PoisonMessage(f"request message without the key in its '{KEY_ATTRIBUTE}' message attribute "
                            f"('{blobs.OWNER_METADATA}' naming an owner is not accepted)")
    try:
        return owners.prove(token, allow_master=batch_settings.get().sqs_allow_master)
    except errors.GatewayError as err:
        if err.status_code >= 500:
            raise
        raise PoisonMessage(f"request message refused ({err.status_code}): {err.message}") from None


def handle_sqs_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from gateway.runtime import get_runtime

    get_runtime().reloads.refresh()  # config and artifact hot reload (a HEAD at most every CONFIG_SYNC_INTERVAL)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> str:  # Powertools passes record=...
        return handle_record(record, context)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
