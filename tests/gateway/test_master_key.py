"""The master key: general_settings.master_key wins over LITELLM_MASTER_KEY (LiteLLM's precedence), a
weak key fails the cold start with a message saying how to fix it, a reloaded config with a weak key
is refused while the last good config serves, and only GATEWAY_DEV_MODE=true (the local run) lets a
weak key through."""
from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from gateway import settings
from gateway.runtime import Runtime
from gateway.settings import GENERATE_KEY_COMMAND, MASTER_KEY_MIN_LENGTH, WeakMasterKey, master_key_weakness
from tests.conftest import BUCKET, CONFIG_KEY, FIXTURES, MASTER_KEY, ROOT

CONFIG = """
model_list:
  - model_name: mock
    litellm_params: {model: openai/mock, api_key: x, mock_response: hi}
"""
WEAK = {
    "published": ["sk-1234", "sk-12345", "sk-master", "changeme", "sk-local-master", "SK-1234"],
    "characters, fewer than": ["sk-short-key", "x" * 19],
    "distinct": ["sk-aaaaaaaaaaaaaaaaaaaaaaaa", "sk-12341234123412341234"],
    "repeats": ["sk-0123456789012345678901234567", "sk-abcdefghijkabcdefghijk"],
}


def strong_key() -> str:
    return "sk-" + secrets.token_urlsafe(32)


