"""The admission algorithm for one usage item (a key's or a team's): reserve, or say why not.

Fast path: ONE conditional ``UpdateItem`` that asserts the caller's view (config version, current
minute window, budget period) and every limit, and adds the request (1 request, its tokens, its
worst-case cost, 1 parallel slot). Its condition is evaluated by DynamoDB at write time, so N
instances racing on the same key cannot together pass a limit: there is no read-check-write gap.

Slow path, only when that condition fails: look at the item as it was (returned by the failed
write, no extra read) and either
- roll the window or the budget period forward with a guarded write, then retry;
- reclaim spare admissions (``spares.py``) that expired more than ``stale_after_seconds()`` ago (their
  instance is gone; nothing admitted against them can still be running), then retry;
- free slots and reservations leaked by an instance killed mid-request (no admission for longer
  than a Lambda can run, ``stale_after_seconds()``), then retry;
- or report the limit that is really reached (429 with ``retry-after`` and ``x-ratelimit-*``).

rpm/tpm use fixed one-minute windows (``epoch // 60``), as LiteLLM's limiter does: at most ``rpm``
requests are admitted per window; across a window boundary two windows' worth can arrive within
60 s. tpm counts ``prompt_tokens + max_tokens`` at admission and settle corrects it to the real
total, so within a window tokens never pass ``tpm`` at admission.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from gateway.errors import GatewayError
from gateway.keys import budget_share, budgets, reconcile
from gateway.keys import settings as key_settings
from gateway.keys import errors as kerr
from gateway.keys.models import KeyRecord, Limits, TeamRecord, Usage
from gateway.keys.store.base import Kind, KeyStore, Reservation

WINDOW_SECONDS = 60


def stale_after_seconds() -> float:
    """Lambda runs at most 900 s; no admission for longer than this means nothing is in flight
    (``KEY_SLOT_STALE_SECONDS``, default 960)."""
    return key_settings.get().slot_stale_seconds

MAX_ATTEMPTS = 8


class VersionChanged(Exception):
    """The key/team config changed (update, block, delete) since the caller cached it."""

    def __init__(self, usage: Usage) -> None:
        super().__init__("config version changed")
        self.usage = usage


@dataclass(frozen=True)
class Reserved:
    """A successful reservation on one item, enough to undo or settle it."""

    kind: Kind
    ident: str
    reservation: Reservation
    usage: Usage  # counters right after the reservation


def window_of(now: float) -> int:
    return int(now // WINDOW_SECONDS)


def rate_headers(limits: Limits, usage: Usage, now: float) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers for the limits this item has."""
    headers: dict[str, str] = {}
    reset = max(0, (window_of(now) + 1) * WINDOW_SECONDS - now)
    if limits.rpm_limit is not None:
        headers["x-ratelimit-limit-requests"] = str(limits.rpm_limit)
        headers["x-ratelimit-remaining-requests"] = str(max(0, limits.rpm_limit - usage.requests))
        headers["x-ratelimit-reset-requests"] = f"{reset:.0f}s"
    if limits.tpm_limit is not None:
        headers["x-ratelimit-limit-tokens"] = str(limits.tpm_limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, limits.tpm_limit - usage.tokens))
        headers["x-ratelimit-reset-tokens"] = f"{reset:.0f}s"
    return headers


def merge_headers(*parts: dict[str, str]) -> dict[str, str]:
    """The headers of several items (key, team, user, customer) together: the tighter (smaller
    remaining) wins."""
    out: dict[str, str] = {}
    for part in parts:
        for name, value in part.items():
            if name not in out:
                out[name] = value
            elif name.startswith(("x-ratelimit-remaining", "x-ratelimit-limit")):
                out[name] = str(min(int(out[name]), int(value)))
    return out


def reservation_for(limits: Limits, version: int, *, cost: Decimal, tokens: int, now: float,
                    spare: tuple[str, float] | None = None, window: int | None = None,
                    period: int | None = None) -> Reservation:
    """One request's share of ``limits`` as the conditional write checks it (current minute and
    budget period unless given)."""
    return Reservation(
        version=version,
        window=window_of(now) if window is None else window,
        period=budgets.current_period(limits, now) if period is None else period,
        cost=cost,
        tokens=tokens,
        budget_cap=None if limits.max_budget is None else limits.max_budget - cost,
        rpm=limits.rpm_limit,
        tpm_cap=None if limits.tpm_limit is None else limits.tpm_limit - tokens,
        parallel=limits.max_parallel_requests,
        now=now,
        spare=spare,
    )


