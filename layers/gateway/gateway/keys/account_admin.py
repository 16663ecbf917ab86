"""User, customer and budget-tier operations behind ``/user/*``, ``/customer/*`` (also
``/end_user/*``) and ``/budget/*``, in LiteLLM's response shapes (``litellm/proxy/_types.py``:
``NewUserResponse``, ``LiteLLM_EndUserTable``, ``LiteLLM_BudgetTable``).

As in ``admin.py``: everything is validated before the first write, writes are conditional, and an
item that cannot be decoded is shown raw, deletable, never changed.
"""
from __future__ import annotations

import math
import time
import uuid
from decimal import Decimal
from typing import Any

from gateway.errors import GatewayError, bad_request, not_found
from gateway.keys import accounts, resolve
from gateway.keys.access import NO_ACCESS_GROUPS, AccessGroups
from gateway.keys.account_schemas import (
    AccountIdsRequest,
    NewBudgetRequest,
    NewCustomerRequest,
    NewTagRequest,
    NewUserRequest,
    UpdateBudgetRequest,
    UpdateCustomerRequest,
    UpdateTagRequest,
    UpdateUserRequest,
)
from gateway.keys.admin import (
    _decoded,
    _guard,
    _iso,
    _limits_from,
    _limits_view,
    _num,
    _raw_view,
    _read,
    _store,
    generate_key,
    key_view,
    team_view,
)
from gateway.keys.models import AccountKind, AccountRecord, BudgetRecord, UndecodableRecord, effective_limits
from gateway.keys.schemas import GenerateKeyRequest
from gateway.keys.store import KeyStore

_NOUN = {"user": "User", "customer": "Customer", "tag": "Tag"}


# ---------------------------------------------------------------- lookups
def _lookup_account(store: KeyStore, kind: AccountKind, ident: str, param: str = "user_id"
                    ) -> AccountRecord | UndecodableRecord:
    found = _read(store.get_account, kind, ident)
    if found is None:
        raise not_found(f"{_NOUN[kind]} not found: {ident}", param=param, code=f"{kind}_not_found")
    return found


def _find_budget(store: KeyStore, budget_id: str, *, status: int = 404) -> BudgetRecord:
    found = _read(store.get_budget, budget_id)
    if found is None:
        raise GatewayError(status, f"Budget not found: {budget_id}", type="invalid_request_error",
                           code="budget_not_found", param="budget_id")
    return _decoded(found, "budget_id")


def _tier(store: KeyStore, budget_id: str | None) -> BudgetRecord | None:
    return _find_budget(store, budget_id, status=400) if budget_id else None


# ---------------------------------------------------------------- views
def _account_view(store: KeyStore, record: AccountRecord, tier: BudgetRecord | None = None) -> dict[str, Any]:
    usage = _guard(store.get_usage, record.kind, record.ident)
    limits = effective_limits(record.limits, tier)
    view = {
        "user_id": record.ident,
        **_limits_view(limits, usage, time.time()),
        "models": list(record.models),
        "budget_id": record.budget_id,
        "blocked": record.blocked,
        "metadata": record.metadata,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }
    if record.kind == "user":
        return {**view, "user_email": record.email, "user_alias": record.alias, "user_role": record.role}
    # LiteLLM_EndUserTable and TagConfig: the limits also as the record's ``litellm_budget_table``
    budget_table = {name: view[name] for name in ("max_budget", "budget_duration", "rpm_limit", "tpm_limit",
                                                 "max_parallel_requests")}
    if record.kind == "tag":
        view.pop("user_id")
        return {"name": record.ident, "description": record.alias, **view, "litellm_budget_table": budget_table}
    return {**view, "alias": record.alias, "litellm_budget_table": budget_table,
            "allowed_model_region": None, "default_model": None}


def _view_of(store: KeyStore, found: AccountRecord | UndecodableRecord) -> dict[str, Any]:
    if isinstance(found, UndecodableRecord):
        return _raw_view(found)
    tier = _read(store.get_budget, found.budget_id) if found.budget_id else None
    return _account_view(store, found, tier if isinstance(tier, BudgetRecord) else None)


