"""Spare admissions: the next request's reservation, made after this one's response.

On Lambda the gateway settles spend after the response has left (``gateway.after_response``). In
that same moment it also reserves the *next* request for the same key, exactly as admission would
(the same conditional ``UpdateItem``: budget, rpm, tpm, config version), and keeps the reservation
in memory. The next request for that key on this instance is admitted against the spare with no
DynamoDB call before its provider call, and its settle releases the spare like any reservation.

Limits stay exact across instances, because a spare is an admission already counted in DynamoDB.
It is used only if it covers the request:
- the same key (and team) config version: a blocked or changed key gets no new spare, and one made
  before the change serves at most one request, within ``KEY_SPARE_TTL_SECONDS``;
- the same rpm/tpm minute (when the key or team has rpm or tpm limits) and budget period;
- a worst-case cost and token count no larger than the spare's (the last request's);
- made less than ``KEY_SPARE_TTL_SECONDS`` ago (default: ``KEY_CACHE_TTL_SECONDS``, 10 s).
Otherwise the request is admitted the usual way and the spare is given back after the response.

The price: each instance holds at most one spare per key, so a key's ``reserved`` includes one
request's worst case per instance that served it in the last ``KEY_SPARE_TTL_SECONDS`` (after each
response an instance gives back the spares it holds that have expired), and a spare unused in its minute costs
that minute one rpm slot. A spare whose instance never comes back is recorded on the usage item
(``sp_<id>`` with its expiry), and any admission that fails reclaims it once it is
``KEY_SLOT_STALE_SECONDS`` past expiry: no request admitted against it can still be running then.

Keys and teams with ``max_parallel_requests`` get no spares (a spare would hold a slot while idle).
``KEY_SPARE_ADMISSIONS=false`` turns them off.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from gateway.principal import Principal
from gateway.errors import GatewayError
from gateway.keys import budget_share, budgets, limits
from gateway.keys import settings as key_settings
from gateway.keys.errors import StoreUnavailable
from gateway.keys.models import Usage
from gateway.keys.store.base import KeyStore, Reservation

#: above this many spares on one item, a new one is given back at once (keeps the hot item small)
MAX_SPARES_PER_ITEM = 64


@dataclass(frozen=True)
class Spare:
    """A reservation taken for a request that has not arrived yet, and the view it was taken under."""

    spare_id: str
    key_hash: str
    key_version: int
    key_period: int | None
    team_id: str | None
    team_version: int | None  # None: nothing reserved on the team (it has no limits)
    team_period: int | None
    cost: Decimal
    tokens: int
    window: int
    windowed: bool  # the key or team has rpm/tpm limits, so the minute must match
    expires: float
    headers: dict[str, str]


_held: dict[str, Spare] = {}
_lock = threading.Lock()


def ttl_seconds() -> float:
    return key_settings.get().spare_ttl


def enabled() -> bool:
    return key_settings.get().spare_admissions and ttl_seconds() > 0


def eligible(principal: Principal) -> bool:
    """Keys of a user get no spares: a spare reserves on the key and team only (``accounts.py``)."""
    key, team = principal.key, principal.team
    if key is None or key.user_id or key.limits.max_parallel_requests is not None:
        return False
    return team is None or not team.limits.any or team.limits.max_parallel_requests is None


def covered(principal: Principal, cost: Decimal, tokens: int, now: float) -> bool:
    """Whether a held spare would admit this request (a look, nothing is taken)."""
    with _lock:
        spare = _held.get(principal.key_hash or "")
    return spare is not None and _covers(spare, principal, cost, tokens, now)


def take(principal: Principal, cost: Decimal, tokens: int, now: float) -> tuple[Spare | None, Spare | None]:
    """(spare to admit this request with, spare to give back): at most one of them is set."""
    with _lock:
        spare = _held.pop(principal.key_hash or "", None)
    if spare is None:
        return None, None
    return (spare, None) if _covers(spare, principal, cost, tokens, now) else (None, spare)


def _covers(spare: Spare, principal: Principal, cost: Decimal, tokens: int, now: float) -> bool:
    key, team = principal.key, principal.team
    assert key is not None
    if now >= spare.expires or cost > spare.cost or tokens > spare.tokens:
        return False
    if spare.key_version != key.version or spare.key_period != budgets.current_period(key.limits, now):
        return False
    if spare.windowed and limits.window_of(now) != spare.window:
        return False
    if team is not None and team.limits.any:
        return spare.team_version == team.version and spare.team_period == budgets.current_period(team.limits, now)
    return spare.team_version is None


def make(store: KeyStore, principal: Principal, cost: Decimal, tokens: int) -> Spare | None:
    """Reserve a spare for the next request on this key (None when a limit, a config change or the
    store says no: the next request then admits the usual way)."""
    key, team = principal.key, principal.team
    if key is None or not (enabled() and eligible(principal)):
        return None
    now = time.time()
    spare_id, expires = uuid.uuid4().hex[:12], now + ttl_seconds()
    try:
        reserved = limits.reserve_key_and_team(store, key, team, cost=cost, tokens=tokens, now=now,
                                               spare=(spare_id, expires))
    except (GatewayError, limits.VersionChanged, StoreUnavailable):
        return None
    on_key, on_team = reserved.key, reserved.team
    spare = Spare(
        spare_id=spare_id, key_hash=key.token, key_version=key.version, key_period=on_key.reservation.period,
        team_id=key.team_id, team_version=team.version if team is not None and on_team is not None else None,
        team_period=on_team.reservation.period if on_team is not None else None,
        cost=cost, tokens=tokens, window=on_key.reservation.window,
        windowed=_windowed(principal), expires=expires, headers=reserved.headers,
    )
    crowded = len(on_key.usage.spares) > MAX_SPARES_PER_ITEM or (
        on_team is not None and len(on_team.usage.spares) > MAX_SPARES_PER_ITEM)
    return _keep(store, key.token, spare, crowded=crowded)


def plan(principal: Principal, cost: Decimal, tokens: int, now: float) -> Reservation | None:
    """The next spare for a key with no team, as a reservation a settle can take in its own write
    (``Settlement.next_spare``); None where ``make`` must do it (a team) or no spare is due."""
    key = principal.key
    if key is None or principal.team is not None or key.team_id is not None or not (enabled() and eligible(principal)):
        return None
    return limits.reservation_for(key.limits, key.version, cost=cost, tokens=tokens, now=now,
                                  spare=(uuid.uuid4().hex[:12], now + ttl_seconds()))


def hold(store: KeyStore, principal: Principal, r: Reservation, usage: Usage) -> Spare | None:
    """Keep a spare a settle took in its own write (``plan``), as ``make`` keeps the one it reserves."""
    key = principal.key
    assert key is not None and r.spare is not None
    spare = Spare(
        spare_id=r.spare[0], key_hash=key.token, key_version=key.version, key_period=r.period, team_id=None,
        team_version=None, team_period=None, cost=r.cost, tokens=r.tokens, window=r.window,
        windowed=_windowed(principal), expires=r.spare[1], headers=limits.rate_headers(key.limits, usage, r.now),
    )
    budget_share.observe("key", key.token, usage)
    return _keep(store, key.token, spare, crowded=len(usage.spares) > MAX_SPARES_PER_ITEM)


def _keep(store: KeyStore, key_hash: str, spare: Spare, *, crowded: bool) -> Spare | None:
    if crowded:
        drop(store, spare)
        return None
    with _lock:
        previous, _held[key_hash] = _held.get(key_hash), spare
    if previous is not None:
        drop(store, previous)
    return spare


def _windowed(principal: Principal) -> bool:
    items = [principal.key.limits] if principal.key is not None else []
    if principal.team is not None:
        items.append(principal.team.limits)
    return any(l.rpm_limit is not None or l.tpm_limit is not None for l in items)


def drop(store: KeyStore, spare: Spare) -> None:
    """Give an unused spare back (its request slot too, if its minute is still current)."""
    store.drop_spare("key", spare.key_hash, spare.spare_id, spare.cost, spare.tokens, spare.window)
    if spare.team_version is not None and spare.team_id is not None:
        store.drop_spare("team", spare.team_id, spare.spare_id, spare.cost, spare.tokens, spare.window)


def take_expired(now: float) -> list[Spare]:
    """Remove and return the spares this instance holds that can no longer be used (to give back)."""
    with _lock:
        gone = [spare for spare in _held.values() if now >= spare.expires]
        for spare in gone:
            del _held[spare.key_hash]
    return gone


def forget_all() -> list[Spare]:
    """Empty this instance's spares (tests; an instance that stops serving) and return them."""
    with _lock:
        held = list(_held.values())
        _held.clear()
    return held


__all__ = ["Spare", "covered", "take", "make", "plan", "hold", "drop", "enabled", "eligible", "take_expired", "forget_all", "MAX_SPARES_PER_ITEM"]
