"""Reclaiming abandoned spares without losing the spend of a request settled half-way.

A fresh settle of a key admitted against its spare writes two items, not one transaction
(``DynamoDBKeyStore._commit_two_writes``): the spend log, then the key's counters, conditional on the
spare's ``sp_<id>`` record. If the instance dies between the two, the log exists and the record stays,
holding the reservation. A later admission that finds the record abandoned (``limits.reserve``: past
``KEY_SLOT_STALE_SECONDS``, when no request admitted against it can still be running) looks for a log
with that ``reservation_id`` in the minutes the spare could have been used, and:

- finds one: settles it on the request's behalf (adds the log's spend, frees the reservation and
  slot), conditional on the record, so a late replay of the original settlement (a transaction,
  whose log put then fails) adds nothing;
- finds none: frees the reservation as before; a settlement replayed later goes through the
  transaction, which adds its spend and writes its log together (the spare's record being gone).

Spares of a team are reclaimed as before: a key in a team settles in one transaction, which never
leaves a log without its counters.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from gateway.keys import settings as key_settings
from gateway.keys.store.base import Kind, KeyStore

log = logging.getLogger(__name__)

#: clock difference between instances tolerated when looking for a spare's log
CLOCK_SLACK_SECONDS = 60.0


def reclaim(store: KeyStore, kind: Kind, ident: str, abandoned: list[tuple[str, Decimal, float]]) -> bool:
    """Free ``abandoned`` spares ``(id, cost, expiry)`` of one item, settling those whose request
    logged its spend; False when the item changed meanwhile (the caller reads it again)."""
    if kind != "key":
        return store.reclaim_spares(kind, ident, [(spare_id, cost) for spare_id, cost, _ in abandoned])
    ttl = key_settings.get().spare_ttl
    unsettled = []
    for spare_id, cost, expires in abandoned:
        found = store.find_reserved_log(ident, spare_id, expires - ttl - CLOCK_SLACK_SECONDS,
                                        expires + CLOCK_SLACK_SECONDS)
        if found is None:
            unsettled.append((spare_id, cost))
        elif store.settle_reclaimed(kind, ident, spare_id, cost, found.cost):
            log.warning("settled request %s on its behalf: its spend log existed, its counters were not updated",
                        found.request_id)
    return store.reclaim_spares(kind, ident, unsettled) if unsettled else True
