"""Errors in Anthropic's shape: ``{"type": "error", "error": {"type", "message"}, "request_id"}``.

The error types per status are Anthropic's (docs.anthropic.com/en/api/errors, the same table as
litellm's ``anthropic_interface/exceptions/exception_mapping_utils.py``), so the ``anthropic`` SDK
raises its usual classes (``AuthenticationError``, ``PermissionDeniedError``, ``NotFoundError``,
``RateLimitError``, ``BadRequestError``, ...).
"""
from __future__ import annotations

import json
from typing import Any

from gateway.errors import GatewayError

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
          403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
          409: "invalid_request_error", 413: "request_too_large", 422: "invalid_request_error",
          429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error",
          504: "timeout_error", 529: "overloaded_error"}

#: The paths whose errors are rendered in Anthropic's shape (with and without ``/v1``).
PATH_PREFIXES = ("/v1/messages", "/messages")


def is_anthropic_path(path: str) -> bool:
    return path.startswith(PATH_PREFIXES)


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_body(status: int, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type(status), "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def from_gateway_error(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    message = error.message
    if error.param and error.param not in message:
        message = f"{error.param}: {message}"
    return anthropic_body(error.status_code, message, request_id)


def sse_event(error: GatewayError, request_id: str | None = None) -> bytes:
    """The ``error`` event of a stream that fails after its 200 status line was sent."""
    return f"event: error\ndata: {json.dumps(from_gateway_error(error, request_id))}\n\n".encode()
