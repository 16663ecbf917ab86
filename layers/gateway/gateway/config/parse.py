"""From YAML text to a validated :class:`GatewayConfig`.

``os.environ/NAME`` values are replaced by the environment variable, as LiteLLM's proxy does. A
missing variable fails the config, unless the deployment is marked ``model_info.optional: true``,
in which case that deployment is left out and the reason is kept in ``skipped``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from gateway.config.errors import ConfigError
from gateway.config.schema import GatewayConfig

ENV_PREFIX = "os.environ/"


class _MissingEnv(Exception):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.name = name
        self.path = path


@dataclass(frozen=True)
class ParsedConfig:
    config: GatewayConfig
    skipped: list[str] = field(default_factory=list)


def _resolve(value: Any, env: Mapping[str, str], path: str) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        if name not in env:
            raise _MissingEnv(name, path)
        return env[name]
    if isinstance(value, dict):
        return {k: _resolve(v, env, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _format_validation_error(err: ValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    more = f" (+{err.error_count() - 5} more)" if err.error_count() > 5 else ""
    return "; ".join(parts) + more


def parse_config(text: str | bytes, env: Mapping[str, str] | None = None) -> ParsedConfig:
    """Parse and validate a config document. Raises :class:`ConfigError` with a readable reason."""
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config is not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(raw, dict):
        raise ConfigError("config must be a YAML mapping with a 'model_list'")

    skipped: list[str] = []
    models = raw.get("model_list")
    if isinstance(models, list):
        kept = []
        for index, entry in enumerate(models):
            try:
                kept.append(_resolve(entry, env, f"model_list[{index}]"))
            except _MissingEnv as missing:
                optional = isinstance(entry, dict) and bool((entry.get("model_info") or {}).get("optional"))
                if not optional:
                    raise ConfigError(
                        f"{missing.path}: environment variable {missing.name} is not set"
                    ) from None
                skipped.append(f"{entry.get('model_name')}: {missing.name} not set")
        raw = {**raw, "model_list": kept}
    try:
        rest = {k: _resolve(v, env, k) for k, v in raw.items() if k != "model_list"}
    except _MissingEnv as missing:
        raise ConfigError(f"{missing.path}: environment variable {missing.name} is not set") from None
    rest["model_list"] = raw.get("model_list")

    try:
        config = GatewayConfig.model_validate(rest)
    except ValidationError as err:
        raise ConfigError(f"config is invalid: {_format_validation_error(err)}") from None
    return ParsedConfig(config=config, skipped=skipped)
