"""One pure-ASGI middleware for what every request needs (cheaper than Starlette's BaseHTTPMiddleware):

- a request id: API Gateway's / the Function URL's ``requestContext.requestId`` when Mangum runs us,
  else a sane client ``x-request-id``, else a new one; echoed as ``x-request-id`` and used as the
  log correlation id;
- body size limit from ``Content-Length`` (413 before anything is read);
- the config hot-reload check;
- an access log line (no prompt text, no key) and the last-resort 500 for unexpected errors,
  with the request id and no internals.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import errors
from gateway.anthropic_messages.errors import from_gateway_error, is_anthropic_path
from gateway.observability import logger
from gateway.runtime import get_runtime

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_NO_REFRESH = ("/_health/live", "/health/liveliness", "/health/liveness")


def request_id_for(scope: Scope) -> str:
    event = scope.get("aws.event") or {}
    rid = (event.get("requestContext") or {}).get("requestId") if isinstance(event, dict) else None
    if rid:
        return str(rid)
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    return str(uuid.uuid4())


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == wanted:
            return value.decode("latin-1")
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _shaped(scope: Scope, err: errors.GatewayError, request_id: str) -> dict[str, Any]:
    """The error body in the protocol of the path (Anthropic's on ``/v1/messages``)."""
    return from_gateway_error(err, request_id) if is_anthropic_path(scope.get("path") or "") else err.body()


class GatewayMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        logger.set_correlation_id(request_id)
        status_holder = {"status": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        runtime = get_runtime()
        try:
            length = _header(scope, b"content-length")
            if length and length.isdigit() and int(length) > runtime.settings.max_body_bytes:
                err = errors.GatewayError(413, f"Request body is {length} bytes; the limit is "
                                          f"{runtime.settings.max_body_bytes}.", code="request_too_large")
                await _send_json(send_with_id, 413, _shaped(scope, err, request_id), {})
                return
            if scope["path"] not in _NO_REFRESH and runtime.reloads.due():
                # S3 calls are blocking: keep them off the event loop (uvicorn serves other requests
                # meanwhile; under Mangum it is one request at a time and costs one thread hop).
                await run_in_threadpool(runtime.reloads.refresh)
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if status_holder["status"] == 0:
                err = errors.GatewayError(500, f"Internal error. Quote request id {request_id} when reporting it.",
                                          type="internal_error", code="internal_error")
                await _send_json(send_with_id, 500, _shaped(scope, err, request_id), {})
        finally:
            state = scope.get("state", {})
            principal = state.get("principal")
            logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status_holder["status"],
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    "model": state.get("model"),
                    "key_id": principal.key_id[:12] if principal is not None else None,
                },
            )
