"""Knobs of ``gateway.keys``, read once from the environment (``get()``; ``gateway.settings.reset()``
re-reads them, as tests do after changing the environment). An empty variable counts as unset."""
from __future__ import annotations

import functools

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KeySettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True)

    # How long a resolved key is trusted without a read (cache.py says what that means for revocation).
    cache_ttl_seconds: float = Field(10.0, validation_alias="KEY_CACHE_TTL_SECONDS")
    # How long an unknown key hash is remembered (0 disables).
    negative_cache_seconds: float = Field(5.0, validation_alias="KEY_NEGATIVE_CACHE_SECONDS")
    # A reservation older than this is taken to belong to a dead invocation (Lambda's 900 s limit + margin).
    slot_stale_seconds: float = Field(960.0, validation_alias="KEY_SLOT_STALE_SECONDS")
    # How long a spare admission may wait for its request (default: the key-cache TTL).
    spare_ttl_seconds: float | None = Field(None, validation_alias="KEY_SPARE_TTL_SECONDS")
    spare_admissions: bool = Field(True, validation_alias="KEY_SPARE_ADMISSIONS")
    spend_log_ttl_days: float = Field(30.0, validation_alias="SPEND_LOG_TTL_DAYS")
    spend_log_max_payload_bytes: int = Field(64 * 1024, validation_alias="SPEND_LOG_MAX_PAYLOAD_BYTES")
    settle_max_attempts: int = Field(5, validation_alias="SETTLE_MAX_ATTEMPTS")
    # Spend reports (reports.py) read at most this many spend logs and span at most this many days.
    spend_report_max_logs: int = Field(20_000, ge=1, le=1_000_000, validation_alias="SPEND_REPORT_MAX_LOGS")
    spend_report_max_days: int = Field(93, ge=1, le=366, validation_alias="SPEND_REPORT_MAX_DAYS")

    @field_validator("settle_max_attempts")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        return max(1, value)

    @property
    def spare_ttl(self) -> float:
        return self.cache_ttl_seconds if self.spare_ttl_seconds is None else self.spare_ttl_seconds


@functools.lru_cache(maxsize=1)
def get() -> KeySettings:
    return KeySettings()
