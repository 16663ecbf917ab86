"""The caller's per-request cache controls, as LiteLLM documents them (``cache`` in the body;
``litellm.types.caching.DynamicCacheControl``, https://docs.litellm.ai/docs/proxy/caching), and the
plan they make with the config's settings.

The controls are read by the gateway and never passed to litellm. A caller may shorten an entry's
life or ask for a fresher one, never lengthen it past the config's ``ttl``. A caller's
``namespace`` only splits the config's namespace further (it is hashed into the key under the
config's), so it cannot reach entries another namespace holds.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from gateway.response_cache.settings import CacheSettings


class CacheControl(BaseModel):
    """``{"no-cache": true}``, ``{"no-store": true}``, ``{"ttl": 60}``, ``{"s-maxage": 30}``,
    ``{"namespace": "eval"}``, ``{"use-cache": true}``; an unknown name is a 400."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    no_cache: bool = Field(default=False, alias="no-cache")
    no_store: bool = Field(default=False, alias="no-store")
    use_cache: bool = Field(default=False, alias="use-cache")
    ttl: int | None = Field(default=None, ge=1)
    s_maxage: int | None = Field(default=None, ge=0, alias="s-maxage")
    s_max_age: int | None = Field(default=None, ge=0, alias="s-max-age")  # LiteLLM reads both spellings
    namespace: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")


@dataclass(frozen=True)
class Plan:
    lookup: bool
    store: bool
    ttl: int  # seconds, at most the config's
    max_age: int | None  # seconds; an older entry counts as a miss
    caller_namespace: str


def plan(settings: CacheSettings, control: CacheControl | None) -> Plan | None:
    """What this request does with the cache, or None when it does not use it at all."""
    control = control or CacheControl()
    if settings.opt_in and not control.use_cache:
        return None
    max_age = control.s_maxage if control.s_maxage is not None else control.s_max_age
    return Plan(lookup=not control.no_cache, store=not control.no_store,
                ttl=min(control.ttl or settings.ttl, settings.ttl), max_age=max_age,
                caller_namespace=control.namespace or "")
