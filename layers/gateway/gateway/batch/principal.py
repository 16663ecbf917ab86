"""The batch runs as the key that created it: re-create that ``Principal`` at processing time.

Only the key's SHA-256 (``Principal.key_id``) is stored with a batch, never the token. ``master``
stands for the master key. A key that was deleted, blocked or expired since the batch was created
makes its remaining lines fail with the same 401/403 the HTTP API would give.
"""
from __future__ import annotations

from gateway import errors
from gateway.auth import Principal

MASTER = "master"


def owner_of(principal: Principal) -> str:
    return principal.key_id


def load(owner: str) -> Principal:
    """``owner`` (a key hash or ``master``) -> Principal, or a GatewayError (401/403/503)."""
    if owner == MASTER:
        return Principal.master()
    from gateway.settings import get_settings

    if not get_settings().table_name:
        raise errors.unauthorized("Virtual keys need GATEWAY_TABLE; this batch's key cannot be checked.")
    from gateway.keys import resolve

    return resolve.load(owner)


def may_see(principal: Principal, owner: str | None) -> bool:
    """Batches and files are visible to the key that owns them, and to admins."""
    return principal.is_admin or owner == principal.key_id
