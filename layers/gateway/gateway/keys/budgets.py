"""Budget arithmetic: what a request reserves, and when a budget period rolls over.

A request reserves its worst case, ``prompt_tokens * input_price + max_tokens * output_price``
(rounded up to ``COST_QUANTUM``), before the provider is called; settle replaces it by the real cost.
So with every instance racing, ``spend + reserved`` never passes ``max_budget`` at admission, and the
final spend is bounded by ``max_budget + sum(max(0, actual_i - reserved_i))``: strictly
``<= max_budget`` whenever the real cost of a request does not exceed its reservation (true when
``max_tokens`` caps the completion and the same prices are used for both).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.keys.models import Limits, Usage, to_cost


def worst_case_cost(prompt_tokens: int, max_tokens: int, input_cost_per_token: float, output_cost_per_token: float) -> Decimal:
    cost = Decimal(int(prompt_tokens)) * _price(input_cost_per_token) + Decimal(int(max_tokens)) * _price(output_cost_per_token)
    return to_cost(cost, round_up=True)


def affordable_output_tokens(room: Decimal, prompt_tokens: int, input_cost_per_token: float,
                             output_cost_per_token: float) -> int:
    """The most completion tokens whose worst case, with the prompt, fits in ``room`` (USD)."""
    left = room - Decimal(int(prompt_tokens)) * _price(input_cost_per_token)
    price = _price(output_cost_per_token)
    if left <= 0:
        return 0
    if price <= 0:
        return 10**9  # output costs nothing: any length fits
    return int((left - Decimal("1e-10")) / price)  # one quantum of slack for worst_case_cost's rounding up


def _price(value: float) -> Decimal:
    """A per-token price exactly as given (not quantized: prices can be below COST_QUANTUM)."""
    return Decimal(repr(float(value)))


def current_period(limits: Limits, now: float) -> int | None:
    period = limits.period
    return period.period_start(now) if period else None


def period_reset(observed: Usage, period: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(changes, guards) that move ``observed`` into ``period``: spend restarts at 0, reservations of
    requests still in flight carry over (they settle into the new period)."""
    changes = {"period": period, "spend": Decimal(0), "committed": observed.committed - observed.spend}
    guards = {"period": observed.period, "spend": observed.spend, "committed": observed.committed}
    return changes, guards


def seconds_to_reset(limits: Limits, period: int | None, now: float) -> int | None:
    duration = limits.period
    if duration is None or period is None:
        return None
    return max(1, int(duration.period_end(period) - now + 0.999))
