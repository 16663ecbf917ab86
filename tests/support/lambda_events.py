"""Real Lambda event shapes for the three HTTP front doors, and an httpx transport that turns an
SDK's HTTP request into such an event, calls the handler, and turns the result back.

With the transport, the official ``openai`` SDK talks to the Lambda handler exactly as it would
through API Gateway or a Function URL, including the buffered SSE body of a stream.
"""
from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any, Callable, Literal
from urllib.parse import parse_qsl

import httpx

EVENTS = Path(__file__).resolve().parent.parent.parent / "events"
Front = Literal["http-api", "rest", "function-url"]


class FakeContext:
    function_name = "llm-gateway"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:llm-gateway"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _body(body: bytes | str | None, as_base64: bool) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    raw = body.encode() if isinstance(body, str) else body
    if as_base64:
        return base64.b64encode(raw).decode(), True
    return raw.decode(), False


def http_api_event(method: str, path: str, *, body: bytes | str | None = None, headers: dict[str, str] | None = None,
                   query: str = "", as_base64: bool = False, request_id: str | None = None,
                   domain: str = "abc123.execute-api.us-east-1.amazonaws.com") -> dict[str, Any]:
    """API Gateway HTTP API, payload format 2.0 (a Function URL event has the same shape)."""
    text, encoded = _body(body, as_base64)
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    headers.setdefault("host", domain)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": dict(parse_qsl(query)) or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": headers.get("user-agent", "test")},
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795420800000,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def function_url_event(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    event = http_api_event(method, path, domain="abcdefghijklmnop.lambda-url.us-east-1.on.aws", **kwargs)
    event["routeKey"] = "$default"
    event["requestContext"].pop("stage")
    event["requestContext"]["stage"] = "$default"
    event["requestContext"]["authorizer"] = None
    return event


def rest_event(method: str, path: str, *, body: bytes | str | None = None, headers: dict[str, str] | None = None,
               query: str = "", as_base64: bool = False, request_id: str | None = None) -> dict[str, Any]:
    """API Gateway REST API, payload format 1.0."""
    text, encoded = _body(body, as_base64)
    headers = dict(headers or {})
    headers.setdefault("Host", "abc123.execute-api.us-east-1.amazonaws.com")
    params = dict(parse_qsl(query)) or None
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": params,
        "multiValueQueryStringParameters": {k: [v] for k, v in params.items()} if params else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": "/prod" + path,
            "stage": "prod",
            "requestId": request_id or str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "test"},
            "accountId": "123456789012",
            "apiId": "abc123",
            "protocol": "HTTP/1.1",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


BUILDERS: dict[Front, Callable[..., dict[str, Any]]] = {
    "http-api": http_api_event,
    "rest": rest_event,
    "function-url": function_url_event,
}


def load_sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def response_headers(result: dict[str, Any]) -> dict[str, str]:
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers[k.lower()] = ",".join(values)
    return headers


def response_body(result: dict[str, Any]) -> bytes:
    body = result.get("body") or ""
    return base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()


class LambdaTransport(httpx.BaseTransport):
    """httpx transport: request -> Lambda event -> handler -> response."""

    response_class: Any = httpx.Response

    def __init__(self, handler: Callable[[dict, Any], dict], front: Front = "http-api") -> None:
        self.handler = handler
        self.front = front
        self.events: list[dict[str, Any]] = []

    def handle_request(self, request: Any) -> Any:
        content = request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"content-length", "host"}}
        event = BUILDERS[self.front](request.method, request.url.path, body=content or None, headers=headers,
                                     query=request.url.query.decode())
        self.events.append(copy.deepcopy(event))
        result = self.handler(event, FakeContext())
        return self.response_class(status_code=result["statusCode"], headers=response_headers(result),
                                   content=response_body(result), request=request)


def httpx2_lambda_transport(handler: Callable[[dict, Any], dict], front: Front = "http-api") -> Any:
    """The same transport for SDKs built on ``httpx2`` (the ``anthropic`` SDK refuses httpx clients)."""
    import httpx2

    class Httpx2LambdaTransport(LambdaTransport, httpx2.BaseTransport):
        response_class = httpx2.Response

    return Httpx2LambdaTransport(handler, front)


def load_handler(relative_path: str, module_name: str):
    """Import a Lambda handler file (``functions/...``) the way Lambda does: by path, once."""
    import importlib.util
    import sys

    path = EVENTS.parent / relative_path
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.handler
