"""Key, team and spend operations behind the admin API (FastAPI-free, so the CLI and tests reuse them).

Every operation validates everything it can (unknown key or team, model outside the team's list)
before its first write, and writes with a condition or a transaction, so bad input leaves the table
untouched. Responses use LiteLLM's field names.

A stored key or team whose item cannot be decoded (``UndecodableRecord``) is never a 500: lists
leave it out (the store logs it), ``/key/info`` and ``/team/info`` show its stored fields as they are
with ``undecodable_field``, deletes remove it, and changes to it are refused with a 409.
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, TypeVar

from gateway.errors import GatewayError, bad_request, not_found
from gateway.keys import errors as kerr
from gateway.keys import resolve, tokens
from gateway.keys import settings as key_settings
from gateway.keys.access import NO_ACCESS_GROUPS, AccessGroups, within
from gateway.keys.durations import parse_duration
from gateway.keys.models import KeyRecord, Limits, SpendLog, TeamRecord, UndecodableRecord, Usage
from gateway.keys.schemas import (
    DeleteKeysRequest,
    DeleteTeamsRequest,
    GenerateKeyRequest,
    KeyFields,
    NewTeamRequest,
    RegenerateKeyRequest,
    ReplaySettlementsRequest,
    UpdateKeyRequest,
    UpdateTeamRequest,
    _Limits,
)
from gateway.keys.store import KeyStore, get_store

T = TypeVar("T")
LIMIT_FIELDS = ("max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests")


def _store() -> KeyStore:
    try:
        return get_store()
    except kerr.StoreUnavailable as exc:
        raise kerr.unavailable(str(exc)) from exc


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call; a store outage is a 503, not a 500."""
    try:
        return fn(*args, **kwargs)
    except kerr.StoreUnavailable as exc:
        raise kerr.unavailable(str(exc)) from exc


# ---------------------------------------------------------------- views
def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _limits_view(limits: Limits, usage: Usage | None, now: float) -> dict[str, Any]:
    reset_at = None
    if limits.period is not None:
        start = limits.period.period_start(now)
        reset_at = _iso(limits.period.period_end(start))
    in_period = usage is not None and (limits.period is None or usage.period is None
                                       or usage.period >= limits.period.period_start(now))
    return {
        "max_budget": _num(limits.max_budget),
        "budget_duration": limits.budget_duration,
        "budget_reset_at": reset_at,
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "max_parallel_requests": limits.max_parallel_requests,
        # spend in the current budget period (LiteLLM's "spend"), lifetime total, and in-flight reservations
        "spend": float(usage.spend) if usage is not None and in_period else 0.0,
        "spend_total": float(usage.spend_total) if usage is not None else 0.0,
        "reserved_spend": float(usage.reserved) if usage is not None else 0.0,
    }


def key_view(key: KeyRecord, usage: Usage | None) -> dict[str, Any]:
    now = time.time()
    return {
        "token": key.token,
        "key_name": key.key_name,
        "key_alias": key.key_alias,
        "models": list(key.models),
        **_limits_view(key.limits, usage, now),
        "expires": _iso(key.expires),
        "blocked": key.blocked,
        "metadata": key.metadata,
        "team_id": key.team_id,
        "user_id": key.user_id,
        "budget_id": key.budget_id,
        "created_at": _iso(key.created_at),
        "updated_at": _iso(key.updated_at),
    }


def team_view(team: TeamRecord, usage: Usage | None) -> dict[str, Any]:
    now = time.time()
    return {
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "models": list(team.models),
        **_limits_view(team.limits, usage, now),
        "blocked": team.blocked,
        "metadata": team.metadata,
        "members_with_roles": list(team.members_with_roles),
        "created_at": _iso(team.created_at),
        "updated_at": _iso(team.updated_at),
    }


