"""Shared fixtures: moto's server and the fake upstream on loopback, the gateway stack wired to
them through environment variables only (as in AWS), the Lambda handler and a uvicorn server."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MASTER_KEY = "sk-test-master-0123456789"
BUCKET = "gateway-test-bucket"
TABLE = "gateway-test-table"
CONFIG_KEY = "config/config.yaml"
ROUTER_PREFIX = "router/"

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # litellm's bundled list, not fetched
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Settings are read once per process (as on Lambda); a test starts from the environment as the
    previous test's monkeypatch left it, so read it again."""
    from gateway import settings

    settings.reset()


@pytest.fixture(scope="session")
def moto_server():
    from gateway_dev import devstack

    server = devstack.MotoServer.start()
    os.environ.update(server.environ())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def upstream():
    from tests.support.upstream import FakeUpstream

    fake = FakeUpstream(slow_seconds=2.0).start()
    os.environ["FAKE_UPSTREAM_URL"] = fake.url
    yield fake
    fake.stop()


def _reset_gateway_caches() -> None:
    from gateway import aws, runtime, settings

    settings.reset()
    runtime.reset()
    aws.reset()


@pytest.fixture(scope="session")
def stack(moto_server, upstream):
    """The gateway configured from S3 on moto (hot reload on, long interval: tests force checks)."""
    from gateway_dev import devstack

    devstack.create_bucket(BUCKET, moto_server.endpoint)
    devstack.create_table(TABLE, moto_server.endpoint)
    devstack.upload_file(BUCKET, CONFIG_KEY, FIXTURES / "gateway.yaml", moto_server.endpoint)
    devstack.upload_dir(BUCKET, ROUTER_PREFIX + "default/", ROOT / "router" / "artifacts" / "default", moto_server.endpoint)
    os.environ.update(
        LITELLM_MASTER_KEY=MASTER_KEY,
        CONFIG_S3_BUCKET=BUCKET,
        CONFIG_S3_KEY=CONFIG_KEY,
        CONFIG_HOT_RELOAD="true",
        CONFIG_SYNC_INTERVAL="3600",
        LLMROUTER_MODEL_S3_BUCKET=BUCKET,
        LLMROUTER_MODEL_S3_KEY=ROUTER_PREFIX,
        GATEWAY_TABLE=TABLE,
        GATEWAY_MAX_BODY_BYTES=str(256 * 1024),
    )
    os.environ.pop("LITELLM_CONFIG_PATH", None)
    _reset_gateway_caches()
    from gateway.runtime import get_runtime

    runtime = get_runtime()
    assert runtime.config.current is not None, runtime.config.last_error
    return runtime


@pytest.fixture(scope="session")
def lambda_handler(stack):
    """``functions/gateway/app.py`` imported as Lambda would, after the stack's environment is set."""
    from tests.support.lambda_events import load_handler

    return load_handler("functions/gateway/app.py", "gateway_lambda_handler")


@pytest.fixture(scope="session")
def http_server(stack):
    """The same app under uvicorn on a free loopback port (the `make run` path)."""
    import uvicorn

    from gateway_dev import devstack
    from gateway.app import app

    port = devstack.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture(scope="session")
def base_url(http_server) -> str:
    return http_server + "/v1"


@pytest.fixture()
def openai_client(base_url):
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=MASTER_KEY, max_retries=0, timeout=20)
