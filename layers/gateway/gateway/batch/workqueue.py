"""Work items on SQS (``BATCH_QUEUE_URL``). Messages are small JSON documents:

- ``{"type": "start", "batch_id"}``: validate the batch's input file and fan it out;
- ``{"type": "chunk", "batch_id", "chunk", "first", "count", "start", "end", "line_no", "dups"}``: run
  lines ``first .. first+count-1``, found in bytes ``[start, end)`` of the input file (physical line
  ``line_no`` is the first of them; ``dups`` lists indexes whose custom_id repeats an earlier line).

Any other body that looks like one OpenAI Batch line (``custom_id``, ``url``, ``body``) is a
stand-alone request: see ``runner.run_single``.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from gateway import aws
from gateway.batch import settings as batch_settings


def send(messages: Iterable[dict[str, Any]], queue_url: str | None = None) -> int:
    """Send in batches of 10 (SendMessageBatch); raises if any entry failed after one retry."""
    url = queue_url or batch_settings.get().queue_url
    if not url:
        raise RuntimeError("BATCH_QUEUE_URL is not set")
    sqs = aws.client("sqs")
    pending = [json.dumps(m, separators=(",", ":")) for m in messages]
    sent = 0
    for i in range(0, len(pending), 10):
        entries = [{"Id": str(j), "MessageBody": body} for j, body in enumerate(pending[i:i + 10])]
        for _attempt in range(2):
            out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            sent += len(out.get("Successful", []))
            failed = {f["Id"] for f in out.get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
        if entries:
            raise RuntimeError(f"SQS refused {len(entries)} work items")
    return sent
