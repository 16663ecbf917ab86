"""How much of a caller's budget is left: the input of budget-aware routers (``router.budget``).

The share is the smallest ``(max_budget - spend) / max_budget`` over the key, its team and its
user, among those with a budget, in the current budget period. It steers a routing decision, it
enforces nothing (admission does, exactly, in DynamoDB), so it may be a little stale: it comes from
the counters this instance last saw for that principal (every reservation returns them,
``limits.reserve``: at admission, and after each response when the next spare is taken), and is
read once with a GetItem only when this instance has seen none within ``KEY_CACHE_TTL_SECONDS``.
"""
from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Iterable

from gateway.keys import accounts, budgets
from gateway.keys.cache import TTLCache
from gateway.keys.models import Limits, Usage
from gateway.keys.store import get_store
from gateway.principal import Principal

log = logging.getLogger(__name__)
_seen: TTLCache[Usage] = TTLCache()


def observe(kind: str, ident: str, usage: Usage) -> None:
    """Remember the counters a reservation returned (cheap: one dict write)."""
    _seen.put(f"{kind}#{ident}", usage)


def forget() -> None:
    _seen.clear()


def _budgeted(principal: Principal) -> Iterable[tuple[str, str, Limits]]:
    key, team = principal.key, principal.team
    if key is not None and key.limits.max_budget:
        yield "key", key.token, key.limits
    if team is not None and team.limits.max_budget:
        yield "team", team.team_id, team.limits
    user = accounts.scope("user", getattr(key, "user_id", None)) if key is not None else None
    if user is not None and user.limits.max_budget:
        yield "user", user.ident, user.limits


def _usage(kind: str, ident: str) -> Usage:
    found = _seen.get(f"{kind}#{ident}")
    if found is None:
        found = get_store().get_usage(kind, ident)  # type: ignore[arg-type]
        observe(kind, ident, found)
    return found


def remaining_share(principal: Principal, now: float | None = None) -> float | None:
    """0..1, the tightest budget's unspent share; None for the master key or when no budget applies."""
    if principal.kind != "virtual":
        return None
    now = time.time() if now is None else now
    shares = []
    try:
        scoped = [(kind, ident, limits, _usage(kind, ident)) for kind, ident, limits in _budgeted(principal)]
    except Exception as err:  # the store is down: route unshifted; admission reports the outage itself
        log.warning("budget share unknown (%s); routing without the budget shift", type(err).__name__)
        return None
    for kind, ident, limits, usage in scoped:
        period = budgets.current_period(limits, now)
        spend = usage.spend if period is None or usage.period == period else Decimal(0)
        budget = Decimal(limits.max_budget)
        shares.append(float(max(Decimal(0), budget - spend) / budget))
    return min(shares) if shares else None
