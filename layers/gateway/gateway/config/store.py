"""The live config of this execution environment (hot reload: ``gateway.reload``).

One ``ConfigStore`` per process holds the last good *runtime* built from a config (the parsed
config plus the objects built from it, such as litellm's Router). ``refresh()`` is called on every
invocation and is cheap: it only asks the source for its version when the schedule says so, and
rebuilds only when the version changed. A document that fails to parse, validate or build is
reported in ``status()`` and the previous runtime keeps serving.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from gateway.config.errors import ConfigError
from gateway.config.parse import ParsedConfig, parse_config
from gateway.config.source import ConfigSource
from gateway.reload import CheckSchedule

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded(Generic[T]):
    parsed: ParsedConfig
    runtime: T
    version: str
    location: str
    loaded_at: float


class ConfigStore(Generic[T]):
    def __init__(
        self,
        source: ConfigSource | None,
        build: Callable[[ParsedConfig], T],
        *,
        hot_reload: bool,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._build = build
        self.hot_reload = hot_reload
        self.schedule = CheckSchedule(hot_reload=hot_reload, interval=interval, clock=clock)
        self.current: Loaded[T] | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self._failed_version: str | None = None
        self.reloads = 0
        self.downloads = 0

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> bool:
        """Fetch, parse, validate and build now. Returns whether a new runtime is serving."""
        with self.schedule.lock:
            self.schedule.mark_checked()
            return self._load_locked(known_version=None)

    def _load_locked(self, known_version: str | None) -> bool:
        if self.source is None:
            self._fail("no config source: set LITELLM_CONFIG_PATH or CONFIG_S3_BUCKET/CONFIG_S3_KEY")
            return False
        try:
            document = self.source.fetch()
            self.downloads += 1
            parsed = parse_config(document.text)
            runtime = self._build(parsed)
        except ConfigError as err:
            self._fail(str(err), version=known_version)
            return False
        except Exception as err:  # a build error in litellm must not take the last good config down
            self._fail(f"config could not be applied: {type(err).__name__}: {err}", version=known_version)
            return False
        self.current = Loaded(parsed, runtime, document.version, document.location, time.time())
        self.last_error = None
        self.last_error_at = None
        self._failed_version = None
        self.reloads += 1
        for reason in parsed.skipped:
            log.warning("deployment skipped: %s", reason)
        log.info("config loaded from %s (version %s)", document.location, document.version)
        return True

    def _fail(self, message: str, version: str | None = None) -> None:
        self.last_error = message
        self.last_error_at = time.time()
        self._failed_version = version
        log.error("config not applied: %s", message)

    # -- hot reload ----------------------------------------------------------------------------
    def due(self) -> bool:
        """Whether ``refresh()`` would look at the source now (so a server can do it off its event loop)."""
        return self.schedule.due(loaded=self.current is not None, reloadable=self.source is not None)

    def force_check(self) -> None:
        """Make the next ``refresh()`` look at the source whatever the interval."""
        self.schedule.force_check()

    def refresh(self) -> None:
        """Called once per invocation; cheap unless it is time to look at the source again."""
        if not self.due():
            return
        if self.current is None:
            self.load()
            return
        with self.schedule.checking() as mine:
            if not mine:
                return  # another thread is already checking; keep serving the current config
            try:
                version = self.source.current_version()
            except ConfigError as err:
                self._fail(str(err))
                return
            if version == self.current.version or version == self._failed_version:
                return
            self._load_locked(known_version=version)

    def status(self) -> dict[str, object]:
        loaded = self.current
        return {
            "ok": loaded is not None,
            "source": self.source.location if self.source else None,
            "version": loaded.version if loaded else None,
            "loaded_at": loaded.loaded_at if loaded else None,
            "models": loaded.parsed.config.model_names() if loaded else [],
            "skipped": loaded.parsed.skipped if loaded else [],
            "hot_reload": self.hot_reload,
            "error": self.last_error,
        }
