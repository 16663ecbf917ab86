"""Start a batch: read its input file, fail it if it is not JSONL, plan chunks, fan them out.

Idempotent: the ``validating -> in_progress`` step is a conditional update, chunk messages are
deterministic (a duplicate only finds its lines done), and ``enqueued`` records that the fan-out
finished, so a redelivered start message or S3 event re-sends only what may have been lost.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from gateway.batch import blobs, jsonl, store, workqueue
from gateway.batch import settings as batch_settings
from gateway.batch.runner import Chunk

log = logging.getLogger(__name__)


def plan(batch_id: str, scan: jsonl.Scan, chunk_lines: int) -> list[Chunk]:
    chunks = []
    for n, i in enumerate(range(0, len(scan.lines), chunk_lines)):
        part = scan.lines[i:i + chunk_lines]
        dups = tuple(sorted(r.index for r in part if r.index in scan.duplicates))
        chunks.append(Chunk(batch_id=batch_id, chunk=n, first=part[0].index, count=len(part),
                            start=part[0].start, end=part[-1].end, line_no=part[0].line_no, dups=dups))
    return chunks


def fail(batch_id: str, code: str, message: str, line: int | None = None) -> dict[str, Any] | None:
    error = {"code": code, "message": message, "param": None, "line": line}
    return store.update_batch(batch_id, {"status": "failed", "failed_at": int(time.time()), "errors": [error]},
                              when_status=("validating",))


def prepare(batch_id: str) -> tuple[dict[str, Any] | None, list[Chunk]]:
    """Validate and plan. Returns (batch, chunks still to dispatch); no chunks = nothing to do."""
    settings = batch_settings.get()
    batch = store.get_batch(batch_id)
    if batch is None:
        log.warning("start for an unknown batch", extra={"batch_id": batch_id})
        return None, []
    status = batch["status"]
    if status == "cancelling" and batch.get("chunks_total") is None:
        done = store.update_batch(batch_id, {"status": "cancelled", "cancelled_at": int(time.time())},
                                  when_status=("cancelling",))
        return done, []
    if status not in ("validating", "in_progress") or (status == "in_progress" and batch.get("enqueued")):
        return batch, []
    data = blobs.get(batch["input_key"])
    try:
        scan = jsonl.scan(data, max_lines=settings.max_lines)
    except jsonl.NotJsonl as err:
        log.info("batch input is not JSONL", extra={"batch_id": batch_id, "reason": str(err)})
        return fail(batch_id, "invalid_file", str(err), err.line), []
    chunks = plan(batch_id, scan, settings.chunk_lines)
    if status == "validating":
        changes = {"status": "in_progress", "in_progress_at": int(time.time()), "total": len(scan.lines),
                   "chunks_total": len(chunks)}
        if not batch.get("endpoint") and scan.endpoint:
            changes["endpoint"] = scan.endpoint
        started = store.update_batch(batch_id, changes, when_status=("validating",))
        if started is None:  # cancelled meanwhile, or another starter won: look again
            return prepare(batch_id) if (store.get_batch(batch_id) or {}).get("status") != "validating" else (batch, [])
        batch = started
    return batch, chunks


def dispatch(batch: dict[str, Any], chunks: list[Chunk], *, inline: bool) -> str:
    """Send the chunks to SQS, or run them here (small files, or no queue configured)."""
    if not chunks:
        return "nothing"
    settings = batch_settings.get()
    if inline or not settings.queue_url:
        from gateway.batch import aio
        from gateway.batch.runner import process_chunk

        for chunk in chunks:
            aio.run(process_chunk(chunk, last_attempt=True))
        return "inline"
    workqueue.send(c.message() for c in chunks)
    store.update_batch(batch["id"], {"enqueued": True})
    return "queued"
