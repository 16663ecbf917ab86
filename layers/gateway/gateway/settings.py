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

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.keys import settings as key_settings  # keys' knobs live in their own package

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


def _env(name: str, *more: str) -> AliasChoices:
    return AliasChoices(name, *more)


class Settings(BaseSettings):
    """The gateway's environment, read once (``get_settings``); ``reset()`` re-reads it.

    pydantic-settings parses the types (``true``/``1``/``yes``/``on`` for flags); an empty
    variable counts as unset, as ``os.environ.get(NAME) or default`` did.
    """

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True)

    config_path: str | None = Field(None, validation_alias=_env("LITELLM_CONFIG_PATH"))
    # LiteLLM's proxy names for the same (``proxy_server.py``, ``LITELLM_CONFIG_BUCKET_*``) are aliases
    config_bucket: str | None = Field(None, validation_alias=_env("CONFIG_S3_BUCKET", "LITELLM_CONFIG_BUCKET_NAME"))
    config_key: str = Field("config/config.yaml",
                            validation_alias=_env("CONFIG_S3_KEY", "LITELLM_CONFIG_BUCKET_OBJECT_KEY"))
    config_bucket_type: str | None = Field(None, validation_alias=_env("LITELLM_CONFIG_BUCKET_TYPE"))
    config_hot_reload: bool = Field(False, validation_alias=_env("CONFIG_HOT_RELOAD"))
    config_sync_interval: int = Field(60, validation_alias=_env("CONFIG_SYNC_INTERVAL"))
    router_bucket: str | None = Field(None, validation_alias=_env("LLMROUTER_MODEL_S3_BUCKET"))
    router_key: str = Field("router/", validation_alias=_env("LLMROUTER_MODEL_S3_KEY"))
    table_name: str | None = Field(None, validation_alias=_env("GATEWAY_TABLE"))
    master_key_env: str | None = Field(None, validation_alias=_env("LITELLM_MASTER_KEY"), repr=False)
    master_key_secret_id: str | None = Field(None, validation_alias=_env("MASTER_KEY_SECRET_ID"))
    # API Gateway caps payloads at 10 MB and Function URLs at 6 MB; refuse earlier, clearly.
    max_body_bytes: int = Field(6 * 1024 * 1024, validation_alias=_env("GATEWAY_MAX_BODY_BYTES"))
    tmp_dir: str = Field("/tmp/llm-gateway", validation_alias=_env("GATEWAY_TMP_DIR"))
    log_prompts: bool = Field(False, validation_alias=_env("GATEWAY_LOG_PROMPTS"))
    # Set by scripts/run_local.py only; never inferred (e.g. from missing AWS variables).
    dev_mode: bool = Field(False, validation_alias=_env("GATEWAY_DEV_MODE"))
    settle_after_response: bool = Field(True, validation_alias=_env("GATEWAY_SETTLE_AFTER_RESPONSE"))
    # How long the after-response extension waits for litellm's callbacks (a hung one must not hold
    # the invocation to its timeout; what is left resumes with the next request).
    callback_flush_timeout_s: float = Field(2.0, gt=0, le=30, validation_alias=_env("GATEWAY_CALLBACK_FLUSH_TIMEOUT_S"))
    # Set by Lambda itself (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
    lambda_runtime_api: str | None = Field(None, validation_alias=_env("AWS_LAMBDA_RUNTIME_API"))
    lambda_initialization_type: str | None = Field(None, validation_alias=_env("AWS_LAMBDA_INITIALIZATION_TYPE"))
    # boto3 clients (gateway.aws): botocore's default pool of 10 is below what a batch worker or
    # uvicorn keeps in flight.
    aws_connect_timeout: float = Field(2.0, validation_alias=_env("AWS_CONNECT_TIMEOUT"))
    aws_read_timeout: float = Field(5.0, validation_alias=_env("AWS_READ_TIMEOUT"))
    aws_max_attempts: int = Field(3, validation_alias=_env("AWS_MAX_ATTEMPTS"))
    aws_max_pool_connections: int = Field(64, validation_alias=_env("AWS_MAX_POOL_CONNECTIONS"))
    # GET /health?model=...: a probe's result is reused this long per instance (a probe calls the model)
    health_check_cache_seconds: float = Field(60.0, ge=1, le=86400, validation_alias=_env("HEALTH_CHECK_CACHE_SECONDS"))

    @classmethod
    def from_env(cls) -> "Settings":
        return cls()


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
    direct = (get_settings().master_key_env or "").strip()
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
    if get_settings().master_key_env:
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
    """Re-read the environment, this package's and ``gateway.keys``' (tests change it between cases)."""
    get_settings.cache_clear()
    master_key.cache_clear()
    key_settings.get.cache_clear()
