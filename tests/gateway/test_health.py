"""Liveness needs nothing; readiness names what is failing."""
from __future__ import annotations

import httpx

from gateway.runtime import Runtime
from gateway.settings import Settings


def test_live_and_aliases(http_server):
    for path in ("/_health/live", "/health/liveliness"):
        resp = httpx.get(http_server + path)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_ready_with_checks(http_server):
    for path in ("/_health/ready", "/health/readiness"):
        body = httpx.get(http_server + path).json()
        assert body["status"] == "ready"
        assert body["checks"]["config"]["ok"] and body["checks"]["s3"]["ok"]


def test_ready_names_unreachable_dynamodb(stack, monkeypatch):
    settings = Settings.from_env()
    runtime = Runtime(Settings(**{**settings.__dict__, "table_name": "no-such-table"}))
    runtime.config = stack.config
    checks = runtime.readiness()
    assert checks["dynamodb"]["ok"] is False
    assert "ResourceNotFound" in checks["dynamodb"]["error"]


def test_no_config_means_503_everywhere_but_live(stack, http_server):
    """A config that never loaded: the API answers 503 with the reason, readiness fails, liveness passes."""

    saved, saved_error = stack.config.current, stack.config.last_error
    stack.config.current, stack.config.last_error = None, "config is invalid: model_list: Field required"
    stack.config.schedule.mark_checked()  # no cold retry for 5 s, longer than this test
    try:
        api = httpx.post(http_server + "/v1/chat/completions", headers={"authorization": "Bearer sk-test-master-0123456789"},
                         json={"model": "fake", "messages": [{"role": "user", "content": "x"}]})
        assert api.status_code == 503
        assert api.json()["error"]["code"] == "config_unavailable"
        assert "model_list: Field required" in api.json()["error"]["message"]
        ready = httpx.get(http_server + "/_health/ready")
        assert ready.status_code == 503 and ready.json()["failing"] == ["config"]
        assert httpx.get(http_server + "/_health/live").status_code == 200
    finally:
        stack.config.current, stack.config.last_error = saved, saved_error
        stack.config.force_check()
