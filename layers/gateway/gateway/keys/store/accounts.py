"""DynamoDB items of users, customers and budget tiers, and back.

| item | pk | sk | gsi1pk / gsi1sk |
| --- | --- | --- | --- |
| user / customer / tag config | ``USER#<id>`` / ``CUSTOMER#<id>`` / ``TAG#<name>`` | ``META`` | ``USERS`` / ``CUSTOMERS`` / ``TAGS``, ``<created>#<id>`` |
| user / customer / tag counters | same pk | ``USAGE`` | (none: not indexed, like a key's) |
| budget tier | ``BUDGET#<id>`` | ``META`` | ``BUDGETS`` / ``<created>#<id>`` |

Counters have the layout of a key's (``dynamodb.USAGE_ATTRS``), so the admission algorithm
(``limits.reserve``) and the settle transaction treat a user or a customer like a key or a team.
"""
from __future__ import annotations

from typing import Any

from gateway.keys.models import AccountKind, AccountRecord, BudgetRecord
from gateway.keys.store.fields import Fields, config_fields, iso, limits_item

ACCOUNT_INDEX: dict[str, str] = {"user": "USERS", "customer": "CUSTOMERS", "tag": "TAGS"}
ACCOUNT_PK: dict[str, str] = {"user": "USER#", "customer": "CUSTOMER#", "tag": "TAG#"}
BUDGET_PK = "BUDGET#"


def account_pk(kind: AccountKind, ident: str) -> str:
    return ACCOUNT_PK[kind] + ident


def account_item(record: AccountRecord) -> dict[str, Any]:
    return {
        "pk": account_pk(record.kind, record.ident),
        "sk": "META",
        "type": record.kind,
        "gsi1pk": ACCOUNT_INDEX[record.kind],
        "gsi1sk": f"{iso(record.created_at)}#{record.ident}",
        "user_id": record.ident,
        "alias": record.alias,
        "email": record.email,
        "role": record.role,
        "models": list(record.models),
        **limits_item(record.limits),
        "budget_id": record.budget_id,
        "blocked": record.blocked,
        "metadata": record.metadata or {},
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "ver": record.version,
    }


def account_record(raw: dict[str, Any]) -> AccountRecord:
    """The user or customer in a META item; ``UndecodableRecord`` if a field has the wrong type."""
    kind = raw.get("type")
    f = Fields(kind if kind in ACCOUNT_INDEX else "account", raw)
    if kind not in ACCOUNT_INDEX:
        raise f.bad("type")
    return AccountRecord(
        kind=kind,
        ident=f.ident("user_id"),
        alias=f.text("alias"),
        email=f.text("email"),
        role=f.text("role"),
        budget_id=f.text("budget_id"),
        **config_fields(f),
    )


def budget_item(record: BudgetRecord) -> dict[str, Any]:
    return {
        "pk": BUDGET_PK + record.budget_id,
        "sk": "META",
        "type": "budget",
        "gsi1pk": "BUDGETS",
        "gsi1sk": f"{iso(record.created_at)}#{record.budget_id}",
        "budget_id": record.budget_id,
        **limits_item(record.limits),
        "soft_budget": record.soft_budget,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "ver": record.version,
    }


def budget_record(raw: dict[str, Any]) -> BudgetRecord:
    """The budget tier in a META item; ``UndecodableRecord`` if a field has the wrong type."""
    f = Fields("budget", raw)
    shared = config_fields(f)
    return BudgetRecord(
        budget_id=f.ident("budget_id"),
        limits=shared["limits"],
        soft_budget=f.number("soft_budget"),
        created_at=shared["created_at"],
        updated_at=shared["updated_at"],
        version=shared["version"],
    )
