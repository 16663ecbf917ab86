"""Requests through the slimmed, built tree: python3.12 with only the function dir, the layers and a
boto3-only stand-in for the Lambda runtime's SDK on sys.path (not the project venv), configured
the way template.yaml configures the function (config from S3, master key from Secrets Manager,
the DynamoDB table), against moto's server. Nothing needed may have been cut by the slimming."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.sam.conftest import PYTHON312, ROOT, run_sam

pytestmark = pytest.mark.sam

RUNNER = Path(__file__).resolve().parent / "lambda_runner.py"
APP = ROOT / "functions" / "gateway" / "app.py"
MASTER_KEY = "sk-events-example-7Qm2vX9pL4tR8wZ1nK6"  # what the events in events/ carry (strong: a function refuses weak keys)
MOCK_TEXT = "Hello from the gateway's offline mock model."  # config/local.yaml's `mock`
API_EVENTS = sorted(p.name for p in (ROOT / "events").glob("*.json") if p.name.startswith(("http-api", "rest-v1", "function-url")))
# The python3.12 Lambda runtime ships these; the deps layer leaves them out.
RUNTIME_SDK = ["boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py"]


@pytest.fixture(scope="session")
def runtime_sdk_dir(tmp_path_factory) -> Path:
    """boto3 and its dependencies only, standing in for the runtime's /var/lang site-packages."""
    import boto3

    site = Path(boto3.__file__).resolve().parent.parent
    target = tmp_path_factory.mktemp("runtime-sdk")
    for name in RUNTIME_SDK:
        src = site / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, target / name)
    return target


def _generated_raw_events() -> dict[str, dict]:
    """Events straight from `sam local generate-event`, only the path and method chosen."""
    http = run_sam("local", "generate-event", "apigateway", "http-api-proxy", "--method", "GET", "--path", "_health/live", cwd=Path("/tmp"))
    rest = run_sam("local", "generate-event", "apigateway", "aws-proxy", "--method", "GET", "--path", "_health/live", cwd=Path("/tmp"))
    assert http.returncode == 0 and rest.returncode == 0, http.stderr + rest.stderr
    return {"generated-http-api-health": json.loads(http.stdout), "generated-rest-health": json.loads(rest.stdout)}


@pytest.fixture(scope="session")
def function_env(moto_server, tmp_path_factory) -> dict[str, str]:
    """The environment template.yaml gives the function, pointing at moto: config in S3, the master
    key in Secrets Manager, the DynamoDB table. Nothing else from this process leaks in."""
    from gateway_dev import devstack
    import boto3

    suffix = uuid.uuid4().hex[:8]
    bucket, table = f"sam-test-config-{suffix}", f"sam-test-table-{suffix}"
    devstack.create_bucket(bucket, moto_server.endpoint)
    devstack.create_table(table, moto_server.endpoint)
    devstack.upload_file(bucket, "config/config.yaml", ROOT / "config" / "local.yaml", moto_server.endpoint)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    secret_arn = secrets.create_secret(Name=f"llm-gateway-master-{suffix}",
                                       SecretString=json.dumps({"master_key": MASTER_KEY}))["ARN"]
    work = tmp_path_factory.mktemp("function-env")
    return {
        "PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "TMPDIR": str(work),
        **moto_server.environ(),
        # as template.yaml's Globals set them
        "POWERTOOLS_SERVICE_NAME": "llm-gateway", "POWERTOOLS_METRICS_NAMESPACE": "LLMGateway",
        "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
        "CONFIG_S3_BUCKET": bucket, "CONFIG_S3_KEY": "config/config.yaml", "CONFIG_HOT_RELOAD": "true",
        "CONFIG_SYNC_INTERVAL": "60", "GATEWAY_TABLE": table, "MASTER_KEY_SECRET_ID": secret_arn,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1",
        # no X-Ray daemon here; Lambda's Tracing: Active is not emulated
        "POWERTOOLS_TRACE_DISABLED": "true", "GATEWAY_TMP_DIR": str(work / "gateway-tmp"),
    }


@pytest.fixture(scope="session")
def lambda_run(sam_build, runtime_sdk_dir, function_env, tmp_path_factory) -> dict[str, Any]:
    if not APP.exists():
        pytest.skip("functions/gateway/app.py does not exist yet (the handler under test)")
    events = {name: json.loads((ROOT / "events" / name).read_text()) for name in API_EVENTS}
    events.update(_generated_raw_events())
    no_auth = copy.deepcopy(events["http-api-v2-chat.json"])
    del no_auth["headers"]["authorization"]
    events["no-auth"] = no_auth

    build = sam_build.build_dir
    work = tmp_path_factory.mktemp("lambda-run")
    spec = {
        # Lambda's order: /var/task, then the layers under /opt/python, then the runtime's own packages.
        "sys_path": [str(build / "GatewayFunction"), str(sam_build.twin_python),
                     str(build / "GatewayLayer" / "python"), str(runtime_sdk_dir)],
        "module": "app", "handler": "handler", "events": events,
    }
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run([PYTHON312, "-I", "-S", str(RUNNER), str(spec_path)], env=function_env, cwd=work,
                          capture_output=True, text=True, timeout=180)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
    assert proc.returncode == 0 and marker, f"handler run failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
    result = json.loads(marker[-1][len("@@RESULT@@"):])
    print(f"\nslimmed tree: handler module import {result['import_seconds']:.2f} s (python3.12, x86_64 twin)")
    return result


