"""What the loaded config offers: model groups, their aliases and their prices.

Prices come from ``model_info`` (LiteLLM's names, per token) and otherwise from litellm's bundled
cost map; the highest price among a group's deployments is used for reservations, since the
router may pick any of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from gateway.config.schema import GatewayConfig, ModelEntry


@dataclass(frozen=True)
class Price:
    input_cost_per_token: float = 0.0
    output_cost_per_token: float = 0.0


def _entry_price(entry: ModelEntry) -> Price:
    info = entry.model_info
    if info.input_cost_per_token is not None or info.output_cost_per_token is not None:
        return Price(info.input_cost_per_token or 0.0, info.output_cost_per_token or 0.0)
    import litellm

    try:
        known = litellm.get_model_info(entry.litellm_params.model)
    except Exception:
        return Price()
    return Price(float(known.get("input_cost_per_token") or 0.0), float(known.get("output_cost_per_token") or 0.0))


class Catalog:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.names = config.model_names()
        self.aliases = dict(config.router_settings.model_group_alias)
        self._prices: dict[str, Price] = {}

    def resolve(self, requested: str) -> str | None:
        """The model group a requested name refers to, or None when the config has no such model."""
        group = self.aliases.get(requested, requested)
        return group if group in self.names else None

    def public_names(self) -> list[str]:
        routers = list(self.config.router_settings.llm_routers)
        return self.names + [alias for alias in self.aliases if alias not in self.names] + routers

    def highest_price(self, groups: Iterable[str]) -> Price:
        """Per-token prices no lower than any of ``groups``' (a call that may fall back to any)."""
        return _highest([self.price(group) for group in groups])

    def price(self, group: str) -> Price:
        if group not in self._prices:
            self._prices[group] = _highest([_entry_price(entry) for entry in self.config.deployments(group)])
        return self._prices[group]


def _highest(prices: list[Price]) -> Price:
    if not prices:
        return Price()
    return Price(max(p.input_cost_per_token for p in prices), max(p.output_cost_per_token for p in prices))