def budget_view(record: BudgetRecord) -> dict[str, Any]:
    limits = record.limits
    return {
        "budget_id": record.budget_id,
        "max_budget": _num(limits.max_budget),
        "soft_budget": _num(record.soft_budget),
        "budget_duration": limits.budget_duration,
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "max_parallel_requests": limits.max_parallel_requests,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
    }


# ---------------------------------------------------------------- shared by users and customers
def _create(store: KeyStore, record: AccountRecord) -> None:
    try:
        _guard(store.create_account, record)
    except KeyError:
        raise bad_request(f"{_NOUN[record.kind]} {record.ident} already exists.", param="user_id",
                          code=f"{record.kind}_exists") from None
    accounts.invalidate(record.kind, record.ident)  # it may have been looked up (and cached as absent) before


def _changed(record: AccountRecord, body: Any, renames: dict[str, str]) -> AccountRecord:
    """``record`` with what ``body`` sets: limits, models, metadata, blocked and the renamed fields."""
    fields = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {"limits": _limits_from(body, record.limits), "updated_at": time.time(),
                               "version": record.version + 1}
    for source, target in renames.items():
        if source in fields:
            changes[target] = fields[source]
    if "models" in fields:
        changes["models"] = tuple(fields["models"] or ())
    if "metadata" in fields:
        changes["metadata"] = fields["metadata"] or {}
    if "blocked" in fields:
        changes["blocked"] = bool(fields["blocked"])
    return record.with_changes(**changes)


def _save(store: KeyStore, old: AccountRecord, new: AccountRecord) -> None:
    try:
        _guard(store.save_account, new, old.version)
    except LookupError:
        raise GatewayError(409, f"The {old.kind} changed or was deleted meanwhile; retry.", code="conflict") from None
    accounts.invalidate(old.kind, old.ident)


def _update(kind: AccountKind, ident: str, body: Any, renames: dict[str, str], param: str = "user_id") -> dict[str, Any]:
    store = _store()
    old = _decoded(_lookup_account(store, kind, ident, param=param), param)
    fields = body.model_dump(exclude_unset=True)
    tier = _tier(store, fields.get("budget_id", old.budget_id))
    new = _changed(old, body, renames)
    _save(store, old, new)
    return _account_view(store, new, tier)


