"""Creating files and batches, starting and cancelling them: what the REST routes and the S3
handler have in common (FastAPI-free)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from gateway import errors
from gateway.batch import blobs, ids, jsonl, starter, store, workqueue
from gateway.batch import settings as batch_settings
from gateway.batch.formats import TERMINAL

log = logging.getLogger(__name__)
COMPLETION_WINDOWS = {"24h"}


def create_file(owner: str, data: bytes, filename: str, purpose: str = "batch") -> dict[str, Any]:
    file_id = ids.new_file_id()
    key = blobs.file_key(file_id)
    blobs.put(key, data, metadata={blobs.OWNER_METADATA: owner})
    item = {"id": file_id, "owner": owner, "bytes": len(data), "created_at": int(time.time()),
            "filename": filename, "purpose": purpose, "status": "processed", "s3_key": key}
    store.put_file(item)
    return item


def new_batch_item(*, batch_id: str, owner: str, input_file: dict[str, Any], endpoint: str | None,
                   completion_window: str, metadata: dict[str, str] | None, source: str) -> dict[str, Any]:
    now = int(time.time())
    return {"id": batch_id, "owner": owner, "status": "validating", "created_at": now,
            "expires_at": now + 24 * 3600, "endpoint": endpoint, "strict_endpoint": endpoint is not None,
            "input_file_id": input_file["id"], "input_key": input_file["s3_key"],
            "completion_window": completion_window, "metadata": metadata or None, "source": source}


def create_batch(owner: str, *, input_file_id: str, endpoint: str, completion_window: str,
                 metadata: dict[str, str] | None, visible: Any) -> dict[str, Any]:
    """``POST /v1/batches``: check the request, create the item, start it (queue or in-process)."""
    url = jsonl.normalize_url(endpoint)
    if url is None:
        raise errors.bad_request(f"endpoint must be one of {', '.join(jsonl.ENDPOINTS)}.", param="endpoint",
                                 code="invalid_value")
    if completion_window not in COMPLETION_WINDOWS:
        raise errors.bad_request("completion_window must be '24h'.", param="completion_window", code="invalid_value")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16
                                 or any(not isinstance(v, str) for v in metadata.values())):
        raise errors.bad_request("metadata must be at most 16 string values.", param="metadata", code="invalid_value")
    file = store.get_file(input_file_id)
    if file is None or not visible(file.get("owner")):
        raise errors.not_found(f"No file with id '{input_file_id}'.", param="input_file_id", code="file_not_found")
    if file.get("purpose") != "batch":
        raise errors.bad_request(f"File '{input_file_id}' has purpose '{file.get('purpose')}', expected 'batch'.",
                                 param="input_file_id", code="invalid_value")
    item = new_batch_item(batch_id=ids.new_batch_id(), owner=owner, input_file=file, endpoint=url,
                          completion_window=completion_window, metadata=metadata, source="api")
    store.create_batch(item)
    start(item["id"])
    return store.get_batch(item["id"]) or item


def start(batch_id: str) -> None:
    """Validation can take a while on a big file, so it never runs inside the API request: a start
    work item on the queue, or (no queue: local/dev) a background thread."""
    if batch_settings.get().queue_url:
        workqueue.send([{"type": "start", "batch_id": batch_id}])
        return

    def run() -> None:
        try:
            batch, chunks = starter.prepare(batch_id)
            if batch is not None:
                starter.dispatch(batch, chunks, inline=True)
        except Exception:
            log.exception("in-process batch run failed", extra={"batch_id": batch_id})

    threading.Thread(target=run, name=f"batch-{batch_id}", daemon=True).start()


def cancel(batch: dict[str, Any]) -> dict[str, Any]:
    """``validating``/``in_progress`` -> ``cancelling``; workers record the lines not yet run as
    ``batch_cancelled`` and the last chunk finalizes the batch as ``cancelled``."""
    status = batch["status"]
    if status in ("cancelling", "cancelled"):
        return batch
    if status in TERMINAL or status == "finalizing":
        raise errors.GatewayError(409, f"Cannot cancel a batch with status '{status}'.", code="batch_not_cancellable")
    updated = store.update_batch(batch["id"], {"status": "cancelling", "cancelling_at": int(time.time())},
                                 when_status=("validating", "in_progress"))
    if updated is None:
        return cancel(store.get_batch(batch["id"]) or batch)
    return updated  # still validating: its pending start turns it into cancelled


def resume(batch_id: str) -> int:
    """Re-send the work items of every chunk not yet counted (after items went to the dead-letter
    queue, say). Safe at any time: lines already done are skipped. Returns how many were sent."""
    batch = store.get_batch(batch_id)
    if batch is None or batch["status"] not in ("in_progress", "cancelling", "finalizing"):
        return 0
    if batch["status"] == "finalizing":
        from gateway.batch import finalize

        finalize.assemble(batch)
        return 0
    scan = jsonl.scan(blobs.get(batch["input_key"]), max_lines=batch_settings.get().max_lines)
    counted = set(batch.get("cd") or ())
    chunks = [c for c in starter.plan(batch_id, scan, batch_settings.get().chunk_lines) if c.chunk not in counted]
    if not chunks:
        return 0
    starter.dispatch(batch, chunks, inline=False)
    return len(chunks)
