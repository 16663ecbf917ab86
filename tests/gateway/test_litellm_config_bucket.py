"""LiteLLM's names for the config in a bucket (``LITELLM_CONFIG_BUCKET_NAME`` / ``_OBJECT_KEY`` /
``_TYPE``, read by its ``proxy_server.py``) work as aliases of the gateway's ``CONFIG_S3_*``; a
bucket type the gateway cannot read is a load error that names the variable, never a silent
fallback."""
from __future__ import annotations

import pytest

from gateway.config.source import S3Source, UnsupportedSource
from gateway.config.store import ConfigStore
from gateway.runtime import build_engine, config_source
from gateway.settings import Settings
from tests.conftest import BUCKET
from tests.support.clock import Clock

CONFIG = """
model_list:
  - model_name: from-litellm-names
    litellm_params: {model: openai/mock, api_key: x, mock_response: "ok"}
"""


@pytest.fixture()
def litellm_names(monkeypatch, moto_server, stack):
    import boto3

    boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1").put_object(
        Bucket=BUCKET, Key="litellm/proxy_config.yaml", Body=CONFIG.encode())
    for name in ("CONFIG_S3_BUCKET", "CONFIG_S3_KEY", "LITELLM_CONFIG_PATH", "BATCH_S3_BUCKET", "RESPONSES_S3_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LITELLM_CONFIG_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("LITELLM_CONFIG_BUCKET_OBJECT_KEY", "litellm/proxy_config.yaml")
    return monkeypatch


def test_the_config_loads_from_litellm_s_bucket_variables(litellm_names, tmp_path):
    litellm_names.setenv("GATEWAY_TMP_DIR", str(tmp_path))
    source = config_source(Settings())
    assert isinstance(source, S3Source) and source.location == f"s3://{BUCKET}/litellm/proxy_config.yaml"
    store = ConfigStore(source, build_engine, hot_reload=False, interval=60, clock=Clock())
    assert store.load(), store.last_error
    assert store.current.runtime.catalog.names == ["from-litellm-names"]


def test_s3_is_litellm_s_default_type_and_the_gateway_s_names_win(litellm_names):
    litellm_names.setenv("LITELLM_CONFIG_BUCKET_TYPE", "S3")
    assert isinstance(config_source(Settings()), S3Source)
    litellm_names.setenv("CONFIG_S3_BUCKET", "gateway-own-bucket")
    litellm_names.setenv("CONFIG_S3_KEY", "config/config.yaml")
    assert config_source(Settings()).location == "s3://gateway-own-bucket/config/config.yaml"


def test_a_gcs_bucket_is_refused_by_name(litellm_names):
    litellm_names.setenv("LITELLM_CONFIG_BUCKET_TYPE", "gcs")
    source = config_source(Settings())
    assert isinstance(source, UnsupportedSource)
    store = ConfigStore(source, build_engine, hot_reload=False, interval=60, clock=Clock())
    assert not store.load()
    assert "LITELLM_CONFIG_BUCKET_TYPE='gcs'" in store.last_error and "S3" in store.last_error


def test_batch_and_stored_responses_use_the_same_bucket(litellm_names):
    from gateway.batch import settings as batch_settings
    from gateway.responses import settings as responses_settings

    assert batch_settings.get().bucket == BUCKET
    assert responses_settings.get().bucket == BUCKET
