"""Batch knobs, read from the environment (each has a default that suits Lambda).

No knob names the owner of S3 drops or SQS requests: ``BATCH_S3_DEFAULT_KEY_ID`` is gone, because it
let anyone who could write ``batch/input/`` run as that key. Owners come from prefix grants
(``prefixes.py``) and, for SQS requests, from the key token a message carries (``handlers.py``).
"""
from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class BatchSettings(BaseSettings):
    """Read afresh by ``get()`` (tests change the environment; a read costs about 0.3 ms, a few per
    SQS record); pydantic-settings parses the types, an empty variable counts as unset."""

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True)

    bucket: str | None = Field(None, validation_alias=AliasChoices("BATCH_S3_BUCKET", "CONFIG_S3_BUCKET", "LITELLM_CONFIG_BUCKET_NAME"))
    table: str | None = Field(None, validation_alias="GATEWAY_TABLE")  # the one table
    queue_url: str | None = Field(None, validation_alias="BATCH_QUEUE_URL")  # unset = in-process (local/dev only)
    chunk_lines: int = Field(50, validation_alias="BATCH_CHUNK_LINES")  # lines per SQS work item
    line_concurrency: int = Field(8, validation_alias="BATCH_LINE_CONCURRENCY")  # lines in flight per worker
    lease_seconds: float = Field(300.0, validation_alias="BATCH_LINE_LEASE_SECONDS")  # a claimed line's protection
    max_receives: int = Field(3, validation_alias="BATCH_MAX_RECEIVES")  # = the queue's redrive maxReceiveCount
    max_lines: int = Field(50_000, validation_alias="BATCH_MAX_LINES")  # OpenAI's limit per batch
    inline_max_lines: int = Field(50, validation_alias="BATCH_INLINE_MAX_LINES")  # the S3 handler runs these itself
    retention_days: int = Field(30, validation_alias="BATCH_RETENTION_DAYS")  # TTL of batch, file and line items
    sqs_allow_master: bool = Field(False, validation_alias="BATCH_SQS_ALLOW_MASTER")  # SQS requests may carry it
    status_refresh_seconds: float = Field(1.0, validation_alias="BATCH_STATUS_REFRESH_SECONDS")  # cancel/stop re-read
    transient_retries: int = Field(3, validation_alias="BATCH_TRANSIENT_RETRIES")  # in-process, rate limit / 503

    @field_validator("chunk_lines", "line_concurrency", "max_receives")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        return max(1, value)

    @classmethod
    def from_env(cls) -> "BatchSettings":
        return cls()


def get() -> BatchSettings:
    return BatchSettings()