def _listed(kind: AccountKind, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
    store = _store()
    records = _guard(store.list_accounts, kind)
    tiers = {b.budget_id: b for b in _guard(store.list_budgets)}
    chunk = records[(page - 1) * size: page * size]
    return [_account_view(store, r, tiers.get(r.budget_id or "")) for r in chunk], len(records)


# ---------------------------------------------------------------- users
_USER_FIELDS = {"user_email": "email", "user_alias": "alias", "user_role": "role", "budget_id": "budget_id"}


def new_user(body: NewUserRequest, access_groups: AccessGroups = NO_ACCESS_GROUPS) -> dict[str, Any]:
    """LiteLLM's ``/user/new``: the user and, unless ``auto_create_key`` is false, a key of theirs."""
    store = _store()
    tier = _tier(store, body.budget_id)
    now = time.time()
    record = AccountRecord(
        kind="user", ident=body.user_id or str(uuid.uuid4()), alias=body.user_alias, email=body.user_email,
        role=body.user_role or "internal_user", models=tuple(body.models or ()), limits=_limits_from(body),
        budget_id=body.budget_id, blocked=bool(body.blocked), metadata=body.metadata or {},
        created_at=now, updated_at=now,
    )
    _create(store, record)
    view = _account_view(store, record, tier)
    if not body.auto_create_key:
        return {**view, "key": None}
    key = generate_key(GenerateKeyRequest(user_id=record.ident, team_id=body.team_id, key_alias=body.key_alias,
                                          models=list(body.models) if body.models else None), access_groups)
    return {**key, **view, "key": key["key"], "token": key["token"]}


def user_info(user_id: str) -> dict[str, Any]:
    store = _store()
    found = _lookup_account(store, "user", user_id)
    keys = [k for k in _guard(store.list_keys) if k.user_id == user_id]
    teams = [t for t in _guard(store.list_teams) if any(m.get("user_id") == user_id for m in t.members_with_roles)]
    return {
        "user_id": user_id,
        "user_info": _view_of(store, found),
        "keys": [key_view(k, _guard(store.get_usage, "key", k.token)) for k in keys],
        "teams": [team_view(t, None) for t in teams],
    }


def update_user(body: UpdateUserRequest) -> dict[str, Any]:
    return _update("user", body.user_id, body, _USER_FIELDS)


def delete_users(body: AccountIdsRequest) -> dict[str, Any]:
    """Delete users and, as LiteLLM does, their keys."""
    store = _store()
    found = [_lookup_account(store, "user", ident) for ident in body.user_ids]
    ids = [f.ident for f in found]
    doomed = [k.token for k in _guard(store.list_keys) if k.user_id in ids]
    if doomed:
        _guard(store.delete_keys, doomed)
    for ident in ids:
        _guard(store.delete_account, "user", ident)
        accounts.invalidate("user", ident)
    for token in doomed:
        resolve.invalidate(token)
    return {"deleted_users": ids, "deleted_keys": len(doomed)}


def list_users(page: int, page_size: int) -> dict[str, Any]:
    users, total = _listed("user", page, page_size)
    return {"users": users, "total": total, "page": page, "page_size": page_size,
            "total_pages": max(1, math.ceil(total / page_size))}


# ---------------------------------------------------------------- customers (LiteLLM's end users)
_CUSTOMER_FIELDS = {"alias": "alias", "budget_id": "budget_id"}


def new_customer(body: NewCustomerRequest) -> dict[str, Any]:
    store = _store()
    tier = _tier(store, body.budget_id)
    now = time.time()
    record = AccountRecord(
        kind="customer", ident=body.user_id, alias=body.alias, models=tuple(body.models or ()),
        limits=_limits_from(body), budget_id=body.budget_id, blocked=bool(body.blocked),
        metadata=body.metadata or {}, created_at=now, updated_at=now,
    )
    _create(store, record)
    return _account_view(store, record, tier)


def customer_info(end_user_id: str) -> dict[str, Any]:
    store = _store()
    return _view_of(store, _lookup_account(store, "customer", end_user_id, param="end_user_id"))


def update_customer(body: UpdateCustomerRequest) -> dict[str, Any]:
    return _update("customer", body.user_id, body, _CUSTOMER_FIELDS)


def delete_customers(body: AccountIdsRequest) -> dict[str, Any]:
    store = _store()
    ids = [_lookup_account(store, "customer", ident).ident for ident in body.user_ids]
    for ident in ids:
        _guard(store.delete_account, "customer", ident)
        accounts.invalidate("customer", ident)
    return {"deleted_customers": ids}


def set_customers_blocked(body: AccountIdsRequest, blocked: bool) -> dict[str, Any]:
    """LiteLLM's ``/customer/block`` and ``/customer/unblock`` (``BlockUsers``: ``user_ids``)."""
    store = _store()
    olds = [_decoded(_lookup_account(store, "customer", ident), "user_ids") for ident in body.user_ids]
    for old in olds:
        _save(store, old, old.with_changes(blocked=blocked, updated_at=time.time(), version=old.version + 1))
    return {"blocked_users" if blocked else "unblocked_users": [old.ident for old in olds]}


def list_customers() -> list[dict[str, Any]]:
    customers, _ = _listed("customer", 1, 10**6)
    return customers


# ---------------------------------------------------------------- tags (LiteLLM's /tag/*)
_TAG_FIELDS = {"description": "alias", "budget_id": "budget_id"}


def new_tag(body: NewTagRequest) -> dict[str, Any]:
    """A tag whose requests (its name among a request's, key's or team's spend tags) are limited
    together. LiteLLM's tag ``models`` (tag-based routing) are kept and shown, not enforced."""
    store = _store()
    tier = _tier(store, body.budget_id)
    now = time.time()
    record = AccountRecord(kind="tag", ident=body.name, alias=body.description, models=tuple(body.models or ()),
                           limits=_limits_from(body), budget_id=body.budget_id, metadata=body.metadata or {},
                           created_at=now, updated_at=now)
    _create(store, record)
    return _account_view(store, record, tier)


def update_tag(body: UpdateTagRequest) -> dict[str, Any]:
    return _update("tag", body.name, body, _TAG_FIELDS, param="name")


def tag_info(names: list[str]) -> dict[str, Any]:
    """LiteLLM's ``/tag/info``: name -> tag."""
    store = _store()
    return {name: _view_of(store, _lookup_account(store, "tag", name, param="names")) for name in names}


def list_tags() -> list[dict[str, Any]]:
    tags, _ = _listed("tag", 1, 10**6)
    return tags


def delete_tag(name: str) -> dict[str, Any]:
    store = _store()
    _lookup_account(store, "tag", name, param="name")
    _guard(store.delete_account, "tag", name)
    accounts.invalidate("tag", name)
    return {"message": f"Tag {name} deleted successfully"}


# ---------------------------------------------------------------- budget tiers
def _tier_fields(body: NewBudgetRequest | UpdateBudgetRequest, base: BudgetRecord | None) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True) if base is not None else body.model_dump()
    changes: dict[str, Any] = {"limits": _limits_from(body, base.limits if base is not None else None)}
    if "soft_budget" in fields:
        soft = fields["soft_budget"]
        changes["soft_budget"] = None if soft is None else Decimal(repr(float(soft)))
    return changes