def log_view(log: SpendLog) -> dict[str, Any]:
    return {
        "request_id": log.request_id,
        "response_id": log.response_id,
        "request_tags": list(log.request_tags),
        "cache_hit": log.cache_hit,
        "api_key": log.key_hash,
        "team_id": log.team_id,
        "user": log.user_id,
        "end_user": log.end_user,
        "key_alias": log.key_alias,
        "model": log.model,
        "model_group": log.model,
        "model_id": log.deployment,
        "spend": float(log.cost),
        "prompt_tokens": log.prompt_tokens,
        "completion_tokens": log.completion_tokens,
        "total_tokens": log.prompt_tokens + log.completion_tokens,
        "startTime": _iso(log.start_time),
        "endTime": _iso(log.end_time),
        "request_duration_ms": log.latency_ms,
        "status": "success" if 200 <= log.status < 400 else "failure",
        "status_code": log.status,
        "error_code": log.error_code,
        "metadata": {"deployment": log.deployment, "router": log.router},
        **({"payload": log.payload} if log.payload is not None else {}),
    }


# ---------------------------------------------------------------- helpers
def _limits_from(body: _Limits, base: Limits | None = None) -> Limits:
    values = body.model_dump(exclude_unset=True) if base is not None else body.model_dump()
    limits = base or Limits()
    changes: dict[str, Any] = {}
    for name in LIMIT_FIELDS:
        if name in values:
            value = values[name]
            if name == "max_budget" and value is not None:
                value = Decimal(repr(float(value)))
            changes[name] = value
    return replace(limits, **changes)


def _read(fn: Callable[..., T | None], *args: Any) -> T | UndecodableRecord | None:
    """A store read; an item that cannot be decoded comes back as its ``UndecodableRecord``."""
    try:
        return _guard(fn, *args)
    except UndecodableRecord as exc:
        return exc


def _decoded(found: T | UndecodableRecord, param: str) -> T:
    """``found`` itself, or a 409 if it is an item that cannot be decoded (so cannot be changed)."""
    if isinstance(found, UndecodableRecord):
        raise GatewayError(409, f"The stored {found.kind} {found.ident} cannot be decoded (field '{found.field}'); "
                           "it can be shown and deleted, not changed.", code="undecodable_record", param=param)
    return found


def _raw_view(found: UndecodableRecord) -> dict[str, Any]:
    return {**found.attributes, "undecodable_field": found.field}


def _lookup_key(store: KeyStore, token_or_hash: str, param: str = "key") -> KeyRecord | UndecodableRecord:
    if not isinstance(token_or_hash, str) or not token_or_hash.strip():
        raise bad_request("key is required", param=param)
    key = _read(store.get_key, tokens.to_hash(token_or_hash))
    if key is None:
        raise not_found(f"Key not found: {tokens.key_name(token_or_hash)}", param=param, code="key_not_found")
    return key


def _find_key(store: KeyStore, token_or_hash: str, param: str = "key") -> KeyRecord:
    return _decoded(_lookup_key(store, token_or_hash, param), param)


def _lookup_team(store: KeyStore, team_id: str, *, status: int = 404) -> TeamRecord | UndecodableRecord:
    team = _read(store.get_team, team_id)
    if team is None:
        raise GatewayError(status, f"Team not found: {team_id}", type="invalid_request_error",
                           code="team_not_found", param="team_id")
    return team


def _find_team(store: KeyStore, team_id: str, *, status: int = 404) -> TeamRecord:
    return _decoded(_lookup_team(store, team_id, status=status), "team_id")


def _check_models_in_team(models: Iterable[str], team: TeamRecord | None, access_groups: AccessGroups) -> None:
    if team is None or not team.models:
        return
    outside = within(tuple(models), team.models, access_groups)
    if outside:
        raise bad_request(f"Models {outside} are not in team {team.team_id}'s models {list(team.models)}", param="models")


def _check_budget_tier(store: KeyStore, budget_id: str | None) -> None:
    if budget_id and _read(store.get_budget, budget_id) is None:
        raise GatewayError(400, f"Budget not found: {budget_id}", type="invalid_request_error",
                           code="budget_not_found", param="budget_id")


