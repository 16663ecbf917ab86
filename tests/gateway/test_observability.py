"""Logs, metrics and traces: correlation ids, no prompt text or keys, EMF by model, X-Ray subsegments."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import MASTER_KEY

ROOT = Path(__file__).resolve().parents[2]
SECRET_PROMPT = "my-very-secret-prompt-text-42"


def test_client_request_id_is_echoed_and_unsafe_ones_replaced(http_server):
    resp = httpx.get(http_server + "/_health/live", headers={"x-request-id": "client-abc.123"})
    assert resp.headers["x-request-id"] == "client-abc.123"
    resp = httpx.get(http_server + "/_health/live", headers={"x-request-id": "bad id with spaces"})
    assert resp.headers["x-request-id"] != "bad id with spaces" and len(resp.headers["x-request-id"]) == 36


def _run_handler_in_subprocess(extra_env: dict[str, str], script: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **extra_env, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / "gateway"), str(ROOT)])}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)


_INVOKE = f"""
import json, sys
from tests.support import lambda_events as ev
import app
body = json.dumps({{"model": "fake", "messages": [{{"role": "user", "content": "{SECRET_PROMPT}"}}]}})
event = ev.http_api_event("POST", "/v1/chat/completions", body=body,
                          headers={{"authorization": "Bearer {MASTER_KEY}"}}, request_id="req-obs-1")
result = app.handler(event, ev.FakeContext())
print("STATUS", result["statusCode"], file=sys.stderr)
"""


def test_logs_have_correlation_id_and_no_prompt_or_key(stack):
    proc = _run_handler_in_subprocess({"POWERTOOLS_METRICS_DISABLED": "false"}, _INVOKE)
    assert "STATUS 200" in proc.stderr, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert SECRET_PROMPT not in output
    assert MASTER_KEY not in output
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    access = [l for l in lines if l.get("message") == "request"]
    assert access and access[-1]["correlation_id"] == "req-obs-1" and access[-1]["status"] == 200
    emf = [l for l in lines if "_aws" in l]
    assert emf, "no EMF metrics line"
    metrics = emf[-1]
    assert metrics["model"] == "fake"
    assert metrics["Requests"] in (1.0, [1.0]) and metrics["PromptTokens"] in (11.0, [11.0])
    assert "Latency" in metrics and "Errors" not in metrics


def test_xray_subsegments_and_annotations_when_tracing_is_on(stack):
    """With tracing on (as in Lambda), the X-Ray SDK emits subsegments for config load and the
    provider call with model/status annotations. A UDP socket stands in for the X-Ray daemon."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    port = daemon.getsockname()[1]
    env = {
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "gateway"),
        "AWS_LAMBDA_FUNCTION_NAME": "llm-gateway",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    proc = _run_handler_in_subprocess(env, _INVOKE)
    assert "STATUS 200" in proc.stderr, proc.stderr[-2000:]
    documents = []
    try:
        while True:
            packet = daemon.recv(65536).decode()
            documents.append(json.loads(packet.split("\n", 1)[1]))
    except socket.timeout:
        pass
    daemon.close()
    names = {d.get("name") for d in documents}
    assert "provider.call" in names, names
    provider = next(d for d in documents if d.get("name") == "provider.call")
    assert provider["annotations"]["model"] == "fake"
    handler = [d for d in documents if d.get("name", "").startswith("## ")]
    assert handler and handler[-1]["annotations"].get("status") == 200
    assert SECRET_PROMPT not in json.dumps(documents)