def new_budget(body: NewBudgetRequest) -> dict[str, Any]:
    store = _store()
    now = time.time()
    record = BudgetRecord(budget_id=body.budget_id or str(uuid.uuid4()), created_at=now, updated_at=now,
                          **_tier_fields(body, None))
    try:
        _guard(store.create_budget, record)
    except KeyError:
        raise bad_request(f"Budget {record.budget_id} already exists.", param="budget_id", code="budget_exists") from None
    return budget_view(record)


def update_budget(body: UpdateBudgetRequest) -> dict[str, Any]:
    store = _store()
    old = _find_budget(store, body.budget_id)
    new = old.with_changes(updated_at=time.time(), version=old.version + 1, **_tier_fields(body, old))
    try:
        _guard(store.save_budget, new, old.version)
    except LookupError:
        raise GatewayError(409, "The budget changed or was deleted meanwhile; retry.", code="conflict") from None
    accounts.invalidate()  # accounts on this tier, in this process; elsewhere within KEY_CACHE_TTL_SECONDS
    return budget_view(new)


def budget_info(budget_ids: list[str]) -> list[dict[str, Any]]:
    store = _store()
    return [budget_view(_find_budget(store, ident)) for ident in budget_ids]


def list_budgets() -> list[dict[str, Any]]:
    return [budget_view(b) for b in _guard(_store().list_budgets)]


def delete_budget(budget_id: str) -> dict[str, Any]:
    """Refused while a key, user or customer points at the tier: deleting it would silently lift their limits."""
    store = _store()
    record = _find_budget(store, budget_id)
    users = [a.ident for kind in ("user", "customer", "tag") for a in _guard(store.list_accounts, kind)
             if a.budget_id == budget_id]
    users += [k.key_alias or k.token[:12] for k in _guard(store.list_keys) if k.budget_id == budget_id]
    if users:
        raise GatewayError(409, f"Budget {budget_id} is used by {len(users)} keys, users or customers (e.g. {users[0]});"
                           " point them at another budget first.", code="budget_in_use", param="id")
    _guard(store.delete_budget, budget_id)
    accounts.invalidate()
    return budget_view(record)

