"""Config from S3 through /tmp, and hot reload by ETag: unchanged -> no download, changed -> reload,
broken -> the last good config keeps serving and readiness says why."""
from __future__ import annotations


import httpx
import pytest

from gateway.config.source import FileSource, S3Source
from gateway.config.store import ConfigStore
from gateway.runtime import build_engine
from tests.conftest import BUCKET, CONFIG_KEY, FIXTURES, MASTER_KEY
from tests.support.clock import Clock

GOOD = """
model_list:
  - model_name: first
    litellm_params: {model: openai/mock, api_key: x, mock_response: "v1"}
"""
GOOD_V2 = GOOD.replace("first", "second").replace('"v1"', '"v2"')


@pytest.fixture()
def s3(moto_server):
    import boto3

    return boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")


@pytest.fixture()
def store(s3, tmp_path, stack):
    s3.put_object(Bucket=BUCKET, Key="reload/config.yaml", Body=GOOD.encode())
    clock = Clock()
    source = S3Source(BUCKET, "reload/config.yaml", str(tmp_path))
    store = ConfigStore(source, build_engine, hot_reload=True, interval=60, clock=clock)
    assert store.load()
    store.clock = clock
    return store


def _served(store) -> list[str]:
    return store.current.runtime.catalog.names


def test_loads_through_tmp(store, tmp_path):
    assert _served(store) == ["first"]
    assert (tmp_path / "config" / "reload_config.yaml").read_text() == GOOD


def test_unchanged_etag_does_not_download(store):
    store.clock.now += 61
    store.refresh()
    assert store.downloads == 1 and store.reloads == 1


def test_not_checked_before_interval(store, s3):
    s3.put_object(Bucket=BUCKET, Key="reload/config.yaml", Body=GOOD_V2.encode())
    store.clock.now += 30
    store.refresh()
    assert _served(store) == ["first"]
    store.clock.now += 31
    store.refresh()
    assert _served(store) == ["second"]
    assert store.downloads == 2


def test_broken_config_keeps_last_good(store, s3):
    s3.put_object(Bucket=BUCKET, Key="reload/config.yaml", Body=b"model_list: [\n  - broken")
    store.clock.now += 61
    store.refresh()
    assert _served(store) == ["first"]
    status = store.status()
    assert status["ok"] and "not valid YAML" in status["error"]
    # the same broken version is not downloaded again on every check
    store.clock.now += 61
    store.refresh()
    assert store.downloads == 2
    # a fixed version is picked up and clears the error
    s3.put_object(Bucket=BUCKET, Key="reload/config.yaml", Body=GOOD_V2.encode())
    store.clock.now += 61
    store.refresh()
    assert _served(store) == ["second"] and store.status()["error"] is None


def test_missing_env_in_new_config_keeps_last_good(store, s3):
    s3.put_object(Bucket=BUCKET, Key="reload/config.yaml",
                  Body=GOOD_V2.replace("api_key: x", "api_key: os.environ/NEVER_SET_VAR").encode())
    store.clock.now += 61
    store.refresh()
    assert _served(store) == ["first"]
    assert "NEVER_SET_VAR" in store.status()["error"]


def test_deleted_object_keeps_last_good(store, s3):
    s3.delete_object(Bucket=BUCKET, Key="reload/config.yaml")
    store.clock.now += 61
    store.refresh()
    assert _served(store) == ["first"]
    assert "cannot HEAD" in store.status()["error"]


def test_file_source_reloads_on_change(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    clock = Clock()
    store = ConfigStore(FileSource(str(path)), build_engine, hot_reload=True, interval=5, clock=clock)
    assert store.load()
    path.write_text(GOOD_V2 + "\n# longer\n")
    clock.now += 6
    store.refresh()
    assert _served(store) == ["second"]


def test_bad_config_at_cold_start_is_503_not_a_crash(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model_list: 42\n")
    store = ConfigStore(FileSource(str(path)), build_engine, hot_reload=False, interval=60, clock=Clock())
    assert not store.load()
    from gateway.runtime import Runtime

    runtime = Runtime.__new__(Runtime)
    runtime.config = store
    with pytest.raises(Exception) as err:
        runtime.engine()
    assert err.value.status_code == 503 and "model_list" in err.value.message


def test_hot_reload_through_the_running_app(stack, http_server, s3):
    """End to end: a changed S3 object is served by the app after the next check; a broken one is
    reported in /_health/ready while the good one keeps answering."""
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    original = (FIXTURES / "gateway.yaml").read_text()
    try:
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=(original + "\n").replace(
            "  - model_name: mock\n", "  - model_name: hot-new\n    litellm_params: {model: openai/mock, api_key: x, mock_response: hot}\n  - model_name: mock\n").encode())
        stack.config.force_check()  # make the next request check now
        models = httpx.get(http_server + "/v1/models", headers=headers).json()["data"]
        assert "hot-new" in [m["id"] for m in models]

        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=b"model_list: {broken: [")
        stack.config.force_check()
        assert httpx.get(http_server + "/v1/models", headers=headers).status_code == 200
        ready = httpx.get(http_server + "/_health/ready")
        assert ready.status_code == 200  # still serving the last good config
        assert "not valid YAML" in ready.json()["checks"]["config"]["error"]
    finally:
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=original.encode())
        stack.config.force_check()
        httpx.get(http_server + "/v1/models", headers=headers)
    assert stack.config.status()["error"] is None


def test_due_says_when_refresh_would_call_s3(store, s3):
    """The middleware runs refresh() in a worker thread only when due, so S3 never blocks the loop."""
    assert not store.due()
    store.clock.now += 59
    assert not store.due()
    store.clock.now += 2
    assert store.due()
    store.refresh()
    assert not store.due()