def _expiry(duration: str | None, now: float) -> float | None:
    return None if duration is None else now + parse_duration(duration).seconds()


def _generate_response(token: str, key: KeyRecord, usage: Usage | None) -> dict[str, Any]:
    view = key_view(key, usage)
    return {**view, "key": token, "token_id": key.token}


# ---------------------------------------------------------------- keys
def generate_key(body: GenerateKeyRequest, access_groups: AccessGroups = NO_ACCESS_GROUPS) -> dict[str, Any]:
    """``access_groups``: the serving config's (``Catalog.access_groups``), for the team check."""
    store = _store()
    team = _find_team(store, body.team_id, status=400) if body.team_id else None
    _check_models_in_team(body.models or (), team, access_groups)
    _check_budget_tier(store, body.budget_id)
    now = time.time()
    token = body.key or tokens.new_token()
    record = KeyRecord(
        token=tokens.hash_token(token),
        key_name=tokens.key_name(token),
        key_alias=body.key_alias,
        models=tuple(body.models or ()),
        limits=_limits_from(body),
        expires=_expiry(body.duration, now),
        blocked=bool(body.blocked),
        metadata=body.metadata or {},
        team_id=body.team_id,
        user_id=body.user_id,
        budget_id=body.budget_id,
        created_at=now,
        updated_at=now,
    )
    try:
        _guard(store.create_key, record)
    except KeyError:
        raise bad_request("A key with this value already exists.", param="key", code="key_exists") from None
    resolve.invalidate(record.token)  # a chosen ``key`` may have been tried (and cached as unknown) before
    return _generate_response(token, record, Usage())


def key_info(token_or_hash: str) -> dict[str, Any]:
    store = _store()
    key = _lookup_key(store, token_or_hash)
    if isinstance(key, UndecodableRecord):
        return {"key": token_or_hash, "info": _raw_view(key)}
    return {"key": token_or_hash, "info": key_view(key, _guard(store.get_usage, "key", key.token))}


def _apply_key_changes(store: KeyStore, key: KeyRecord, body: KeyFields, access_groups: AccessGroups) -> KeyRecord:
    fields = body.model_dump(exclude_unset=True)
    team = None
    team_id = fields.get("team_id", key.team_id)
    if team_id:
        team = _find_team(store, team_id, status=400)
    _check_models_in_team(fields.get("models", key.models) or (), team, access_groups)
    _check_budget_tier(store, fields.get("budget_id"))
    now = time.time()
    changes: dict[str, Any] = {"limits": _limits_from(body, key.limits), "updated_at": now, "version": key.version + 1}
    for name in ("key_alias", "team_id", "user_id", "budget_id"):
        if name in fields:
            changes[name] = fields[name]
    if "models" in fields:
        changes["models"] = tuple(fields["models"] or ())
    if "metadata" in fields:
        changes["metadata"] = fields["metadata"] or {}
    if "blocked" in fields:
        changes["blocked"] = bool(fields["blocked"])
    if "duration" in fields:
        changes["expires"] = _expiry(fields["duration"], now)
    return key.with_changes(**changes)


def _save_key(store: KeyStore, old: KeyRecord, new: KeyRecord) -> None:
    try:
        _guard(store.save_key, new, old.version)
    except LookupError:
        raise GatewayError(409, "The key changed or was deleted meanwhile; retry.", type="invalid_request_error",
                           code="conflict") from None
    resolve.invalidate(old.token)


def update_key(body: UpdateKeyRequest, access_groups: AccessGroups = NO_ACCESS_GROUPS) -> dict[str, Any]:
    store = _store()
    key = _find_key(store, body.key)
    new = _apply_key_changes(store, key, body, access_groups)
    _save_key(store, key, new)
    return key_view(new, _guard(store.get_usage, "key", new.token))


