"""Knobs of stored responses, read from the environment (defaults suit Lambda)."""
from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ResponsesSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True)

    table: str | None = Field(None, validation_alias="GATEWAY_TABLE")
    bucket: str | None = Field(None, validation_alias=AliasChoices("RESPONSES_S3_BUCKET", "CONFIG_S3_BUCKET", "LITELLM_CONFIG_BUCKET_NAME"))
    #: OpenAI keeps stored responses 30 days; DynamoDB's TTL deletes them some time after that, and
    #: a read refuses an expired one before then.
    retention_days: float = Field(30.0, gt=0, validation_alias="RESPONSES_RETENTION_DAYS")
    #: compressed bodies up to this size live in the DynamoDB item (its limit is 400 KB with the
    #: attribute names), larger ones in S3 under ``responses/``
    inline_max_bytes: int = Field(350_000, ge=1, le=380_000, validation_alias="RESPONSES_INLINE_MAX_BYTES")


def get() -> ResponsesSettings:
    return ResponsesSettings()
