"""Request bodies of the admin API, LiteLLM's field names, validated strictly.

Types are strict (``"10"`` is not an int, a string is not a list) so that a malformed request is a
400 and never half-applied. Fields LiteLLM accepts but this gateway does not use (``aliases``,
``config``, ``tags``, ...) are ignored, so LiteLLM clients and scripts work unchanged.
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.keys.durations import DurationError, parse_duration


def _normalise_duration(value: str | None) -> str | None:
    """``30d``-style durations in their canonical spelling; a readable 400 otherwise."""
    if value is None:
        return None
    try:
        return parse_duration(value).text
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Limits(_Body):
    models: Optional[list[str]] = None
    max_budget: Optional[float] = Field(default=None, ge=0)
    budget_duration: Optional[str] = None
    rpm_limit: Optional[int] = Field(default=None, ge=0)
    tpm_limit: Optional[int] = Field(default=None, ge=0)
    max_parallel_requests: Optional[int] = Field(default=None, ge=1)
    metadata: Optional[dict[str, Any]] = None
    blocked: Optional[bool] = None

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return _normalise_duration(value)


class KeyFields(_Limits):
    key_alias: Optional[str] = None
    duration: Optional[str] = None  # expiry, from now
    team_id: Optional[str] = None
    user_id: Optional[str] = None

    @field_validator("duration")
    @classmethod
    def _expiry(cls, value: str | None) -> str | None:
        return _normalise_duration(value)


class GenerateKeyRequest(KeyFields):
    key: Optional[str] = Field(default=None, description="a custom token (must start with sk-)")

    @field_validator("key")
    @classmethod
    def _custom(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("sk-") or len(value) < 8):
            raise ValueError("a custom key must start with 'sk-' and be at least 8 characters")
        return value


class UpdateKeyRequest(KeyFields):
    key: str


class KeyRef(_Body):
    key: str


class RegenerateKeyRequest(KeyFields):
    key: Optional[str] = None


class DeleteKeysRequest(_Body):
    keys: Optional[list[str]] = None
    key_aliases: Optional[list[str]] = None


class NewTeamRequest(_Limits):
    team_id: Optional[str] = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    team_alias: Optional[str] = None


class UpdateTeamRequest(_Limits):
    team_id: str
    team_alias: Optional[str] = None


class DeleteTeamsRequest(_Body):
    team_ids: list[str] = Field(min_length=1)


class ReplaySettlementsRequest(_Body):
    """``settlement`` objects from ``spend_settle_failed`` log lines (see ``gateway.keys.spend``)."""

    settlements: list[dict[str, Any]] = Field(min_length=1, max_length=1000)