def set_blocked(token_or_hash: str, blocked: bool) -> dict[str, Any]:
    store = _store()
    key = _find_key(store, token_or_hash)
    new = key.with_changes(blocked=blocked, updated_at=time.time(), version=key.version + 1)
    _save_key(store, key, new)
    return key_view(new, _guard(store.get_usage, "key", new.token))


def delete_keys(body: DeleteKeysRequest) -> dict[str, Any]:
    store = _store()
    if not body.keys and not body.key_aliases:
        raise bad_request("Pass 'keys' (tokens or hashes) or 'key_aliases'.", param="keys")
    hashes: list[str] = []
    for k in body.keys or []:
        key = _lookup_key(store, k, param="keys")
        hashes.append(key.ident if isinstance(key, UndecodableRecord) else key.token)
    if body.key_aliases:
        by_alias = {k.key_alias: k.token for k in _guard(store.list_keys) if k.key_alias}
        for alias in body.key_aliases:
            if alias not in by_alias:
                raise not_found(f"Key alias not found: {alias}", param="key_aliases", code="key_not_found")
            hashes.append(by_alias[alias])
    unique = list(dict.fromkeys(hashes))
    _guard(store.delete_keys, unique)
    for h in unique:
        resolve.invalidate(h)
    return {"deleted_keys": list(body.keys or []) + list(body.key_aliases or [])}


def list_keys(*, page: int, size: int, team_id: str | None, user_id: str | None, key_alias: str | None,
              return_full_object: bool) -> dict[str, Any]:
    store = _store()
    keys = [k for k in _guard(store.list_keys)
            if (team_id is None or k.team_id == team_id) and (user_id is None or k.user_id == user_id)
            and (key_alias is None or k.key_alias == key_alias)]
    total = len(keys)
    chunk = keys[(page - 1) * size : page * size]
    items: list[Any]
    if return_full_object:
        items = [key_view(k, _guard(store.get_usage, "key", k.token)) for k in chunk]
    else:
        items = [k.token for k in chunk]
    return {"keys": items, "total_count": total, "current_page": page, "total_pages": max(1, math.ceil(total / size))}


def regenerate_key(token_or_hash: str | None, body: RegenerateKeyRequest,
                   access_groups: AccessGroups = NO_ACCESS_GROUPS) -> dict[str, Any]:
    store = _store()
    ref = token_or_hash or body.key
    if not ref:
        raise bad_request("key is required", param="key")
    old = _find_key(store, ref)
    updated = _apply_key_changes(store, old, body, access_groups)
    token = tokens.new_token()
    new = updated.with_changes(token=tokens.hash_token(token), key_name=tokens.key_name(token), version=1)
    try:
        _guard(store.replace_key, old.token, new)
    except LookupError:
        raise GatewayError(409, "The key changed or was deleted meanwhile; retry.", code="conflict") from None
    resolve.invalidate(old.token)
    return _generate_response(token, new, _guard(store.get_usage, "key", new.token))


# ---------------------------------------------------------------- teams
def new_team(body: NewTeamRequest) -> dict[str, Any]:
    store = _store()
    now = time.time()
    team = TeamRecord(
        team_id=body.team_id or str(uuid.uuid4()),
        team_alias=body.team_alias,
        models=tuple(body.models or ()),
        limits=_limits_from(body),
        blocked=bool(body.blocked),
        metadata=body.metadata or {},
        created_at=now,
        updated_at=now,
    )
    try:
        _guard(store.create_team, team)
    except KeyError:
        raise bad_request(f"Team {team.team_id} already exists.", param="team_id", code="team_exists") from None
    return team_view(team, Usage())


def team_info(team_id: str) -> dict[str, Any]:
    store = _store()
    team = _lookup_team(store, team_id)
    if isinstance(team, UndecodableRecord):
        view = _raw_view(team)
    else:
        view = team_view(team, _guard(store.get_usage, "team", team_id))
    keys = [k for k in _guard(store.list_keys) if k.team_id == team_id]
    return {
        "team_id": team_id,
        "team_info": view,
        "keys": [key_view(k, _guard(store.get_usage, "key", k.token)) for k in keys],
    }


