"""The end of a batch: whoever counts the last chunk assembles the output and error files.

``in_progress``/``cancelling`` -> ``finalizing`` is a conditional update, so exactly one worker
wins it; a worker that finds the batch already ``finalizing`` (the winner crashed, the message came
back) assembles again. Assembly is idempotent: file ids derive from the batch id and the S3 writes
overwrite the same keys with the same bytes.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from gateway.batch import blobs, ids, store
from gateway.batch.formats import TERMINAL

log = logging.getLogger(__name__)


def maybe_finalize(batch: dict[str, Any]) -> dict[str, Any] | None:
    """Finalize ``batch`` if all its chunks are counted; returns the final item if this call did."""
    status = batch.get("status")
    total_chunks = batch.get("chunks_total")
    if status in TERMINAL or total_chunks is None or len(batch.get("cd") or ()) < int(total_chunks):
        return None
    if status in ("in_progress", "cancelling"):
        won = store.update_batch(batch["id"], {"status": "finalizing", "finalizing_at": int(time.time()),
                                               "ended_as": "cancelled" if status == "cancelling" else "completed"},
                                 when_status=(status,))
        if won is None:
            return None
        batch = won
    elif status != "finalizing":
        return None
    return assemble(batch)


def _write(batch_id: str, which: str, lines: list[str], owner: str, now: int) -> str:
    file_id = ids.output_file_id(batch_id, which)
    key = f"{blobs.OUTPUT_PREFIX}{batch_id}/{which}.jsonl"
    data = ("\n".join(lines) + "\n").encode()
    blobs.put(key, data)
    store.put_file({"id": file_id, "owner": owner, "bytes": len(data), "created_at": now,
                    "filename": f"{batch_id}_{which}.jsonl", "purpose": "batch_output", "status": "processed",
                    "s3_key": key})
    return file_id


def assemble(batch: dict[str, Any]) -> dict[str, Any] | None:
    batch_id, total = batch["id"], int(batch.get("total") or 0)
    ok_lines: list[str] = []
    bad_lines: list[str] = []
    for item in store.line_results(batch_id, total):
        if item.get("st") != "done":
            continue
        text = item.get("out")
        if text is None:
            text = blobs.get(item["os3"]).decode()
        (ok_lines if item.get("ok") else bad_lines).append(text)
    if len(ok_lines) + len(bad_lines) != total:
        # Cannot happen when every chunk was counted; refuse to publish a file with lines missing.
        raise RuntimeError(f"batch {batch_id}: {len(ok_lines) + len(bad_lines)} results for {total} lines")
    now = int(time.time())
    changes: dict[str, Any] = {"completed": len(ok_lines), "failed": len(bad_lines)}
    if ok_lines:
        changes["output_file_id"] = _write(batch_id, "output", ok_lines, batch["owner"], now)
    if bad_lines:
        changes["error_file_id"] = _write(batch_id, "errors", bad_lines, batch["owner"], now)
    final = batch.get("ended_as") or "completed"
    if final == "completed" and batch.get("stop_code") == "batch_expired":
        final = "expired"
    changes["status"] = final
    changes[f"{final}_at"] = now
    if batch.get("stop_code") == "budget_exceeded":
        errs = list(batch.get("errors") or [])
        errs.append({"code": "budget_exceeded", "line": None, "param": None,
                     "message": "The key's budget ran out during the batch; the requests not run are in the error file."})
        changes["errors"] = errs
    done = store.update_batch(batch_id, changes, when_status=("finalizing",))
    log.info("batch finalized", extra={"batch_id": batch_id, "status": final, "completed": len(ok_lines),
                                       "failed": len(bad_lines)})
    return done