@pytest.fixture()
def env(monkeypatch, tmp_path):
    """A clean gateway environment for a Runtime of its own: a file config, no table, no secret."""
    for name in ("GATEWAY_DEV_MODE", "MASTER_KEY_SECRET_ID", "GATEWAY_TABLE", "CONFIG_S3_BUCKET",
                 "LLMROUTER_MODEL_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    monkeypatch.setenv("LITELLM_CONFIG_PATH", str(config))
    monkeypatch.setenv("GATEWAY_TMP_DIR", str(tmp_path / "tmp"))
    settings.reset()
    yield monkeypatch
    monkeypatch.undo()
    settings.reset()


def start(config_text: str | None = None) -> Runtime:
    if config_text is not None:
        Path(os.environ["LITELLM_CONFIG_PATH"]).write_text(config_text)
    settings.reset()
    runtime = Runtime(settings.get_settings())
    runtime.start()
    return runtime


def with_master_key(text: str, value: str) -> str:
    doc = yaml.safe_load(text)
    doc.setdefault("general_settings", {})["master_key"] = value
    return yaml.safe_dump(doc)


# -- what is weak ---------------------------------------------------------------------------------
@pytest.mark.parametrize("why,key", [(why, key) for why, keys in WEAK.items() for key in keys])
def test_weak_keys(why, key):
    assert why in (master_key_weakness(key) or "")


@pytest.mark.parametrize("key", [MASTER_KEY, strong_key(), "sk-" + secrets.token_hex(16)])
def test_strong_keys(key):
    assert master_key_weakness(key) is None


# -- cold start -----------------------------------------------------------------------------------
def test_weak_env_key_fails_the_cold_start_with_how_to_fix(env):
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        env.delenv(name)  # no AWS variables is no reason to relax: only GATEWAY_DEV_MODE is
    env.setenv("LITELLM_MASTER_KEY", "sk-1234")
    with pytest.raises(WeakMasterKey) as refused:
        start()
    message = str(refused.value)
    assert "LITELLM_MASTER_KEY" in message and f"at least {MASTER_KEY_MIN_LENGTH} characters" in message
    assert GENERATE_KEY_COMMAND in message and "GATEWAY_DEV_MODE=true" in message
    assert "sk-1234" not in message.replace(GENERATE_KEY_COMMAND, "")  # the key itself is not logged


def test_weak_secret_fails_the_cold_start(env, moto_server):
    import boto3

    secrets_manager = boto3.client("secretsmanager", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    arn = secrets_manager.create_secret(Name=f"weak-{secrets.token_hex(4)}",
                                        SecretString=json.dumps({"master_key": "sk-master"}))["ARN"]
    env.delenv("LITELLM_MASTER_KEY", raising=False)
    env.setenv("MASTER_KEY_SECRET_ID", arn)
    with pytest.raises(WeakMasterKey, match="Secrets Manager secret MASTER_KEY_SECRET_ID"):
        start()


def test_weak_config_key_fails_the_cold_start(env):
    env.setenv("LITELLM_MASTER_KEY", strong_key())
    env.setenv("WEAK_FROM_ENV", "sk-12345")
    with pytest.raises(WeakMasterKey, match="general_settings.master_key"):
        start(with_master_key(CONFIG, "os.environ/WEAK_FROM_ENV"))


def test_dev_mode_accepts_a_weak_key_with_a_warning(env, caplog):
    env.setenv("LITELLM_MASTER_KEY", "sk-local-master")
    env.setenv("GATEWAY_DEV_MODE", "true")
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        runtime = start()
    assert runtime.config.current is not None
    assert any("GATEWAY_DEV_MODE" in r.getMessage() for r in caplog.records)


def test_strong_keys_start(env):
    env.setenv("LITELLM_MASTER_KEY", MASTER_KEY)
    key = strong_key()
    runtime = start(with_master_key(CONFIG, f"  {key}\n"))  # padding (a YAML block, a secret's newline)
    assert runtime.config_master_key() == key


def test_lambda_init_fails_and_logs_the_fix(tmp_path):
    """The cold start as Lambda runs it (import of the app): a non-zero exit with the message."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    child_env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                 "HF_HUB_OFFLINE": "1", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
                 "LITELLM_CONFIG_PATH": str(config), "GATEWAY_TMP_DIR": str(tmp_path / "tmp"),
                 "LITELLM_MASTER_KEY": "sk-master"}
    proc = subprocess.run([sys.executable, "-c", "import gateway.app"], env=child_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "WeakMasterKey: weak master key in LITELLM_MASTER_KEY" in proc.stderr
    assert GENERATE_KEY_COMMAND in proc.stderr


# -- the serving config's key over HTTP, and hot reload -------------------------------------------
@pytest.fixture()
def s3_config(stack, moto_server):
    """Upload variants of the stack's config; the original is back (and serving) afterwards."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")
    original = (FIXTURES / "gateway.yaml").read_text()

    def upload(text: str) -> None:
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=text.encode())
        stack.config.force_check()  # the next request looks at S3

    yield upload, original
    upload(original)
    stack.config.refresh()
    assert stack.config.current is not None and stack.config_master_key() is None


def admin_status(base: str, key: str) -> int:
    return httpx.get(base + "/key/list", headers={"authorization": f"Bearer {key}"}, timeout=20).status_code


def test_config_key_wins_then_a_weak_reload_is_refused(s3_config, stack, http_server, monkeypatch):
    upload, original = s3_config
    config_key = strong_key()
    monkeypatch.setenv("GATEWAY_TEST_CONFIG_MASTER_KEY", config_key)
    upload(with_master_key(original, "os.environ/GATEWAY_TEST_CONFIG_MASTER_KEY"))
    assert admin_status(http_server, config_key) == 200
    assert admin_status(http_server, MASTER_KEY) == 401  # LITELLM_MASTER_KEY is only the fallback

    upload(with_master_key(original, "sk-1234"))
    assert admin_status(http_server, "sk-1234") == 401  # refused: the last good config keeps serving
    assert admin_status(http_server, config_key) == 200
    ready = httpx.get(http_server + "/_health/ready", timeout=20).json()
    assert "weak master key in general_settings.master_key" in ready["checks"]["config"]["error"]
    assert "sk-1234" not in json.dumps(ready)

    upload(original)  # no master key in the config: the environment's key again
    assert admin_status(http_server, MASTER_KEY) == 200
    assert admin_status(http_server, config_key) == 401
