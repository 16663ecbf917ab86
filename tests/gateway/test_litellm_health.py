"""LiteLLM's GET /health (admin; probes only when asked, cached) and POST /key/health (any key), over
HTTP against the fake upstream; the gateway's own liveness and readiness routes are unchanged."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.anthropic.conftest import generate_key
from tests.conftest import MASTER_KEY

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


def _health(http_server: str, headers=ADMIN, **params) -> httpx.Response:
    return httpx.get(http_server + "/health", params=params, headers=headers, timeout=60)


def test_a_bare_health_call_probes_nothing(http_server, upstream):
    before = len(upstream.calls())
    response = _health(http_server)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["probed"] is False and body["healthy_count"] == body["unhealthy_count"] == 0
    assert len(upstream.calls()) == before


def test_a_model_is_probed_once_then_served_from_the_cache(http_server, upstream):
    before = len(upstream.calls("fake-ok"))
    first = _health(http_server, model="fake")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["healthy_count"] == 1 and body["unhealthy_count"] == 0 and body["cached"] is False
    [endpoint] = body["healthy_endpoints"]
    assert endpoint["model"] == "openai/fake-ok" and endpoint["model_id"] and endpoint["api_base"] == upstream.url
    assert "api_key" not in endpoint and "fake-upstream-key" not in first.text
    assert len(upstream.calls("fake-ok")) == before + 1
    again = _health(http_server, model="fake-alias")  # the alias names the same group: same cache entry
    assert again.json()["cached"] is True and again.json()["healthy_count"] == 1
    assert len(upstream.calls("fake-ok")) == before + 1


def test_an_unhealthy_model_is_a_503_without_the_providers_text(http_server, upstream):
    response = _health(http_server, model="fake-500")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["healthy_count"] == 0 and body["unhealthy_count"] == 1
    [endpoint] = body["unhealthy_endpoints"]
    assert endpoint["error"].startswith("the health check failed (") and endpoint["exception_status"] == 500
    assert "stack trace" not in response.text and "Traceback" not in response.text
    assert "fake-upstream-key" not in response.text


def test_a_probe_by_deployment_id(http_server):
    info = httpx.get(http_server + "/model/info", headers=ADMIN, timeout=10)
    mock_id = next(e["model_info"]["id"] for e in info.json()["data"] if e["model_name"] == "mock")
    response = _health(http_server, model_id=mock_id)
    assert response.status_code == 200, response.text
    assert [e["model_id"] for e in response.json()["healthy_endpoints"]] == [mock_id]


def test_the_cache_expires(http_server, upstream, monkeypatch):
    from gateway import settings

    monkeypatch.setenv("HEALTH_CHECK_CACHE_SECONDS", "1")
    settings.reset()
    before = len(upstream.calls("fake-500"))
    assert _health(http_server, model="primary").status_code == 503  # a group of its own: nothing cached yet
    assert _health(http_server, model="primary").json()["cached"] is True
    assert len(upstream.calls("fake-500")) == before + 1
    time.sleep(1.2)
    assert _health(http_server, model="primary").json()["cached"] is False
    assert len(upstream.calls("fake-500")) == before + 2


def test_probe_every_deployment(http_server, stack):
    response = _health(http_server, probe="true")
    assert response.status_code == 200, response.text
    body = response.json()
    deployments = len(stack.engine().provider_router.model_list)
    assert body["healthy_count"] + body["unhealthy_count"] == deployments
    assert body["healthy_count"] == len(body["healthy_endpoints"]) > 0
    assert _health(http_server).json()["cached"] is True  # a bare call now shows that probe


@pytest.mark.parametrize("params,status,param", [({"model": "no-such-model"}, 404, "model"),
                                                 ({"model_id": "no-such-id"}, 404, "model_id")])
def test_unknown_targets(http_server, params, status, param):
    response = _health(http_server, **params)
    assert response.status_code == status and response.json()["error"]["param"] == param


def test_health_is_admin_only(http_server):
    key = generate_key(http_server, models=["fake"])
    response = _health(http_server, headers={"authorization": f"Bearer {key}"}, model="fake")
    assert response.status_code == 403
    assert _health(http_server, headers={}).status_code == 401


def test_key_health(http_server):
    key = generate_key(http_server, models=["fake"])
    response = httpx.post(http_server + "/key/health", headers={"authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"key": "healthy", "logging_callbacks": None}
    assert httpx.post(http_server + "/key/health", timeout=10).status_code == 401
    assert httpx.post(http_server + "/key/health", headers={"authorization": "Bearer sk-unknown-0000"},
                      timeout=10).status_code == 401


@pytest.mark.parametrize("path", ["/_health/live", "/health/liveliness", "/health/liveness", "/_health/ready",
                                  "/health/readiness"])
def test_liveness_and_readiness_are_unchanged(http_server, path):
    response = httpx.get(http_server + path, timeout=10)
    assert response.status_code == 200, response.text
