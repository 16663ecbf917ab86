"""The batch runs as the key that created it: re-create that ``Principal`` at processing time.

Only the key's SHA-256 (``Principal.key_id``) is stored with a batch, never the token. ``master``
stands for the master key. A key that was deleted, blocked or expired since the batch was created
makes its remaining lines fail with the same 401/403 the HTTP API would give.

Who may *name* an owner is decided elsewhere and never by the caller's say-so: the API caller's own
key, the admin's prefix grant for an S3 drop (``prefixes.py``), or the token an SQS request carries
(``prove``: possession of the key, as for an HTTP request).
"""
from __future__ import annotations

from gateway import auth, errors
from gateway.keys import resolve as key_resolution
from gateway.principal import Principal
from gateway.settings import get_settings

MASTER = "master"


def owner_of(principal: Principal) -> str:
    return principal.key_id


def load(owner: str) -> Principal:
    """``owner`` (a key hash or ``master``) -> Principal, or a GatewayError (401/403/503)."""
    if owner == MASTER:
        return Principal.master()
    if not get_settings().table_name:
        raise errors.unauthorized("Virtual keys need GATEWAY_TABLE; this batch's key cannot be checked.")
    return key_resolution.load(owner)


def prove(token: str, *, allow_master: bool) -> str:
    """The owner a presented token proves: its key's hash, or ``master`` only when ``allow_master``.

    The same check as an HTTP request's (unknown/expired 401, blocked 403, store down 503), so a
    message is worth exactly what its token is worth. The token itself is neither stored nor logged.
    """
    principal = auth.resolve(token.strip())
    if principal.kind == "master" and not allow_master:
        raise errors.forbidden("The master key is not accepted on this path (BATCH_SQS_ALLOW_MASTER is off).")
    return owner_of(principal)


def may_see(principal: Principal, owner: str | None) -> bool:
    """Batches and files are visible to the key that owns them, and to admins."""
    return principal.is_admin or owner == principal.key_id