def update_team(body: UpdateTeamRequest) -> dict[str, Any]:
    store = _store()
    team = _find_team(store, body.team_id)
    fields = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {"limits": _limits_from(body, team.limits), "updated_at": time.time(), "version": team.version + 1}
    if "team_alias" in fields:
        changes["team_alias"] = fields["team_alias"]
    if "models" in fields:
        changes["models"] = tuple(fields["models"] or ())
    if "metadata" in fields:
        changes["metadata"] = fields["metadata"] or {}
    if "blocked" in fields:
        changes["blocked"] = bool(fields["blocked"])
    new = team.with_changes(**changes)
    try:
        _guard(store.save_team, new, team.version)
    except LookupError:
        raise GatewayError(409, "The team changed or was deleted meanwhile; retry.", code="conflict") from None
    for k in _guard(store.list_keys):
        if k.team_id == team.team_id:
            resolve.invalidate(k.token)
    return {"team_id": team.team_id, "data": team_view(new, _guard(store.get_usage, "team", team.team_id))}


def delete_teams(body: DeleteTeamsRequest) -> dict[str, Any]:
    """Delete teams and, as LiteLLM does, the keys that belong to them."""
    store = _store()
    teams = [_lookup_team(store, t) for t in body.team_ids]
    ids = [t.ident if isinstance(t, UndecodableRecord) else t.team_id for t in teams]
    doomed = [k.token for k in _guard(store.list_keys) if k.team_id in ids]
    if doomed:
        _guard(store.delete_keys, doomed)
    for team_id in ids:
        _guard(store.delete_team, team_id)
    for h in doomed:
        resolve.invalidate(h)
    return {"deleted_teams": ids, "deleted_keys": len(doomed)}


def list_teams() -> list[dict[str, Any]]:
    store = _store()
    return [team_view(t, _guard(store.get_usage, "team", t.team_id)) for t in _guard(store.list_teams)]


# ---------------------------------------------------------------- spend logs
def _parse_when(value: str | None, param: str, *, end: bool) -> float | None:
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            dt = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return (dt + timedelta(days=1)).timestamp() if end else dt.timestamp()
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    except ValueError:
        raise bad_request(f"{param} must be a date (YYYY-MM-DD) or an ISO 8601 datetime", param=param) from None


def spend_logs(*, api_key: str | None, user_id: str | None, request_id: str | None, team_id: str | None,
               start_date: str | None, end_date: str | None, page: int, page_size: int) -> list[dict[str, Any]]:
    store = _store()
    now = time.time()
    retention = key_settings.get().spend_log_ttl_days * 86400
    start = _parse_when(start_date, "start_date", end=False)
    end = _parse_when(end_date, "end_date", end=True)
    start = now - retention - 86400 if start is None else start
    end = now + 60 if end is None else end
    if end <= start:
        raise bad_request("end_date must be after start_date", param="end_date")
    key_hash = tokens.to_hash(api_key) if api_key else None
    logs = _guard(store.query_logs, key_hash=key_hash, start=start, end=end, limit=page * page_size,
                  team_id=team_id, user_id=user_id, request_id=request_id)
    return [log_view(log) for log in logs[(page - 1) * page_size : page * page_size]]


# ---------------------------------------------------------------- settlement replay
def replay_settlements(body: ReplaySettlementsRequest) -> dict[str, Any]:
    """Apply settlements recovered from ``spend_settle_failed`` log lines; each at most once, ever."""
    from gateway.keys import spend

    parsed = []
    for i, record in enumerate(body.settlements):
        try:
            parsed.append(spend.settlement_from_record(record))
        except ValueError as exc:
            raise bad_request(f"settlements[{i}]: {exc}", param=f"settlements.{i}") from None
    store = _store()
    results = [{"request_id": s.log.request_id, "status": _guard(spend.replay, store, s)} for s in parsed]
    return {"results": results}
