"""The storage interface the key, limit and spend logic is written against.

Kept small and in domain terms (records, reservations, settlements) so the algorithms in
``limits.py``/``budgets.py`` do not know about DynamoDB expressions, and another backend (or an
in-memory fake) only has to implement these methods. Every method raises
``gateway.keys.errors.StoreUnavailable`` when the backend cannot answer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Literal

from gateway.keys.models import AccountKind, AccountRecord, BudgetRecord, KeyRecord, SpendLog, TeamRecord, Usage

Kind = Literal["key", "team", "user", "customer", "tag"]


@dataclass(frozen=True)
class Reservation:
    """What one admission takes from one usage item, and the conditions under which it may.

    The store applies it in ONE conditional write: the counters move only if every condition holds
    at the moment of the write, whatever other instances do at the same time.
    """

    version: int  # the META version the caller's cached record has; a mismatch fails the write
    window: int  # rpm/tpm minute the caller believes is current
    period: int | None  # budget period id (None: no periodic reset)
    cost: Decimal  # worst-case cost reserved
    tokens: int  # tokens counted against tpm now (prompt + max_tokens; refunded at settle)
    budget_cap: Decimal | None  # committed must be <= this before the write (max_budget - cost)
    rpm: int | None  # requests must be < this before the write
    tpm_cap: int | None  # tokens must be <= this before the write (tpm - tokens)
    parallel: int | None  # parallel must be < this before the write
    now: float
    spare: tuple[str, float] | None = None  # (id, expiry): record the reservation as a spare (spares.py)


@dataclass(frozen=True)
class ReserveResult:
    ok: bool
    usage: Usage  # after the write if ok; the item as it was when the condition failed otherwise


@dataclass(frozen=True)
class UsageDelta:
    """How a settle or release moves one usage item."""

    spend: Decimal  # actual cost added to spend and spend_total
    release: Decimal  # reservation given back
    tokens: int  # added to the tpm counter (negative: unused reserved tokens refunded)
    parallel: int  # -1 to free the slot admission took, 0 if admission took none
    spare: str | None = None  # the admission was a spare: remove its record (unless reclaimed, see commit)


@dataclass(frozen=True)
class AccountDelta:
    """How a settle or release moves a user's or a customer's counters."""

    kind: AccountKind
    ident: str
    delta: UsageDelta


@dataclass(frozen=True)
class Settlement:
    """Everything one settle writes, applied atomically with the spend log (exactly once per request)."""

    log: SpendLog
    key: UsageDelta | None = None
    team: UsageDelta | None = None
    key_hash: str | None = None
    team_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    accounts: tuple[AccountDelta, ...] = ()  # the key's user and the request's customer, when they exist
    #: the next spare admission on the key, taken in the same write as this settle when the store can
    #: (``commit`` returns the key's counters then); never replayed
    next_spare: Reservation | None = None


class KeyStore(ABC):
    # --- configuration records (admin API, key resolution) ---
    @abstractmethod
    def get_key(self, key_hash: str) -> KeyRecord | None: ...

    @abstractmethod
    def get_team(self, team_id: str) -> TeamRecord | None: ...

    @abstractmethod
    def get_usage(self, kind: Kind, ident: str) -> Usage: ...

    @abstractmethod
    def create_key(self, record: KeyRecord) -> None:
        """Write a new key and its zeroed usage; raise ``KeyError`` if the hash already exists."""

    @abstractmethod
    def save_key(self, record: KeyRecord, expected_version: int) -> None:
        """Replace a key's configuration if its version is still ``expected_version``; bumps the usage
        item's version too, so in-flight admissions on other instances see the change at once.
        Raise ``LookupError`` if the key is gone or changed meanwhile."""

    @abstractmethod
    def delete_keys(self, key_hashes: Iterable[str]) -> None: ...

    @abstractmethod
    def replace_key(self, old_hash: str, record: KeyRecord) -> None:
        """Regenerate: move configuration and usage from ``old_hash`` to ``record.token`` atomically."""

    @abstractmethod
    def list_keys(self) -> list[KeyRecord]:
        """All keys, oldest first."""

    @abstractmethod
    def create_team(self, record: TeamRecord) -> None: ...

    @abstractmethod
    def save_team(self, record: TeamRecord, expected_version: int) -> None: ...

    @abstractmethod
    def delete_team(self, team_id: str) -> None: ...

    @abstractmethod
    def list_teams(self) -> list[TeamRecord]: ...

    # --- users, customers and budget tiers (admin API, admission) ---
    @abstractmethod
    def get_account(self, kind: AccountKind, ident: str) -> AccountRecord | None: ...

    @abstractmethod
    def create_account(self, record: AccountRecord) -> None:
        """Write a new user or customer and its zeroed usage; ``KeyError`` if it exists."""

    @abstractmethod
    def save_account(self, record: AccountRecord, expected_version: int) -> None:
        """As ``save_key``: ``LookupError`` if it is gone or changed meanwhile."""

    @abstractmethod
    def delete_account(self, kind: AccountKind, ident: str) -> None: ...

    @abstractmethod
    def list_accounts(self, kind: AccountKind) -> list[AccountRecord]:
        """All users or all customers, oldest first."""

    @abstractmethod
    def get_budget(self, budget_id: str) -> BudgetRecord | None: ...

    @abstractmethod
    def create_budget(self, record: BudgetRecord) -> None:
        """``KeyError`` if a tier with this id exists."""

    @abstractmethod
    def save_budget(self, record: BudgetRecord, expected_version: int) -> None:
        """``LookupError`` if it is gone or changed meanwhile."""

    @abstractmethod
    def delete_budget(self, budget_id: str) -> None: ...

    @abstractmethod
    def list_budgets(self) -> list[BudgetRecord]: ...

    # --- enforcement ---
    @abstractmethod
    def reserve(self, kind: Kind, ident: str, reservation: Reservation) -> ReserveResult: ...

    @abstractmethod
    def reset_usage(self, kind: Kind, ident: str, changes: dict[str, Any], guards: dict[str, Any]) -> bool:
        """Set ``changes`` (``Usage`` field names: new window, new period, freed leaked slots) only if
        each ``guards`` field still has the value given (``None``: absent). False if it did not."""

    @abstractmethod
    def unreserve(self, kind: Kind, ident: str, reservation: Reservation) -> None:
        """Undo a successful ``reserve`` (rollback when a later check of the same admission failed),
        including its spare record if it made one."""

    @abstractmethod
    def commit(self, settlement: Settlement) -> Usage | None:
        """Apply usage deltas and write the spend log exactly once; raise ``AlreadySettled`` if this
        request was settled already (so a retry never bills twice). A delta whose spare was reclaimed
        meanwhile adds its spend but releases nothing (the reclaim already did). Returns the key's
        counters when ``settlement.next_spare`` was taken in the same write, else None."""

    @abstractmethod
    def find_reserved_log(self, key_hash: str, reservation_id: str, start: float, end: float) -> SpendLog | None:
        """The spend log of the request admitted with spare ``reservation_id`` (started in [start, end])."""

    @abstractmethod
    def settle_reclaimed(self, kind: Kind, ident: str, spare_id: str, reserved: Decimal, spend: Decimal) -> bool:
        """Settle a half-settled request on its behalf (its log exists, its spare record is still
        there): add ``spend``, release ``reserved`` and the slot. False if the record is gone."""

    @abstractmethod
    def drop_spare(self, kind: Kind, ident: str, spare_id: str, cost: Decimal, tokens: int, window: int) -> None:
        """Give back an unused spare: its reservation and slot, and its request and tokens if its
        minute window is still current. Nothing happens if it was reclaimed already."""

    @abstractmethod
    def reclaim_spares(self, kind: Kind, ident: str, spares: list[tuple[str, Decimal]]) -> bool:
        """Give back spares whose instances are gone (``(id, cost)``); False if one of them was
        settled, dropped or reclaimed meanwhile (nothing changed)."""

    # --- spend logs ---
    @abstractmethod
    def query_logs(
        self,
        *,
        key_hash: str | None,
        start: float,
        end: float,
        limit: int,
        team_id: str | None = None,
        user_id: str | None = None,
        request_id: str | None = None,
        with_payload: bool = True,
        router: str | None = None,
    ) -> list[SpendLog]:
        """Logs with ``start <= start_time < end``, newest first, at most ``limit``; without their
        stored prompt/response text when ``with_payload`` is False (reports read many logs)."""
