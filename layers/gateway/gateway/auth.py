"""Who is calling: the FastAPI dependencies every protected route uses.

The master key is compared in constant time and never stored. It is the serving config's
``general_settings.master_key`` if set, else ``LITELLM_MASTER_KEY`` / the Secrets Manager secret
(LiteLLM's precedence; ``gateway.settings``). Any other token is a virtual key, resolved by
``gateway.keys`` (DynamoDB, hashed) when a table is configured. Routes depend on
``authenticate`` (any valid caller) or ``require_admin`` (master key or an admin virtual key).
"""
from __future__ import annotations

import hmac
from typing import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway import errors
from gateway.keys import resolve as key_resolution
from gateway.principal import Principal
from gateway.settings import get_settings, master_key

__all__ = ["Principal", "authenticate", "extract_token", "is_master", "require_admin", "resolve"]


def extract_token(request: Request) -> str | None:
    """The bearer token from ``Authorization``, ``x-api-key`` or ``api-key`` (as OpenAI/Azure SDKs send)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    for name in ("x-api-key", "api-key"):
        value = request.headers.get(name)
        if value:
            return value.strip()
    return None


_config_master_key: Callable[[], str | None] = lambda: None


def use_config_master_key(source: Callable[[], str | None] | None) -> None:
    """Set by ``gateway.runtime``: reads ``general_settings.master_key`` of the serving config (None:
    unset). Apps without a runtime (the admin router alone, tests) use the environment's key only."""
    global _config_master_key
    _config_master_key = source or (lambda: None)


def expected_master_key() -> str | None:
    return _config_master_key() or master_key()


def is_master(token: str) -> bool:
    expected = expected_master_key()
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def resolve(token: str | None) -> Principal:
    """Turn a raw token into a Principal or raise a 401/403/503 GatewayError."""
    if not token:
        raise errors.unauthorized("Missing API key. Pass it as 'Authorization: Bearer <key>'.")
    if is_master(token):
        return Principal.master()
    if get_settings().table_name:
        return key_resolution.resolve_token(token)  # virtual keys live in DynamoDB
    raise errors.unauthorized()


async def authenticate(request: Request) -> Principal:
    """Dependency: any valid caller. Stores the principal on ``request.state`` for logging and spend."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        token = extract_token(request)
        if token and is_master(token):
            principal = Principal.master()
        elif token and get_settings().table_name and (principal := _cached_virtual(token)) is not None:
            pass  # a warm key: no DynamoDB read, so no worker thread either
        else:
            principal = await run_in_threadpool(resolve, token)
        request.state.principal = principal
    return principal


def _cached_virtual(token: str) -> Principal | None:
    return key_resolution.cached(token)


async def require_admin(request: Request) -> Principal:
    """Dependency: the master key or an admin virtual key; 403 for other valid keys."""
    principal = await authenticate(request)
    if not principal.is_admin:
        raise errors.forbidden("This endpoint needs the master key or an admin key.")
    return principal
