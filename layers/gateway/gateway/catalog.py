"""What the loaded config offers: model groups, their aliases, access groups and prices.

Prices come from ``model_info`` (LiteLLM's names, per token) and otherwise from litellm's bundled
cost map; the highest price among a group's deployments is used for reservations, since the
router may pick any of them.

A name only a wildcard ``model_name`` matches (``config.wildcards``) is its own group, as in
litellm's Router. Such a name is served only when it has a price (the wildcard entry's
``model_info`` or litellm's cost map): otherwise a virtual key's budget could be spent around by
naming a model nobody priced, so it is refused with a 400 ``model_not_priced``.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

from gateway import errors
from gateway.config import wildcards
from gateway.config.schema import GatewayConfig, GroupAlias, ModelEntry


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


def _priced(entry: ModelEntry) -> bool:
    """Whether the entry's ``model_info`` or litellm's cost map prices its model.

    ``litellm.get_model_info`` raises for a model litellm does not map, but answers 0 for the stub
    entries litellm's Router registers for every deployment's model (litellm/router.py
    ``_register_deployment_in_model_cost``: no price keys), so the cost map's own entry is what is checked."""
    info = entry.model_info
    if info.input_cost_per_token is not None or info.output_cost_per_token is not None:
        return True
    import litellm

    try:
        key = litellm.get_model_info(entry.litellm_params.model).get("key")
    except Exception:
        return False
    mapped = litellm.model_cost.get(key) or {}
    return mapped.get("input_cost_per_token") is not None or mapped.get("output_cost_per_token") is not None


def _access_groups(config: GatewayConfig) -> Mapping[str, tuple[str, ...]]:
    """Access group name -> the ``model_name`` of every deployment that lists it (patterns too)."""
    members: dict[str, list[str]] = {}
    for entry in config.model_list:
        for group in entry.model_info.access_groups or ():
            if entry.model_name not in members.setdefault(group, []):
                members[group].append(entry.model_name)
    return MappingProxyType({group: tuple(names) for group, names in members.items()})


class Catalog:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.names = config.model_names()
        self.aliases = {alias: config.resolve_alias(alias) for alias in config.router_settings.model_group_alias}
        self.hidden_aliases = frozenset(alias for alias, item in config.router_settings.model_group_alias.items()
                                        if isinstance(item, GroupAlias) and item.hidden)
        self.access_groups = _access_groups(config)
        self._prices: dict[str, Price] = {}

    def resolve(self, requested: str) -> str | None:
        """The model group a requested name refers to, or None when the config has no such model.

        Exact names (and aliases) win over wildcard patterns, as in litellm's Router; a name only a
        wildcard matches is refused (400 ``model_not_priced``) when nothing prices it; a pattern
        itself (``openai/*``) is no model."""
        group = self.aliases.get(requested, requested)
        if wildcards.is_pattern(group):  # a pattern is not a model: litellm would send it on as is
            return None
        if group in self.names:
            return group
        matched = self.config.deployments(group)
        if not matched:
            return None
        if not all(_priced(entry) for entry in matched):
            raise errors.bad_request(
                f"The model '{group}' matches the wildcard model '{matched[0].model_name}' but has no known "
                "price (litellm's cost map does not list it and the entry sets no model_info prices), so the "
                "gateway cannot account for it.", param="model", code="model_not_priced")
        return group

    def serves(self, requested: str) -> bool:
        """Whether ``resolve`` finds a group for ``requested`` (never raises: for config checks)."""
        try:
            return self.resolve(requested) is not None
        except errors.GatewayError:
            return False

    def alias_of(self, requested: str, group: str) -> str | None:
        """``requested`` when it is a ``model_group_alias`` of ``group`` (access follows either name)."""
        return requested if requested != group and self.aliases.get(requested) == group else None

    def public_names(self) -> list[str]:
        """What ``/v1/models`` lists: the groups (a wildcard as its pattern), the aliases not marked
        ``hidden`` (litellm's Router.get_model_list skips those) and the learned routers."""
        routers = list(self.config.router_settings.llm_routers)
        aliases = [alias for alias in self.aliases if alias not in self.names and alias not in self.hidden_aliases]
        return self.names + aliases + routers

    def highest_price(self, groups: Iterable[str]) -> Price:
        """Per-token prices no lower than any of ``groups``' (a call that may fall back to any)."""
        return _highest([self.price(group) for group in groups])

    def price(self, group: str) -> Price:
        if group in self._prices:
            return self._prices[group]
        price = _highest([_entry_price(entry) for entry in self.config.deployments(group)])
        if group in self.names:  # callers' wildcard-matched names are not kept (they are unbounded)
            self._prices[group] = price
        return price


def _highest(prices: list[Price]) -> Price:
    if not prices:
        return Price()
    return Price(max(p.input_cost_per_token for p in prices), max(p.output_cost_per_token for p in prices))
