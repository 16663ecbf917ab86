"""Process settings read from the environment once per execution environment.

Names follow LiteLLM's proxy where one exists (``LITELLM_MASTER_KEY``, ``LITELLM_CONFIG_PATH``) so
that a LiteLLM user's deployment notes carry over. Values are read at cold start; a change needs a
new execution environment (a deploy), unlike the config file, which hot-reloads from S3.

The master key a request is compared with is, as in LiteLLM's proxy (``proxy_server.py``:
``general_settings.get("master_key", LITELLM_MASTER_KEY)``; https://docs.litellm.ai/docs/proxy/virtual_keys),
the serving config's ``general_settings.master_key`` (``os.environ/NAME`` resolved), else
``LITELLM_MASTER_KEY``, else the Secrets Manager secret ``MASTER_KEY_SECRET_ID`` (see ``gateway.auth``).
Every one of them must be strong (``check_master_key``): a weak one fails the cold start, and a
reloaded config with a weak one is refused while the last good config keeps serving. Only the local
dev run (``scripts/run_local.py`` sets ``GATEWAY_DEV_MODE=true``) accepts a weak key, with a warning.
"""
from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

MASTER_KEY_MIN_LENGTH = 20
MASTER_KEY_MIN_DISTINCT = 10
# Published examples (LiteLLM's docs, this project's `make run`): anyone can guess them.
KNOWN_MASTER_KEYS = frozenset({
    "sk-1234", "sk-12345", "sk-123456", "sk-1234567890", "sk-master", "sk-master-key", "sk-admin",
    "sk-test", "sk-litellm", "sk-local-master", "sk-password", "sk-secret", "sk-changeme", "changeme",
    "change-me", "password", "secret", "master_key", "master-key", "your-master-key", "sk-your-master-key",
    "sk-my-master-key",
})
GENERATE_KEY_COMMAND = """python -c 'import secrets; print("sk-" + secrets.token_urlsafe(32))'"""


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
    dev_mode: bool

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
            # Set by scripts/run_local.py only; never inferred (e.g. from missing AWS variables).
            dev_mode=_flag("GATEWAY_DEV_MODE"),
        )


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


@functools.lru_cache(maxsize=1)
def master_key() -> str | None:
    """The admin secret: ``LITELLM_MASTER_KEY``, or the Secrets Manager secret named by ``MASTER_KEY_SECRET_ID``.

    The secret may hold the key itself or JSON ``{"master_key": "..."}``. It is fetched at cold start
    (``runtime.Runtime.start`` checks it) and again after a SnapStart restore (``gateway.snapstart``),
    so a rotated secret takes effect in new execution environments. The client is ``gateway.aws``'s,
    which a restore rebuilds with fresh credentials.
    """
    direct = os.environ.get("LITELLM_MASTER_KEY", "").strip()
    if direct:
        return direct
    secret_id = get_settings().master_key_secret_id
    if not secret_id:
        return None
    from gateway import aws

    secret = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    value = secret.get("SecretString")
    if value is None:
        value = secret["SecretBinary"].decode()
    value = value.strip()
    if value.startswith("{"):
        value = str(json.loads(value).get("master_key", "")).strip()
    return value or None


def master_key_origin() -> str:
    """Where ``master_key()`` comes from, for messages."""
    if os.environ.get("LITELLM_MASTER_KEY"):
        return "LITELLM_MASTER_KEY"
    return f"the Secrets Manager secret MASTER_KEY_SECRET_ID ({get_settings().master_key_secret_id})"


class WeakMasterKey(RuntimeError):
    """A master key anyone could guess; the message says where it came from and how to replace it."""


def master_key_weakness(key: str) -> str | None:
    """Why ``key`` is guessable, or None. Published defaults, short keys and low-variety keys fail."""
    key = key.strip()
    if key.lower() in KNOWN_MASTER_KEYS:
        return "it is a published example key"
    if len(key) < MASTER_KEY_MIN_LENGTH:
        return f"it has {len(key)} characters, fewer than {MASTER_KEY_MIN_LENGTH}"
    if len(set(key)) < MASTER_KEY_MIN_DISTINCT:
        return f"it uses only {len(set(key))} distinct characters"
    body = key.removeprefix("sk-")
    if any(body == (body[:n] * (len(body) // n + 1))[: len(body)] for n in range(1, len(body) // 2 + 1)):
        return "it repeats a short pattern"
    return None


def check_master_key(key: str | None, origin: str) -> None:
    """Raise ``WeakMasterKey`` if ``key`` is guessable (no key at all is allowed: then only virtual keys
    work). ``GATEWAY_DEV_MODE=true`` turns the refusal into a warning, for the local run only."""
    reason = None if key is None else master_key_weakness(key)
    if reason is None:
        return
    if get_settings().dev_mode:
        log.warning("GATEWAY_DEV_MODE is on: accepting a weak master key from %s (%s)", origin, reason)
        return
    raise WeakMasterKey(
        f"weak master key in {origin}: {reason}. Replace it with a random value of at least "
        f"{MASTER_KEY_MIN_LENGTH} characters, e.g. the output of: {GENERATE_KEY_COMMAND}  "
        "(only a local dev run may use a weak key, with GATEWAY_DEV_MODE=true)"
    )


def reset() -> None:
    """Re-read the environment (tests change it between cases)."""
    get_settings.cache_clear()
    master_key.cache_clear()
