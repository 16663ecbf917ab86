"""Typed reads of stored META items, shared by every record kind's codec.

A field of the wrong type (an item edited by hand, or written by another version) raises
``UndecodableRecord`` naming the field, instead of a record that would fail later in a view or a
limit check; ``logged`` adds one log line (item id and field, no values) for it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, TypeVar

from gateway.dynamo.codec import json_value
from gateway.keys.durations import DurationError, parse_duration
from gateway.keys.models import Limits, UndecodableRecord

logger = logging.getLogger("gateway.keys.store.dynamodb")
R = TypeVar("R")


def logged(decode: Callable[[dict[str, Any]], R], raw: dict[str, Any]) -> R:
    """``decode(raw)``, with a log line (item id and field, no values) when it is unreadable."""
    try:
        return decode(raw)
    except UndecodableRecord as exc:
        logger.warning("undecodable %s %s: field %r", exc.kind, exc.ident, exc.field)
        raise


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def limits_item(limits: Limits) -> dict[str, Any]:
    return {
        "max_budget": limits.max_budget,
        "budget_duration": limits.budget_duration,
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "max_parallel_requests": limits.max_parallel_requests,
    }


#: attributes that place an item in the table; the rest are the record's fields
PLACEMENT_ATTRS = frozenset({"pk", "sk", "type", "gsi1pk", "gsi1sk"})
#: timestamps the views render as ISO datetimes: the epoch to the end of year 9999
MAX_TIMESTAMP = Decimal(253402300799)


class Fields:
    """Typed reads of one stored META item: a field of the wrong type raises ``UndecodableRecord``
    (naming the field) instead of a record that would fail later, in a view or a limit check."""

    def __init__(self, kind: str, raw: dict[str, Any]) -> None:
        self.kind = kind
        self.raw = raw

    def bad(self, name: str) -> UndecodableRecord:
        pk = self.raw.get("pk")
        ident = pk.split("#", 1)[-1] if isinstance(pk, str) else "?"
        attributes = {k: shown(v) for k, v in self.raw.items() if k not in PLACEMENT_ATTRS}
        return UndecodableRecord(self.kind, ident, name, attributes)

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self.bad(name)

    def ident(self, name: str) -> str:
        value = self.raw.get(name)
        if isinstance(value, str) and value:
            return value
        raise self.bad(name)

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.raw.get(name)
        if value is None:
            return ()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise self.bad(name)

    def flag(self, name: str) -> bool:
        value = self.raw.get(name, False)
        if isinstance(value, bool):
            return value
        raise self.bad(name)

    def number(self, name: str) -> Decimal | None:
        value = self.raw.get(name)
        if value is None or (isinstance(value, Decimal) and value.is_finite()):
            return value
        raise self.bad(name)

    def integer(self, name: str) -> int | None:
        value = self.number(name)
        if value is None:
            return None
        if value == value.to_integral_value():
            return int(value)
        raise self.bad(name)

    def timestamp(self, name: str) -> float | None:
        value = self.number(name)
        if value is None:
            return None
        if 0 <= value <= MAX_TIMESTAMP:
            return float(value)
        raise self.bad(name)

    def duration(self, name: str) -> str | None:
        value = self.text(name)
        try:
            if value is not None:
                parse_duration(value)
        except DurationError:
            raise self.bad(name) from None
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        if value is None:
            return {}
        if isinstance(value, dict):
            try:
                return json_value(value)
            except TypeError:
                pass
        raise self.bad(name)


    def mappings(self, name: str) -> tuple[dict[str, Any], ...]:
        value = self.raw.get(name)
        if value is None:
            return ()
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            try:
                return tuple(json_value(v) for v in value)
            except TypeError:
                pass
        raise self.bad(name)


def shown(value: Any) -> Any:
    """A stored value as JSON, for showing an undecodable item to an admin."""
    try:
        return json_value(value)
    except TypeError:
        return repr(value)


def config_fields(f: Fields) -> dict[str, Any]:
    """The fields keys, teams, users and customers share, decoded."""
    limits = Limits(
        max_budget=f.number("max_budget"),
        budget_duration=f.duration("budget_duration"),
        rpm_limit=f.integer("rpm_limit"),
        tpm_limit=f.integer("tpm_limit"),
        max_parallel_requests=f.integer("max_parallel_requests"),
    )
    return {
        "models": f.texts("models"),
        "limits": limits,
        "blocked": f.flag("blocked"),
        "metadata": f.mapping("metadata"),
        "created_at": f.timestamp("created_at") or 0.0,
        "updated_at": f.timestamp("updated_at") or 0.0,
        "version": f.integer("ver") or 1,
    }
