"""Regenerate the sample events in this folder from `sam local generate-event`.

Why a script: the samples should stay the real shapes AWS sends (SAM's templates), only edited
where a gateway request needs it (path, headers, body), so they can be rebuilt after a SAM CLI
update instead of drifting by hand. Run: `python events/generate.py` (SAM_CLI picks the binary;
default .venv-sam/bin/sam). Needs no Docker and no AWS credentials.

The Authorization header uses `MASTER_KEY` below, an example key strong enough for a deployed
function (which refuses weak master keys); make it the function's master key to replay them.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAM = os.environ.get("SAM_CLI", str(ROOT / ".venv-sam" / "bin" / "sam"))
MASTER_KEY = "sk-events-example-7Qm2vX9pL4tR8wZ1nK6"  # a strong example key: a deployed function refuses weak ones
CHAT = {
    "model": "mock",
    "messages": [{"role": "user", "content": "Say hello in five words."}],
    "max_tokens": 32,
}
HTTP_API_DOMAIN = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
URL_ID = "abcdefghijklmnopqrstuvwxyz234567"
FUNCTION_URL_DOMAIN = f"{URL_ID}.lambda-url.us-east-1.on.aws"


def generate(*args: str) -> dict:
    """One event from `sam local generate-event` (runs in a temp cwd so no samconfig is picked up)."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    out = subprocess.run(
        [SAM, "local", "generate-event", *args], check=True, capture_output=True, text=True, env=env, cwd="/tmp"
    )
    return json.loads(out.stdout)


def _json_headers(auth: bool = True) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "application/json", "user-agent": "OpenAI/Python 2.54.0"}
    if auth:
        headers["authorization"] = f"Bearer {MASTER_KEY}"
    return headers


def http_api(method: str, path: str, body: dict | None, *, b64: bool, request_id: str) -> dict:
    """API Gateway HTTP API, payload format 2.0 (what the template's HttpApi sends)."""
    event = generate("apigateway", "http-api-proxy", "--method", method, "--path", path.lstrip("/"))
    event.pop("cookies", None)
    event.pop("pathParameters", None)
    event.pop("stageVariables", None)
    event["rawPath"] = path
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["headers"] = {**_json_headers(auth=body is not None or path.startswith("/v1")), "host": HTTP_API_DOMAIN}
    ctx = event["requestContext"]
    ctx.pop("authentication", None)
    ctx.pop("authorizer", None)
    ctx.update({"apiId": HTTP_API_DOMAIN.split(".")[0], "domainName": HTTP_API_DOMAIN,
                "domainPrefix": HTTP_API_DOMAIN.split(".")[0], "requestId": request_id})
    ctx["http"].update({"method": method, "path": path, "sourceIp": "203.0.113.10", "userAgent": "OpenAI/Python 2.54.0"})
    _set_body(event, body, b64=b64)
    return event


def function_url(method: str, path: str, body: dict | None, *, b64: bool, request_id: str) -> dict:
    """Lambda Function URL: payload 2.0 like the HTTP API, with a lambda-url domain and no stage."""
    event = http_api(method, path, body, b64=b64, request_id=request_id)
    event["headers"]["host"] = FUNCTION_URL_DOMAIN
    event["headers"]["x-amzn-trace-id"] = "Root=1-5f84c7a9-0e5b1e1a2b3c4d5e6f708192"
    ctx = event["requestContext"]
    ctx.update({"accountId": "anonymous", "apiId": URL_ID, "domainName": FUNCTION_URL_DOMAIN, "domainPrefix": URL_ID})
    return event


def rest_api(method: str, path: str, body: dict | None, *, b64: bool, request_id: str) -> dict:
    """API Gateway REST API proxy integration, payload format 1.0."""
    event = generate("apigateway", "aws-proxy", "--method", method, "--path", path.lstrip("/"),
                     "--resource", "/{proxy+}")
    headers = {**_json_headers(auth=body is not None or path.startswith("/v1")),
               "Host": "1234567890.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["path"] = path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    event["queryStringParameters"] = None
    event["multiValueQueryStringParameters"] = None
    event["stageVariables"] = None
    ctx = event["requestContext"]
    ctx.update({"path": f"/{ctx.get('stage', 'prod')}{path}", "httpMethod": method, "requestId": request_id})
    _set_body(event, body, b64=b64)
    return event


def _set_body(event: dict, body: dict | None, *, b64: bool) -> None:
    if body is None:
        event["body"] = None
        event["isBase64Encoded"] = False
        return
    raw = json.dumps(body, separators=(",", ":"))
    event["body"] = base64.b64encode(raw.encode()).decode() if b64 else raw
    event["isBase64Encoded"] = b64


def s3_put() -> dict:
    """S3 ObjectCreated:Put of an OpenAI Batch-format JSONL file (for the batch issue)."""
    event = generate("s3", "put", "--bucket", "llm-gateway-configbucket-example", "--key", "batch/input/team-a/requests.jsonl")
    obj = event["Records"][0]["s3"]["object"]
    obj.update({"size": 412, "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"})
    return event


def sqs_chat() -> dict:
    """SQS batch of two messages, each one chat request in the OpenAI Batch line format."""
    event = generate("sqs", "receive-message", "--queue-name", "llm-gateway-requests")
    first = event["Records"][0]
    records = []
    for i in (1, 2):
        rec = copy.deepcopy(first)
        rec["messageId"] = f"059f36b4-87a3-44ab-83d2-66197591097{i}"
        rec["body"] = json.dumps({"custom_id": f"request-{i}", "method": "POST", "url": "/v1/chat/completions",
                                  "body": {**CHAT, "messages": [{"role": "user", "content": f"Question {i}"}]}})
        records.append(rec)
    event["Records"] = records
    return event


def schedule() -> dict:
    """EventBridge scheduled event (the router calibration function's trigger)."""
    event = generate("cloudwatch", "scheduled-event", "--region", "us-east-1")
    event["resources"] = ["arn:aws:events:us-east-1:123456789012:rule/llm-gateway-RouterCalibrationFunctionCalibrate"]
    return event


def all_events() -> dict[str, dict]:
    stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    return {
        "http-api-v2-chat.json": http_api("POST", "/v1/chat/completions", CHAT, b64=False, request_id="http-chat-1"),
        "http-api-v2-chat-base64.json": http_api("POST", "/v1/chat/completions", CHAT, b64=True, request_id="http-chat-2"),
        "http-api-v2-chat-stream.json": http_api("POST", "/v1/chat/completions", stream, b64=False, request_id="http-stream-1"),
        "http-api-v2-models.json": http_api("GET", "/v1/models", None, b64=False, request_id="http-models-1"),
        "http-api-v2-health-live.json": http_api("GET", "/_health/live", None, b64=False, request_id="http-health-1"),
        "rest-v1-chat.json": rest_api("POST", "/v1/chat/completions", CHAT, b64=False, request_id="rest-chat-1"),
        "rest-v1-health-live.json": rest_api("GET", "/_health/live", None, b64=False, request_id="rest-health-1"),
        "function-url-chat.json": function_url("POST", "/v1/chat/completions", CHAT, b64=True, request_id="url-chat-1"),
        "function-url-health-live.json": function_url("GET", "/_health/live", None, b64=False, request_id="url-health-1"),
        "s3-put-batch.json": s3_put(),
        "sqs-chat.json": sqs_chat(),
        "schedule-router-calibration.json": schedule(),
    }


def main() -> int:
    for name, event in all_events().items():
        (HERE / name).write_text(json.dumps(event, indent=2) + "\n")
        print(f"wrote events/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
