"""OpenAI-shaped errors.

Every failure a client sees is ``{"error": {"message", "type", "param", "code"}}`` with a matching
HTTP status, so the official SDKs raise their usual exception classes. Internals (tracebacks,
provider payloads with secrets) never reach the body.
"""
from __future__ import annotations

from typing import Any, Mapping


class GatewayError(Exception):
    """An error that is safe to show to the client as it is."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The OpenAI error envelope."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def bad_request(message: str, *, param: str | None = None, code: str | None = "invalid_request") -> GatewayError:
    return GatewayError(400, message, type="invalid_request_error", code=code, param=param)


def unauthorized(message: str = "Invalid or missing API key.") -> GatewayError:
    return GatewayError(401, message, type="authentication_error", code="invalid_api_key")


def forbidden(message: str, *, code: str = "permission_denied") -> GatewayError:
    return GatewayError(403, message, type="permission_error", code=code)


def not_found(message: str, *, param: str | None = None, code: str = "not_found") -> GatewayError:
    return GatewayError(404, message, type="invalid_request_error", code=code, param=param)


def conflict(message: str, *, code: str = "conflict") -> GatewayError:
    return GatewayError(409, message, type="invalid_request_error", code=code)


def unavailable(message: str, *, code: str = "service_unavailable") -> GatewayError:
    return GatewayError(503, message, type="service_unavailable", code=code)
