"""Recording spend exactly once: the settle transaction, its retries, and what happens if it fails.

Each request's spend is one DynamoDB transaction: the key's (and team's) counters move and the
spend-log item is written together, the log put being conditional on the item not existing. A retry
of a transaction that in fact went through is therefore refused (``AlreadySettled``) instead of
billing twice, and the sum of the spend logs always equals the recorded spend. A key without team
or accounts that was admitted against a spare settles with two plain writes instead (the log, then
one conditional update that also takes the next spare), exact for the reasons given in
``DynamoDBKeyStore._commit_two_writes`` and ``gateway.keys.reconcile``.

If the transaction still fails after ``SETTLE_MAX_ATTEMPTS`` (default 5, backoff from 50 ms), the
settlement is NOT dropped and NOT raised to the client (the provider has answered and been paid; the
client should get its answer): it is logged at ERROR as one JSON line (``spend_settle_failed``, with
every field needed to replay it) and kept in an in-process queue that the next settle on this
instance replays first (``flush_pending``). The log line is the durable record if the instance
is never invoked again: ``gateway-admin replay-settlements`` sends such lines to ``POST /spend/replay``
(``replay``), which is safe to repeat because the log put is idempotent.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import asdict, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.keys import settings as key_settings
from gateway.keys.errors import AlreadySettled, StoreUnavailable
from gateway.keys.models import SpendLog, Usage
from gateway.keys.store.base import AccountDelta, KeyStore, Settlement, UsageDelta

logger = logging.getLogger("gateway.keys.spend")

_pending: list[Settlement] = []
_lock = threading.Lock()
MAX_PENDING = 10_000


def log_ttl(now: float) -> int:
    days = key_settings.get().spend_log_ttl_days
    return int(now + days * 86400)


def payload_text(payload: dict | None) -> str | None:
    """The prompt/response to store with the log: nothing unless GATEWAY_LOG_PROMPTS is on."""
    from gateway.settings import get_settings

    if payload is None or not get_settings().log_prompts:
        return None
    text = json.dumps(payload, default=str)
    limit = key_settings.get().spend_log_max_payload_bytes
    return text if len(text.encode()) <= limit else text.encode()[:limit].decode(errors="ignore") + "...[truncated]"


def max_attempts() -> int:
    return key_settings.get().settle_max_attempts


def commit(store: KeyStore, settlement: Settlement) -> Usage | None:
    """Apply one settlement with retries, or queue it for replay. Returns the key's counters when
    the settlement's ``next_spare`` was taken with it (None otherwise, also when it was queued)."""
    flush_pending(store)
    done, usage = _commit_with_retries(store, settlement)
    if not done:
        _record_failure(settlement)
    return usage


def _commit_with_retries(store: KeyStore, settlement: Settlement) -> tuple[bool, Usage | None]:
    attempts = max_attempts()
    for attempt in range(attempts):
        try:
            return True, store.commit(settlement)
        except AlreadySettled:
            return True, None
        except StoreUnavailable as exc:
            if attempt + 1 == attempts:
                logger.warning("settle attempt %d failed for %s: %s", attempt + 1, settlement.log.request_id, exc)
                return False, None
            time.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    return False, None


def _record_failure(settlement: Settlement) -> None:
    settlement = replace(settlement, next_spare=None)  # a replay settles; the next spare is for now only
    logger.error(json.dumps({"event": "spend_settle_failed", "request_id": settlement.log.request_id,
                             "settlement": _jsonable(settlement)}, default=str))
    with _lock:
        if len(_pending) < MAX_PENDING:
            _pending.append(settlement)


def flush_pending(store: KeyStore) -> int:
    """Replay queued settlements (oldest first); returns how many are still pending."""
    with _lock:
        if not _pending:
            return 0
        batch = list(_pending)
        _pending.clear()
    still: list[Settlement] = []
    for s in batch:
        try:
            replay(store, s)
        except StoreUnavailable:
            still.append(s)
    with _lock:
        _pending[:0] = still
        return len(_pending)


def pending() -> list[Settlement]:
    with _lock:
        return list(_pending)


def _jsonable(settlement: Settlement) -> dict[str, Any]:
    return asdict(settlement)


def settlement_from_record(record: dict[str, Any]) -> Settlement:
    """The inverse of the ``settlement`` field of a ``spend_settle_failed`` line (raises ValueError)."""
    try:
        log_fields = {f.name for f in fields(SpendLog)}
        log = dict(record["log"])
        unknown = set(log) - log_fields
        if unknown:
            raise ValueError(f"unknown spend-log fields {sorted(unknown)}")
        log["cost"] = Decimal(str(log["cost"]))
        log["request_tags"] = tuple(log.get("request_tags") or ())
        deltas = {name: None if record.get(name) is None else _delta(record[name]) for name in ("key", "team")}
        accounts = []
        for entry in record.get("accounts") or ():  # (absent before users and customers had counters)
            if entry["kind"] not in ("user", "customer", "tag") or not isinstance(entry["ident"], str):
                raise ValueError(f"not an account: {entry['kind']!r}")
            accounts.append(AccountDelta(kind=entry["kind"], ident=entry["ident"], delta=_delta(entry["delta"])))
        return Settlement(log=SpendLog(**log), key=deltas["key"], team=deltas["team"], key_hash=record.get("key_hash"),
                          team_id=record.get("team_id"), extra=dict(record.get("extra") or {}), accounts=tuple(accounts))
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"not a settlement record: {exc!r}") from None


def _delta(d: dict[str, Any]) -> UsageDelta:
    return UsageDelta(spend=Decimal(str(d["spend"])), release=Decimal(str(d["release"])), tokens=int(d["tokens"]),
                      parallel=int(d["parallel"]), spare=d.get("spare"))  # (absent before spares existed)


def replay(store: KeyStore, settlement: Settlement) -> str:
    """Apply a queued or logged settlement once more: 'recorded' or 'already_recorded'.

    Raises ``StoreUnavailable`` if DynamoDB cannot take it now (try again later: what was written, if
    anything, is recognised by the next try, so it adds nothing twice)."""
    try:
        store.commit(settlement)
    except AlreadySettled:
        return "already_recorded"
    logger.info("replayed settlement %s", settlement.log.request_id)
    return "recorded"
