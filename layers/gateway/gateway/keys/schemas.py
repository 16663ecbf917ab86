"""Request bodies of the admin API, LiteLLM's field names, validated strictly and bounded.

Types are strict (``"10"`` is not an int, a string is not a list) so that a malformed request is a
400 and never half-applied. Fields LiteLLM accepts but this gateway does not use (``aliases``,
``config``, ``tags``, ...) are ignored, so LiteLLM clients and scripts work unchanged.

Every field is bounded, so whatever an admin sends is either stored and read back intact or
refused with a 400 naming the field (FastAPI's ``RequestValidationError``, which the app renders
in OpenAI's error shape); nothing reaches DynamoDB that it would refuse or return unreadable:

- ``metadata``: a JSON object, at most ``MAX_METADATA_DEPTH`` levels deep and ``MAX_METADATA_BYTES``
  as compact UTF-8 JSON; its keys (at every level) non-empty and at most ``MAX_JSON_KEY_CHARS``;
  its numbers finite, below ``MAX_JSON_NUMBER`` in magnitude and, unless 0, at least
  ``MIN_JSON_NUMBER``. Replayed settlements follow the same rules with their own depth and size.
- ids that are part of a DynamoDB key (``team_id``: ``TEAM#<id>`` and the GSI sort key) match
  ``TEAM_ID_PATTERN`` and are at most ``MAX_TEAM_ID_CHARS``; other names and ids (``key_alias``,
  ``user_id``, a custom ``key``, model names) are at most ``MAX_NAME_CHARS``.
- lists (``models``, ``keys``, ``key_aliases``, ``team_ids``) hold at most ``MAX_LIST_ITEMS``.
- numbers: finite, ``max_budget`` at most ``MAX_BUDGET_USD``, ``rpm_limit`` ``MAX_RPM``,
  ``tpm_limit`` ``MAX_TPM``, ``max_parallel_requests`` ``MAX_PARALLEL_REQUESTS``.
- durations: at most ``MAX_DURATION_CHARS`` characters and ``MAX_DURATION_SECONDS`` long.

``routes.py`` applies the same name and id bounds to query and path parameters.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Annotated, Any, Callable, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gateway.keys.durations import DurationError, parse_duration

#: names and ids an admin picks: far above any real alias or user id, far below DynamoDB's item size
MAX_NAME_CHARS = 256
#: team ids become part of DynamoDB keys (``TEAM#<id>``): a short id in an alphabet safe in any key
MAX_TEAM_ID_CHARS = 128
TEAM_ID_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
#: entries of one list field: enough for any team's model list, small enough for one request's work
MAX_LIST_ITEMS = 100
#: nesting of ``metadata`` (the object itself is level 1); DynamoDB allows 32, real metadata needs 2-3
MAX_METADATA_DEPTH = 5
#: ``metadata`` as compact JSON: the key item is read on every cold key lookup, so it stays small
MAX_METADATA_BYTES = 16 * 1024
#: a replayed settlement carries a spend log (router decision, up to 64 KiB of payload): one item's worth
MAX_SETTLEMENT_DEPTH = 8
MAX_SETTLEMENT_BYTES = 384 * 1024
#: object keys at any level: empty map keys come back unreadable from DynamoDB emulators
MAX_JSON_KEY_CHARS = 256
#: the store writes numbers in plain notation and DynamoDB keeps 38 digits: larger ones fail the write
MAX_JSON_NUMBER = 10**38
#: DynamoDB's smallest positive number; smaller floats underflow when stored
MIN_JSON_NUMBER = Decimal("1e-130")
#: USD; a billion is beyond any real budget
MAX_BUDGET_USD = 1e9
#: per-minute and parallel limits: far above what one table can serve, far below an overflow
MAX_RPM = 10**9
MAX_TPM = 10**12
MAX_PARALLEL_REQUESTS = 10**6
#: ``30d``, ``12mo``: a few characters; expiry and budget periods at most a century away
MAX_DURATION_CHARS = 32
MAX_DURATION_SECONDS = 100 * 365 * 86400


def _check_json(value: Any, depth: int, max_depth: int) -> None:
    """Raise ValueError for what DynamoDB cannot store and read back (see the module docstring)."""
    if isinstance(value, (dict, list)) and depth > max_depth:
        raise ValueError(f"nested deeper than {max_depth} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not 1 <= len(key) <= MAX_JSON_KEY_CHARS:
                raise ValueError(f"object keys must be strings of 1 to {MAX_JSON_KEY_CHARS} characters")
            _check_json(item, depth + 1, max_depth)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1, max_depth)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and not _storable_number(value):
        raise ValueError("numbers must be finite, below 1e38 and, unless 0, at least 1e-130 in magnitude")


def _storable_number(value: int | float) -> bool:
    if isinstance(value, float):
        if not math.isfinite(value):
            return False
        value = Decimal(repr(value))  # what the store writes
    return value == 0 or MIN_JSON_NUMBER <= abs(value) < MAX_JSON_NUMBER


def _bounded_json(max_depth: int, max_bytes: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        _check_json(value, 1, max_depth)
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > max_bytes:
            raise ValueError(f"{size} bytes as JSON, more than {max_bytes}")
        return value
    return check


Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
ModelName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
TeamId = Annotated[str, Field(min_length=1, max_length=MAX_TEAM_ID_CHARS, pattern=TEAM_ID_PATTERN)]
Metadata = Annotated[dict[str, Any], AfterValidator(_bounded_json(MAX_METADATA_DEPTH, MAX_METADATA_BYTES))]
SettlementRecord = Annotated[dict[str, Any], AfterValidator(_bounded_json(MAX_SETTLEMENT_DEPTH, MAX_SETTLEMENT_BYTES))]
DurationText = Annotated[str, Field(max_length=MAX_DURATION_CHARS)]


def _normalise_duration(value: str | None) -> str | None:
    """``30d``-style durations in their canonical spelling; a readable 400 otherwise."""
    if value is None:
        return None
    try:
        duration = parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    if duration.seconds() > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {value!r} is longer than {MAX_DURATION_SECONDS // (365 * 86400)} years")
    return duration.text


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Limits(_Body):
    models: Optional[list[ModelName]] = Field(default=None, max_length=MAX_LIST_ITEMS)
    max_budget: Optional[float] = Field(default=None, ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False)
    budget_duration: Optional[DurationText] = None
    rpm_limit: Optional[int] = Field(default=None, ge=0, le=MAX_RPM)
    tpm_limit: Optional[int] = Field(default=None, ge=0, le=MAX_TPM)
    max_parallel_requests: Optional[int] = Field(default=None, ge=1, le=MAX_PARALLEL_REQUESTS)
    metadata: Optional[Metadata] = None
    blocked: Optional[bool] = None

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return _normalise_duration(value)


class KeyFields(_Limits):
    key_alias: Optional[Name] = None
    duration: Optional[DurationText] = None  # expiry, from now
    team_id: Optional[TeamId] = None
    user_id: Optional[Name] = None
    budget_id: Optional[TeamId] = None  # a budget tier (``/budget/new``) for the limits the key sets none of

    @field_validator("duration")
    @classmethod
    def _expiry(cls, value: str | None) -> str | None:
        return _normalise_duration(value)


class GenerateKeyRequest(KeyFields):
    key: Optional[Name] = Field(default=None, description="a custom token (must start with sk-)")

    @field_validator("key")
    @classmethod
    def _custom(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("sk-") or len(value) < 8):
            raise ValueError("a custom key must start with 'sk-' and be at least 8 characters")
        return value


class UpdateKeyRequest(KeyFields):
    key: Name


class KeyRef(_Body):
    key: Name


class RegenerateKeyRequest(KeyFields):
    key: Optional[Name] = None


class DeleteKeysRequest(_Body):
    keys: Optional[list[Name]] = Field(default=None, max_length=MAX_LIST_ITEMS)
    key_aliases: Optional[list[Name]] = Field(default=None, max_length=MAX_LIST_ITEMS)


class NewTeamRequest(_Limits):
    team_id: Optional[TeamId] = None
    team_alias: Optional[Name] = None


class UpdateTeamRequest(_Limits):
    team_id: TeamId
    team_alias: Optional[Name] = None


class DeleteTeamsRequest(_Body):
    team_ids: list[TeamId] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class ReplaySettlementsRequest(_Body):
    """``settlement`` objects from ``spend_settle_failed`` log lines (see ``gateway.keys.spend``)."""

    settlements: list[SettlementRecord] = Field(min_length=1, max_length=1000)
