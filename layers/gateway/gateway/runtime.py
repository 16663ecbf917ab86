"""The state of one execution environment: settings, the live config and what is built from it.

Built once at cold start (module import of the app), reused by every warm invocation. Nothing
here is per request, and nothing is shared between instances: each Lambda instance loads the same
config from the same S3 object and so behaves the same.

A weak master key (``settings.check_master_key``) fails the cold start, from the environment, the
secret or the first config; a reloaded config with one is refused like any invalid config (the last
good one keeps serving, ``/_health/ready`` says why).
"""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from litellm import Router

from gateway import auth, errors
from gateway.catalog import Catalog
from gateway.config.errors import ConfigError
from gateway.config.ignored import not_honoured
from gateway.config.parse import ParsedConfig
from gateway.config.source import ConfigSource, FileSource, S3Source, UnsupportedSource
from gateway.config.store import ConfigStore
from gateway.config.unserved import refuse_unserved
from gateway.learned_routing.artifact_sync import ArtifactStore
from gateway.learned_routing.decide import Routing, RoutingTable
from gateway.observability import subsegment
from gateway.providers import build_provider_router
from gateway.reload import Reloads
from gateway.settings import Settings, WeakMasterKey, check_master_key, get_settings, master_key, master_key_origin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """Everything derived from one config version; swapped whole on reload."""

    parsed: ParsedConfig
    provider_router: Router  # litellm's: retries, fallbacks and cooldowns across deployments
    catalog: Catalog
    ignored: tuple[str, ...] = ()  # config keys the gateway does not honour (config.ignored)

    @property
    def config(self):
        return self.parsed.config


class WeakConfigMasterKey(ConfigError):
    """The config's ``general_settings.master_key`` is guessable: the config is not applied."""


def build_engine(parsed: ParsedConfig) -> Engine:
    try:
        check_master_key(parsed.config.general_settings.master_key, "general_settings.master_key of the config")
    except WeakMasterKey as err:
        raise WeakConfigMasterKey(str(err)) from None
    refuse_unserved(parsed.config)  # guardrails: refused, never served unchecked
    ignored = tuple(not_honoured(parsed.config))
    if ignored:
        log.warning("config keys not honoured by the gateway (ignored): %s", ", ".join(ignored))
    with subsegment("config.build"):
        return Engine(parsed=parsed, provider_router=build_provider_router(parsed), catalog=Catalog(parsed.config),
                      ignored=ignored)


def config_source(settings: Settings) -> ConfigSource | None:
    if settings.config_path:
        return FileSource(settings.config_path)
    if settings.config_bucket:
        kind = (settings.config_bucket_type or "s3").lower()
        if kind != "s3":
            return UnsupportedSource(f"{kind}://{settings.config_bucket}/{settings.config_key}",
                                     f"LITELLM_CONFIG_BUCKET_TYPE={settings.config_bucket_type!r}: this gateway reads "
                                     "its config from S3 or a file only (unset it, or set it to 's3')")
        return S3Source(settings.config_bucket, settings.config_key, settings.tmp_dir)
    return None


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = ConfigStore[Engine](
            config_source(settings),
            self._build,
            hot_reload=settings.config_hot_reload,
            interval=settings.config_sync_interval,
        )
        self.artifacts = ArtifactStore(
            settings.router_bucket,
            settings.router_key,
            settings.tmp_dir,
            hot_reload=settings.config_hot_reload,
            interval=settings.config_sync_interval,
        )
        self.reloads = Reloads(self.config, self.artifacts)
        self.routing = Routing()
        self.started_at = time.time()
        self._refused_key: WeakConfigMasterKey | None = None

    def _build(self, parsed: ParsedConfig) -> Engine:
        try:
            engine = build_engine(parsed)
        except WeakConfigMasterKey as err:
            self._refused_key = err
            raise
        if self.config.current is not None and parsed.config.general_settings.master_key != self.config_master_key():
            log.warning("the new config changes general_settings.master_key (the key admins must send)")
        return engine

    def start(self) -> None:
        """Cold-start work: load the config and router artifacts (failures are kept for
        /_health/ready, not raised), after refusing a weak master key (that one is raised)."""
        check_master_key(master_key(), master_key_origin())
        with subsegment("config.load"):
            self.config.load()
        if self.config.current is None and self._refused_key is not None:
            raise WeakMasterKey(str(self._refused_key))
        with subsegment("router.artifacts.load"):
            self.artifacts.load()

    def config_master_key(self) -> str | None:
        """``general_settings.master_key`` of the serving config (``gateway.auth`` prefers it)."""
        loaded = self.config.current
        return loaded.parsed.config.general_settings.master_key if loaded is not None else None

    def routing_table(self, engine: "Engine") -> RoutingTable:
        """The learned routers for the serving config and artifacts (rebuilt only on change)."""
        return self.routing.table(engine, self.artifacts)

    def engine(self) -> Engine:
        """The serving engine, or a 503 that says why there is none."""
        loaded = self.config.current
        if loaded is None:
            reason = self.config.last_error or "config not loaded yet"
            raise errors.unavailable(f"The gateway has no usable config: {reason}", code="config_unavailable")
        return loaded.runtime

    # -- readiness -----------------------------------------------------------------------------
    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"config": self.config.status()}
        if self.config.current is not None:
            checks["config"]["ignored"] = list(self.config.current.runtime.ignored)
        if self.config.current is not None and self.config.current.runtime.config.router_settings.llm_routers:
            table = self.routing_table(self.config.current.runtime)
            checks["router"] = {**self.artifacts.status(), "routers": table.status()}
            checks["router"]["ok"] = all(s.router is not None or s.fallback_model for s in table.slots.values())
        elif self.artifacts.configured:
            checks["router"] = self.artifacts.status()
        if isinstance(self.config.source, S3Source):
            checks["s3"] = _check(lambda: self.config.source.current_version())
        if self.settings.table_name:
            checks["dynamodb"] = _check(self._ping_table)
        return checks

    def _ping_table(self) -> None:
        from gateway import aws

        # A GetItem on a key that never exists: least privilege (no DescribeTable) and one RCU.
        aws.client("dynamodb").get_item(
            TableName=self.settings.table_name, Key={"pk": {"S": "HEALTH"}, "sk": {"S": "HEALTH"}}
        )


def _check(probe) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as err:
        return {"ok": False, "error": f"{type(err).__name__}: {str(err)[:200]}"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@functools.lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    runtime = Runtime(get_settings())
    runtime.start()
    auth.use_config_master_key(runtime.config_master_key)
    return runtime


def started() -> Runtime | None:
    """The runtime if this process has built it, else None (never starts one: for code, such as the
    admin API in a bare app, that only reads what the serving config says when there is one)."""
    return get_runtime() if get_runtime.cache_info().currsize else None


def reset() -> None:
    get_runtime.cache_clear()
    auth.use_config_master_key(None)
