"""Batch knobs, read from the environment (each has a default that suits Lambda).

No knob names the owner of S3 drops or SQS requests: ``BATCH_S3_DEFAULT_KEY_ID`` is gone, because it
let anyone who could write ``batch/input/`` run as that key. Owners come from prefix grants
(``prefixes.py``) and, for SQS requests, from the key token a message carries (``handlers.py``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from gateway.settings import _flag


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class BatchSettings:
    bucket: str | None          # BATCH_S3_BUCKET, default CONFIG_S3_BUCKET
    table: str | None           # GATEWAY_TABLE (the one table)
    queue_url: str | None       # BATCH_QUEUE_URL; unset = run in-process (local/dev only)
    chunk_lines: int            # lines per SQS work item
    line_concurrency: int       # lines in flight per worker
    lease_seconds: float        # how long a claimed line is protected from other workers
    max_receives: int           # = the queue's redrive maxReceiveCount (last attempt records failures)
    max_lines: int              # OpenAI's limit is 50,000 lines per batch
    inline_max_lines: int       # the S3 handler runs a file this small itself (no SQS hop)
    retention_days: int         # TTL of batch, file and line items
    sqs_allow_master: bool      # BATCH_SQS_ALLOW_MASTER: SQS requests may carry the master key itself
    status_refresh_seconds: float  # how often a worker re-reads the batch (cancel / budget stop)
    transient_retries: int      # in-process retries of a line refused by a rate limit / 503

    @classmethod
    def from_env(cls) -> "BatchSettings":
        return cls(
            bucket=os.environ.get("BATCH_S3_BUCKET") or os.environ.get("CONFIG_S3_BUCKET") or None,
            table=os.environ.get("GATEWAY_TABLE") or None,
            queue_url=os.environ.get("BATCH_QUEUE_URL") or None,
            chunk_lines=max(1, _int("BATCH_CHUNK_LINES", 50)),
            line_concurrency=max(1, _int("BATCH_LINE_CONCURRENCY", 8)),
            lease_seconds=_float("BATCH_LINE_LEASE_SECONDS", 300.0),
            max_receives=max(1, _int("BATCH_MAX_RECEIVES", 3)),
            max_lines=_int("BATCH_MAX_LINES", 50_000),
            inline_max_lines=_int("BATCH_INLINE_MAX_LINES", 50),
            retention_days=_int("BATCH_RETENTION_DAYS", 30),
            sqs_allow_master=_flag("BATCH_SQS_ALLOW_MASTER"),
            status_refresh_seconds=_float("BATCH_STATUS_REFRESH_SECONDS", 1.0),
            transient_retries=_int("BATCH_TRANSIENT_RETRIES", 3),
        )


def get() -> BatchSettings:
    """Settings are cheap to read and tests change the environment, so no cache."""
    return BatchSettings.from_env()