def reserve(
    store: KeyStore,
    kind: Kind,
    ident: str,
    limits: Limits,
    version: int,
    *,
    cost: Decimal,
    tokens: int,
    now: float,
    scope: str,
    spare: tuple[str, float] | None = None,
) -> Reserved:
    """Take one request's share of ``limits`` on one item, or raise a 429 GatewayError.

    Raises ``VersionChanged`` if the config moved on (the caller reloads it) and
    ``kerr.StoreUnavailable`` if DynamoDB does not answer.
    """
    window = window_of(now)
    period = budgets.current_period(limits, now)
    for _ in range(MAX_ATTEMPTS):
        r = reservation_for(limits, version, cost=cost, tokens=tokens, now=now, spare=spare, window=window, period=period)
        result = store.reserve(kind, ident, r)
        if result.ok:
            budget_share.observe(kind, ident, result.usage)
            return Reserved(kind, ident, r, result.usage)
        u = result.usage
        if not u.exists or u.version != version:
            raise VersionChanged(u)
        moved = False
        if u.window is None or u.window < window:
            store.reset_usage(kind, ident, {"window": window, "requests": 0, "tokens": 0}, {"window": u.window})
            moved = True
        elif u.window > window:  # another instance's clock is ahead: share its window
            window, moved = u.window, True
        if period is not None:
            if u.period is None or u.period < period:
                store.reset_usage(kind, ident, *budgets.period_reset(u, period))
                moved = True
            elif u.period > period:
                period, moved = u.period, True
        if moved:
            continue
        stale = stale_after_seconds()
        idle = u.active_at < now - stale  # (every spare is older than the last admission)
        abandoned = [(spare_id, cost, expires) for spare_id, cost, expires in u.spares
                     if idle or expires < now - stale]
        if abandoned:
            reconcile.reclaim(store, kind, ident, abandoned)
            continue
        if (u.parallel > 0 or u.reserved > 0) and idle:
            store.reset_usage(
                kind, ident,
                {"parallel": 0, "reserved": Decimal(0), "committed": u.spend},
                {"active_at": Decimal(str(round(u.active_at, 3))), "parallel": u.parallel, "reserved": u.reserved, "spend": u.spend},
            )
            continue
        error = _limit_error(limits, r, u, now, scope)
        if error is not None:
            raise error
        # The item changed between the failed write and now (a settle freed room): try again.
    raise kerr.StoreUnavailable(f"could not reserve on {kind} after {MAX_ATTEMPTS} attempts (contention)")


@dataclass(frozen=True)
class KeyAndTeam:
    """One admission's reservations: on the key, and on its team when the team has limits."""

    key: Reserved
    team: Reserved | None
    headers: dict[str, str]  # the x-ratelimit-* headers of both, the tighter winning


def reserve_key_and_team(
    store: KeyStore,
    key: KeyRecord,
    team: TeamRecord | None,
    *,
    cost: Decimal,
    tokens: int,
    now: float,
    spare: tuple[str, float] | None = None,
) -> KeyAndTeam:
    """``reserve`` on the key, then on its team if the team has limits. If the team refuses (or
    anything fails there), the key's reservation is undone before the error propagates."""
    on_key = reserve(store, "key", key.token, key.limits, key.version, cost=cost, tokens=tokens, now=now,
                     scope="this key", spare=spare)
    headers = rate_headers(key.limits, on_key.usage, now)
    if team is None or not team.limits.any:
        return KeyAndTeam(on_key, None, headers)
    try:
        on_team = reserve(store, "team", team.team_id, team.limits, team.version, cost=cost, tokens=tokens,
                          now=now, scope=f"team {team.team_id}", spare=spare)
    except BaseException:
        store.unreserve("key", key.token, on_key.reservation)  # nothing stays reserved
        raise
    return KeyAndTeam(on_key, on_team, merge_headers(headers, rate_headers(team.limits, on_team.usage, now)))


def undo(store: KeyStore, reserved: KeyAndTeam) -> None:
    """Give back what ``reserve_key_and_team`` took (a later check of the same admission refused)."""
    store.unreserve("key", reserved.key.ident, reserved.key.reservation)
    if reserved.team is not None:
        store.unreserve("team", reserved.team.ident, reserved.team.reservation)


def _limit_error(limits: Limits, r: Reservation, u: Usage, now: float, scope: str) -> GatewayError | None:
    headers = rate_headers(limits, u, now)
    window_reset = str(max(1, math.ceil((r.window + 1) * WINDOW_SECONDS - now)))
    if r.budget_cap is not None and u.committed > r.budget_cap:
        reset = budgets.seconds_to_reset(limits, r.period, now)
        if reset is not None:
            headers["retry-after"] = str(reset)
        return kerr.budget_exceeded(scope, f"{u.spend}", f"{limits.max_budget}", headers | {"x-budget-reserved": f"{u.reserved}"},
                                    room=max(Decimal(0), (limits.max_budget or Decimal(0)) - u.committed))
    if r.rpm is not None and u.requests >= r.rpm:
        return kerr.rate_limited(scope, "rpm", r.rpm, headers | {"retry-after": window_reset})
    if r.tpm_cap is not None and u.tokens > r.tpm_cap:
        return kerr.rate_limited(scope, "tpm", limits.tpm_limit or 0, headers | {"retry-after": window_reset})
    if r.parallel is not None and u.parallel >= r.parallel:
        return kerr.rate_limited(scope, "parallel", r.parallel, headers | {"retry-after": "1"})
    return None
