"""Token -> ``Principal``: the lookup ``gateway.auth`` does for every non-master token.

The token is hashed (SHA-256) and looked up by hash; the key and its team are cached in memory for
``KEY_CACHE_TTL_SECONDS`` (see ``cache.py`` for what that means for revocation), and a hash with no
key is remembered for ``KEY_NEGATIVE_CACHE_SECONDS``, so repeating a bad key does not cost a GetItem
each time. Both caches are keyed by the hash, never the token; a remembered miss gets the same 401
as a fresh one. A store that does not answer fails closed with 503: no request passes on a key that
could not be checked.
"""
from __future__ import annotations

import logging
import time

from gateway.principal import Principal
from gateway.keys import errors as kerr
from gateway.keys.cache import NEGATIVE_MAX_ENTRIES, TTLCache, negative_ttl_seconds
from gateway.keys.models import KeyRecord, TeamRecord, UndecodableRecord, effective_limits
from gateway.keys.store import get_store
from gateway.keys.tokens import hash_token

log = logging.getLogger(__name__)
_cache: TTLCache[Principal] = TTLCache()
_unknown: TTLCache[bool] = TTLCache(max_entries=NEGATIVE_MAX_ENTRIES)


def resolve_token(token: str) -> Principal:
    """The principal for a virtual key token; 401 unknown/expired, 403 blocked, 503 store down."""
    key_hash = hash_token(token)
    principal = _from_cache(key_hash)
    if principal is None:
        principal = load(key_hash)
    check(principal.key, principal.team)
    return principal


def cached(token: str) -> Principal | None:
    """The principal for ``token`` if this instance has it cached and it is usable (no I/O), else None.
    Raises the 401 at once for a token this instance recently found to have no key."""
    principal = _from_cache(hash_token(token))
    if principal is None:
        return None
    check(principal.key, principal.team)
    return principal


def _from_cache(key_hash: str) -> Principal | None:
    principal = _cache.get(key_hash)
    if principal is None and _unknown.get(key_hash):
        raise kerr.key_invalid()
    return principal


def load(key_hash: str) -> Principal:
    """Read key and team from the store (no cache read) and cache the result if it is usable."""
    try:
        store = get_store()
        key = store.get_key(key_hash)
        if key is None:
            _cache.pop(key_hash)
            _unknown.put(key_hash, True, ttl=negative_ttl_seconds())
            raise kerr.key_invalid()
        team = store.get_team(key.team_id) if key.team_id else None
        if key.budget_id:  # the tier's limits where the key sets none (a tier in use cannot be deleted)
            key = key.with_changes(limits=effective_limits(key.limits, store.get_budget(key.budget_id)))
    except kerr.StoreUnavailable as exc:
        raise kerr.unavailable(str(exc)) from exc
    except UndecodableRecord as exc:  # refused like an unknown key, not cached: a repair works at once
        _cache.pop(key_hash)
        log.warning("refusing a key whose item cannot be read: %s", exc)
        raise kerr.key_invalid() from None
    if key.team_id and team is None:
        _cache.pop(key_hash)
        raise kerr.key_invalid()  # its team was deleted (which deletes its keys)
    principal = principal_for(key, team)
    check(key, team)
    _cache.put(key_hash, principal)
    return principal


def principal_for(key: KeyRecord, team: TeamRecord | None) -> Principal:
    return Principal(kind="virtual", key_hash=key.token, key=key, team=team, is_admin=key.is_admin)


def check(key: KeyRecord, team: TeamRecord | None, now: float | None = None) -> None:
    now = time.time() if now is None else now
    if key.blocked:
        raise kerr.key_blocked()
    if key.expired(now):
        raise kerr.key_expired()
    if team is not None and team.blocked:
        raise kerr.team_blocked()


def invalidate(key_hash: str | None = None) -> None:
    """Forget one cached key, found or unknown (admin changes in this process), or all of them."""
    if key_hash is None:
        _cache.clear()
        _unknown.clear()
    else:
        _cache.pop(key_hash)
        _unknown.pop(key_hash)


def refresh(principal: Principal) -> Principal:
    """Reload a principal whose cached config turned out stale; raises if it is no longer usable."""
    assert principal.key_hash is not None
    _cache.pop(principal.key_hash)
    return load(principal.key_hash)


__all__ = ["resolve_token", "cached", "invalidate", "refresh", "load", "check"]