def _json(result: dict) -> dict:
    return json.loads(result["body"])


def test_only_the_built_tree_and_the_runtime_sdk_are_imported(lambda_run) -> None:
    modules = lambda_run["modules"]
    assert not modules["foreign"], modules["foreign"][:10]
    assert modules["count"] > 500
    assert "runtime-sdk" in (lambda_run["boto3"] or ""), lambda_run["boto3"]


def test_every_imported_module_has_bytecode(lambda_run) -> None:
    """Keeps layers/deps/Makefile's PROXY_PYC list honest: a module a request imports without .pyc
    costs compile time on every cold start (Lambda cannot write __pycache__)."""
    missing = [m for m in lambda_run["modules"]["missing_pyc"] if not m.startswith("app.py")]
    assert not missing, missing


@pytest.mark.parametrize("name", [n for n in API_EVENTS if "health" in n] + ["generated-http-api-health", "generated-rest-health"])
def test_health_events(lambda_run, name) -> None:
    result = lambda_run["results"][name]
    assert result["statusCode"] == 200, result


@pytest.mark.parametrize("name", [n for n in API_EVENTS if "chat" in n and "stream" not in n])
def test_chat_events_answer_with_the_mock_model(lambda_run, name) -> None:
    result = lambda_run["results"][name]
    assert result["statusCode"] == 200, result
    body = _json(result)
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == MOCK_TEXT
    assert body["usage"]["total_tokens"] > 0


def test_stream_event_is_buffered_sse(lambda_run) -> None:
    result = lambda_run["results"]["http-api-v2-chat-stream.json"]
    assert result["statusCode"] == 200, result
    assert result["headers"]["content-type"].startswith("text/event-stream")
    lines = [line for line in result["body"].splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == MOCK_TEXT
    assert any(c.get("usage") for c in chunks)


def test_models_event_lists_the_mock_model(lambda_run) -> None:
    result = lambda_run["results"]["http-api-v2-models.json"]
    assert result["statusCode"] == 200, result
    assert "mock" in {m["id"] for m in _json(result)["data"]}


def test_missing_key_is_rejected_in_openai_shape(lambda_run) -> None:
    result = lambda_run["results"]["no-auth"]
    assert result["statusCode"] == 401, result
    assert set(_json(result)["error"]) >= {"message", "type", "code"}


RUN_SH = ROOT / "functions" / "gateway" / "run.sh"


def test_streaming_function_script_serves_the_app_with_uvicorn(sam_build, runtime_sdk_dir, function_env, tmp_path) -> None:
    """StreamingFunction's run.sh (what the Web Adapter starts) serves the built tree under uvicorn
    and streams SSE chunks. The adapter itself is AWS's binary and is not emulated."""
    if not RUN_SH.exists():
        pytest.skip("functions/gateway/run.sh not written yet (StreamingFunction's start script)")
    import httpx

    from gateway_dev import devstack

    built_script = sam_build.build_dir / "StreamingFunction" / "run.sh"
    assert built_script.exists() and os.access(built_script, os.X_OK), "run.sh must be executable in the build"
    build = sam_build.build_dir
    port = devstack.free_port()
    env = {
        **function_env,
        "PATH": f"{Path(PYTHON312).parent}:/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(build / "StreamingFunction"),
        "LAMBDA_RUNTIME_DIR": str(runtime_sdk_dir),  # stands in for the runtime's boto3
        # on Lambda all layers are merged into /opt/python; here they are separate folders
        "PYTHONPATH": ":".join([str(sam_build.twin_python), str(build / "GatewayLayer" / "python"),
                                str(build / "StreamingDepsLayer" / "python")]),
        "PORT": str(port), "AWS_LWA_PORT": str(port),
    }
    log = (tmp_path / "uvicorn.log").open("w")
    proc = subprocess.Popen(["/bin/bash", str(built_script)], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "uvicorn.log").read_text()[-3000:]
            try:
                if httpx.get(base + "/_health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not become ready"
            time.sleep(0.2)
        body = {"model": "mock", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        lines = []
        with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=30,
                          headers={"authorization": f"Bearer {MASTER_KEY}"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]" and len(lines) > 2
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
