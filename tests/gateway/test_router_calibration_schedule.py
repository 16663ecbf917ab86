"""The scheduled calibration function (functions/router_calibration) on its EventBridge event,
against the session's gateway (same config, table and artifacts as the API function)."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import MASTER_KEY
from tests.support.lambda_events import EVENTS, FakeContext, load_handler


@pytest.fixture(scope="module")
def calibration_handler(stack):
    return load_handler("functions/router_calibration/handler.py", "router_calibration_handler")


def _scheduled() -> dict:
    return json.loads((EVENTS / "schedule-router-calibration.json").read_text())


def test_a_scheduled_dry_run_reports_on_the_logged_decisions(calibration_handler, http_server, monkeypatch):
    for i in range(100):
        response = httpx.post(http_server + "/v1/chat/completions", headers={"authorization": f"Bearer {MASTER_KEY}"},
                              json={"model": "auto", "messages": [{"role": "user", "content": f"Question {i}: why?"}]},
                              timeout=30)
        assert response.status_code == 200, response.text
    monkeypatch.setenv("ROUTER_CALIBRATION_ROUTER", "auto")
    monkeypatch.setenv("ROUTER_CALIBRATION_SINCE", "1h")
    monkeypatch.setenv("ROUTER_CALIBRATION_DRY_RUN", "true")
    result = calibration_handler(_scheduled(), FakeContext())
    assert result["calibrated"] is False and result["written"] is False
    assert result["samples"] >= 100 and result["router"] == "auto"
    assert abs(result["fraction_after"] - 0.5) <= 0.02


def test_a_refusal_is_reported_not_raised(calibration_handler, monkeypatch):
    monkeypatch.setenv("ROUTER_CALIBRATION_ROUTER", "auto-rules")
    result = calibration_handler(_scheduled(), FakeContext())
    assert result == {"calibrated": False, "router": "auto-rules", "reason": result["reason"]}
    assert "threshold router" in result["reason"]
