"""OpenAI-style ids. Random for API-created objects; derived from content where a replay (a
redelivered S3 event, a re-upload of the same object) must arrive at the same batch."""
from __future__ import annotations

import hashlib
import secrets


def _digest(*parts: str, size: int = 24) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:size]


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


def s3_batch_ids(bucket: str, key: str, etag: str, owner: str) -> tuple[str, str]:
    """(batch id, input file id) for an object dropped under the input prefix: same object
    version (ETag) and owner -> same ids, so duplicate events and re-uploads start nothing new."""
    digest = _digest(bucket, key, etag.strip('"'), owner)
    return "batch_" + digest, "file-" + digest


def output_file_id(batch_id: str, which: str) -> str:
    return "file-" + _digest(batch_id, which)


def request_id(batch_id: str, custom_id: str | None, index: int) -> str:
    """The line's ``id`` in the output and the pipeline's request id (spend logs): stable per
    (batch, custom_id), so every attempt of one line carries the same id."""
    return "batch_req_" + _digest(batch_id, custom_id if custom_id is not None else f"#{index}")
