"""Budget-aware routing: as the caller's budget runs out, shift toward cheaper models.

A learned strategy's settings may carry ``budget: {below: 0.25}`` (and, for ``cost-aware``,
``max_lambda``). The request carries ``budget_share``, the share of the caller's tightest budget
still unspent (the gateway computes it from the key's, team's and user's counters). While the share
is at or above ``below`` nothing changes. Under it the shift is linear in how far under it is, so
it has no step a caller could game and reaches the cheapest choice when the budget is spent:

- ``threshold``: the strong fraction becomes ``strong_fraction * share / below`` (0 at share 0);
- ``cost-aware``: lambda moves from its setting toward ``max_lambda`` (default 1.0: a full
  quality point for the most expensive candidate's cost, which makes the cheapest win almost
  always), ``lambda + (max_lambda - lambda) * (1 - share / below)``.

A decision stays a pure function of the request: the share is part of the request.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .settings import as_mapping, check_keys, get_number


@dataclass(frozen=True)
class BudgetShift:
    below: float
    max_lambda: float = 1.0

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], where: str, *, with_lambda: bool) -> "BudgetShift | None":
        if s.get("budget") is None:
            return None
        b = as_mapping(s["budget"], f"{where}.budget")
        check_keys(b, ("below", "max_lambda") if with_lambda else ("below",), f"{where}.budget")
        below = float(get_number(b, "below", f"{where}.budget", lo=0.0, hi=1.0, required=True))
        max_lambda = float(get_number(b, "max_lambda", f"{where}.budget", lo=0.0, default=1.0))
        return cls(below=below, max_lambda=max_lambda)

    def depth(self, share: float | None) -> float:
        """0 (no shift) .. 1 (budget spent): how far under ``below`` the request's share is."""
        if share is None or self.below <= 0 or share >= self.below:
            return 0.0
        return 1.0 - max(0.0, float(share)) / self.below

    def fraction(self, strong_fraction: float, share: float | None) -> float:
        return strong_fraction * (1.0 - self.depth(share))

    def lam(self, lam: float, share: float | None) -> float:
        return lam + (max(self.max_lambda, lam) - lam) * self.depth(share)

    def note(self, share: float | None) -> str:
        return f"; budget {share * 100:.1f}% left (< {self.below * 100:g}%)" if self.depth(share) > 0 else ""
