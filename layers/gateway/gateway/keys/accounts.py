"""The user and the customer a request is charged to, besides its key and team.

LiteLLM tracks spend and enforces limits on the key, its team, the key's user (``user_id`` on the
key, ``/user/*``), the request's customer (the OpenAI ``user`` field names LiteLLM's "end user",
``/customer/*``) and its spend tags (``/tag/*``). Here a user, customer or tag that has a record gets counters
like a key's: its limits (its own, or its budget tier's where it sets none) are reserved at
admission in the same conditional write as a key's (``limits.reserve``), and its spend moves in the
same settle transaction, so they hold exactly across instances. A ``user`` field that names no
customer record costs nothing and limits nothing (LiteLLM creates end users on first sight; the
gateway does not write on behalf of callers).

Records are cached per instance like keys (``KEY_CACHE_TTL_SECONDS``); admission asserts the
record's version, so a changed or blocked account is seen by the next request on any instance.
A budget tier's change reaches the accounts pointing at it within the cache TTL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gateway import spend_tags
from gateway.keys import errors as kerr
from gateway.keys.cache import NEGATIVE_MAX_ENTRIES, TTLCache, negative_ttl_seconds
from gateway.keys.models import AccountKind, AccountRecord, Limits, UndecodableRecord, effective_limits
from gateway.keys.schemas import MAX_TEAM_ID_CHARS, TEAM_ID_PATTERN
from gateway.keys.store import get_store

_ID = re.compile(TEAM_ID_PATTERN)


@dataclass(frozen=True)
class AccountScope:
    """A user or customer as admission sees it: the record and the limits that apply to it."""

    record: AccountRecord
    limits: Limits

    @property
    def kind(self) -> AccountKind:
        return self.record.kind

    @property
    def ident(self) -> str:
        return self.record.ident

    @property
    def label(self) -> str:
        """How an error names it (LiteLLM's ``User=`` / ``End User=``)."""
        return f"{_LABELS[self.kind]} {self.ident}"


_LABELS = {"user": "user", "customer": "end user", "tag": "tag"}
_found: TTLCache[AccountScope] = TTLCache()
_missing: TTLCache[bool] = TTLCache(max_entries=NEGATIVE_MAX_ENTRIES)


def _cache_key(kind: AccountKind, ident: str) -> str:
    return f"{kind}#{ident}"


def scope(kind: AccountKind, ident: str | None) -> AccountScope | None:
    """The account's scope (cached), None when it has no record; 503 if the store does not answer."""
    if not ident or not _could_exist(kind, ident):
        return None
    name = _cache_key(kind, ident)
    hit = _found.get(name)
    if hit is not None:
        return hit
    if _missing.get(name):
        return None
    return load(kind, ident)


def _could_exist(kind: AccountKind, ident: str) -> bool:
    """Ids are created bounded (``account_schemas.AccountId``, tags as ``spend_tags`` bounds them); a
    request's ``user`` outside those bounds names no account, and is not sent to DynamoDB (which
    refuses keys over 2 KB)."""
    if kind == "tag":
        return spend_tags.is_tag(ident)
    return len(ident) <= MAX_TEAM_ID_CHARS and _ID.fullmatch(ident) is not None


def load(kind: AccountKind, ident: str) -> AccountScope | None:
    """Read the account and its budget tier from the store (no cache read) and cache the result."""
    name = _cache_key(kind, ident)
    store = get_store()
    try:
        record = store.get_account(kind, ident)
        tier = store.get_budget(record.budget_id) if record is not None and record.budget_id else None
    except kerr.StoreUnavailable as exc:
        raise kerr.unavailable(str(exc)) from exc
    except UndecodableRecord:  # fail closed: an account that cannot be read is not served (logged by the store)
        raise kerr.account_unreadable(kind, ident) from None
    if record is None:
        _found.pop(name)
        _missing.put(name, True, ttl=negative_ttl_seconds())
        return None
    found = AccountScope(record=record, limits=effective_limits(record.limits, tier))
    _missing.pop(name)
    _found.put(name, found)
    return found


def check(found: AccountScope) -> None:
    """403 for a blocked user or customer (LiteLLM: ``End User=<id> is blocked``)."""
    if found.record.blocked:
        raise kerr.account_blocked(found.kind, found.ident)


def invalidate(kind: AccountKind | None = None, ident: str | None = None) -> None:
    """Forget one cached account (admin changes in this process), or all of them."""
    if kind is None or ident is None:
        _found.clear()
        _missing.clear()
        return
    _found.pop(_cache_key(kind, ident))
    _missing.pop(_cache_key(kind, ident))
