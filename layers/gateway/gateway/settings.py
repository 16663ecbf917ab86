"""Process settings read from the environment once per execution environment.

Names follow LiteLLM's proxy where one exists (``LITELLM_MASTER_KEY``, ``LITELLM_CONFIG_PATH``) so
that a LiteLLM user's deployment notes carry over. Values are read at cold start; a change needs a
new execution environment (a deploy), unlike the config file, which hot-reloads from S3.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    config_path: str | None
    config_bucket: str | None
    config_key: str
    config_hot_reload: bool
    config_sync_interval: int
    router_bucket: str | None
    router_key: str
    table_name: str | None
    master_key_secret_id: str | None
    max_body_bytes: int
    tmp_dir: str
    log_prompts: bool

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            config_path=os.environ.get("LITELLM_CONFIG_PATH") or None,
            config_bucket=os.environ.get("CONFIG_S3_BUCKET") or None,
            config_key=os.environ.get("CONFIG_S3_KEY") or "config/config.yaml",
            config_hot_reload=_flag("CONFIG_HOT_RELOAD"),
            config_sync_interval=_int("CONFIG_SYNC_INTERVAL", 60),
            router_bucket=os.environ.get("LLMROUTER_MODEL_S3_BUCKET") or None,
            router_key=os.environ.get("LLMROUTER_MODEL_S3_KEY") or "router/",
            table_name=os.environ.get("GATEWAY_TABLE") or None,
            master_key_secret_id=os.environ.get("MASTER_KEY_SECRET_ID") or None,
            # API Gateway caps payloads at 10 MB and Function URLs at 6 MB; refuse earlier, clearly.
            max_body_bytes=_int("GATEWAY_MAX_BODY_BYTES", 6 * 1024 * 1024),
            tmp_dir=os.environ.get("GATEWAY_TMP_DIR") or "/tmp/llm-gateway",
            log_prompts=_flag("GATEWAY_LOG_PROMPTS"),
        )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


@functools.lru_cache(maxsize=1)
def master_key() -> str | None:
    """The admin secret: ``LITELLM_MASTER_KEY``, or the Secrets Manager secret named by ``MASTER_KEY_SECRET_ID``.

    The secret may hold the key itself or JSON ``{"master_key": "..."}``. It is fetched once per
    execution environment; rotating it takes effect on the next cold start.
    """
    direct = os.environ.get("LITELLM_MASTER_KEY")
    if direct:
        return direct
    secret_id = get_settings().master_key_secret_id
    if not secret_id:
        return None
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, max_age=3600)
    if isinstance(value, bytes):
        value = value.decode()
    value = str(value).strip()
    if value.startswith("{"):
        value = str(json.loads(value).get("master_key", "")).strip()
    return value or None


def reset() -> None:
    """Re-read the environment (tests change it between cases)."""
    get_settings.cache_clear()
    master_key.cache_clear()
