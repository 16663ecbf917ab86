"""Who owns an S3-dropped batch: the identity the master key granted the object's input prefix.

An object at ``batch/input/<prefix>/<anything>`` in the batch bucket runs as the owner registered
for ``<prefix>`` (``POST /batch/s3_prefix/new``; a ``S3PREFIX#`` item, ``store.put_prefix``). IAM
decides who may write under which prefix (``docs/batch.md``), the grant decides whom such
a write spends as; nothing in the object can pick another owner. The metadata
``x-amz-meta-gateway-key-id`` is at most an assertion: one that disagrees with the grant refuses the
batch (``owner_mismatch``), so a writer who meant another key finds out instead of billing this one.

An object directly under ``batch/input/``, under a prefix name that is not valid, or under a prefix
with no grant is ignored with a log line (no batch item, no copy, no model call): nobody owns it, so
there is nobody to show a failed batch to, and a write nobody authorised should cost nothing.

Grants are made through the admin API only (not the config file): one source of truth in the
table, changed without a deploy, master key only, so an admin *virtual* key cannot grant itself the
master identity. A grant is never silently re-pointed: another owner takes a delete first.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway import errors
from gateway.batch import blobs, store
from gateway.batch.principal import MASTER
from gateway.keys.tokens import to_hash

log = logging.getLogger(__name__)
PREFIX_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # one path segment: no '/', '.', '%', '+', spaces, capitals
KEY_ID_PATTERN = r"^(master|[0-9a-f]{64})$"


class PrefixRef(BaseModel):
    """``{"prefix": ...}``: the body of ``/batch/s3_prefix/delete``."""

    model_config = ConfigDict(strict=True, extra="forbid")
    prefix: str = Field(pattern=PREFIX_PATTERN, max_length=63)


class PrefixGrant(PrefixRef):
    """``{"prefix": ..., "key_id": <key hash> | "master"}``: the body of ``/batch/s3_prefix/new``."""

    key_id: str = Field(pattern=KEY_ID_PATTERN, max_length=64)


def prefix_of(key: str) -> str | None:
    """``batch/input/<prefix>/<rest>`` -> ``<prefix>``, if it is a valid name and ``<rest>`` is not empty."""
    if not key.startswith(blobs.INPUT_PREFIX):
        return None
    prefix, slash, rest = key[len(blobs.INPUT_PREFIX):].partition("/")
    try:
        return PrefixRef(prefix=prefix).prefix if slash and rest else None
    except ValueError:
        return None


def owner_for(bucket: str, key: str) -> str | None:
    """The owner granted the object's prefix, or None: the object must be ignored."""
    prefix = prefix_of(key) if bucket == blobs.bucket() else None
    grant = store.get_prefix(prefix) if prefix else None
    if grant is None:
        log.warning("batch input ignored: no owner is registered for its prefix (POST /batch/s3_prefix/new)",
                    extra={"bucket": bucket, "key": key[:512], "prefix": prefix})
        return None
    return str(grant["owner"])


def claimed_owner(metadata: dict[str, str]) -> str | None:
    """The owner the object's metadata asserts, in stored form (a raw token is hashed, never kept)."""
    value = (metadata.get(blobs.OWNER_METADATA) or "").strip()
    if not value:
        return None
    return value if value == MASTER else to_hash(value)


# ---------------------------------------------------------------- admin operations (FastAPI-free)
def _view(item: dict[str, Any]) -> dict[str, Any]:
    return {"prefix": item["prefix"], "key_id": item.get("owner"), "created_at": item.get("created_at"),
            "s3_prefix": f"{blobs.INPUT_PREFIX}{item['prefix']}/"}


def _key_exists(key_hash: str) -> bool:
    from gateway.keys import errors as kerr
    from gateway.keys.store import get_store

    try:
        return get_store().get_key(key_hash) is not None
    except kerr.StoreUnavailable as exc:
        raise kerr.unavailable(str(exc)) from exc


def register(grant: PrefixGrant) -> dict[str, Any]:
    """Grant ``prefix`` to a key (or, named explicitly, ``master``). Repeating the same grant is a no-op."""
    if grant.key_id != MASTER and not _key_exists(grant.key_id):
        raise errors.not_found(f"No key with hash '{grant.key_id}'.", param="key_id", code="key_not_found")
    item = {"prefix": grant.prefix, "owner": grant.key_id, "created_at": int(time.time())}
    existing = store.put_prefix(grant.prefix, grant.key_id, item["created_at"])
    if existing is not None and existing.get("owner") != grant.key_id:
        raise errors.GatewayError(409, f"Prefix '{grant.prefix}' is registered to another owner; delete it first.",
                                  code="prefix_exists", param="prefix")
    log.info("batch input prefix granted", extra={"prefix": grant.prefix, "owner": grant.key_id})
    return _view(existing or item)


def unregister(ref: PrefixRef) -> dict[str, Any]:
    """Withdraw a grant: later uploads under the prefix are ignored; batches already created still run."""
    old = store.delete_prefix(ref.prefix)
    if old is None:
        raise errors.not_found(f"Prefix '{ref.prefix}' is not registered.", param="prefix", code="prefix_not_found")
    log.info("batch input prefix withdrawn", extra={"prefix": ref.prefix, "owner": old.get("owner")})
    return {"deleted": _view(old)}


def list_grants() -> dict[str, Any]:
    return {"object": "list", "data": [_view(i) for i in store.list_prefixes()]}
