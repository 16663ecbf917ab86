"""Records kept for virtual keys and teams, their live usage counters, and spend-log entries.

Plain dataclasses with no storage knowledge: ``store/`` turns them into items and back. Money is
``Decimal`` everywhere (DynamoDB numbers are decimal), so sums are exact: the spend log and the
key's recorded spend agree to the last digit.

A stored item the store cannot turn back into a record (a field of the wrong type, written by hand
or by an older version) is an ``UndecodableRecord``, never a half-built record: lists skip it, the
admin API shows it raw or refuses to change it, and no caller gets a 500 for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from gateway.keys.durations import Duration, parse_duration

#: Costs are kept to 1e-10 USD: far below any provider's price step, and 38 significant digits
#: (DynamoDB's limit) leave room for totals up to 10^27 USD.
COST_QUANTUM = Decimal("1e-10")
ZERO = Decimal(0)


def to_cost(value: float | Decimal | int | str, *, round_up: bool = False) -> Decimal:
    """A float price or cost as an exact Decimal; reservations round up so they never under-reserve."""
    dec = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
    return dec.quantize(COST_QUANTUM, rounding=ROUND_CEILING if round_up else ROUND_HALF_EVEN)


class UndecodableRecord(ValueError):
    """A stored key or team item with a field the record cannot hold.

    ``ident`` is the key's hash or the team's id (never a token); ``field`` the first bad field;
    ``attributes`` the item's stored fields as JSON-friendly values, for the admin to inspect.
    """

    def __init__(self, kind: str, ident: str, field: str, attributes: dict[str, Any]) -> None:
        super().__init__(f"stored {kind} {ident} cannot be decoded: field {field!r}")
        self.kind = kind
        self.ident = ident
        self.field = field
        self.attributes = attributes


@dataclass(frozen=True)
class Limits:
    """The limits a key or a team carries. ``None`` means unlimited."""

    max_budget: Decimal | None = None
    budget_duration: str | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None

    @property
    def period(self) -> Duration | None:
        return parse_duration(self.budget_duration) if self.budget_duration else None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_budget, self.rpm_limit, self.tpm_limit, self.max_parallel_requests))


@dataclass(frozen=True)
class KeyRecord:
    """A virtual key as configured by an admin (the ``META`` item). Never holds the token."""

    token: str  # sha256 of the token: the key's id
    key_name: str | None = None
    key_alias: str | None = None
    models: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    expires: float | None = None  # epoch seconds
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    team_id: str | None = None
    user_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1  # bumped by every admin change; admission asserts it (instant revocation)
    budget_id: str | None = None  # a shared budget tier whose limits apply where the key sets none

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    @property
    def is_admin(self) -> bool:
        """An admin key may call the admin API: ``metadata.role`` is ``admin``/``proxy_admin``."""
        role = str((self.metadata or {}).get("role", "")).lower()
        return role in {"admin", "proxy_admin"}

    def with_changes(self, **changes: Any) -> "KeyRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class TeamRecord:
    """A team: its models and limits apply on top of those of each of its keys."""

    team_id: str
    team_alias: str | None = None
    models: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1
    #: LiteLLM's ``members_with_roles``: ``{"user_id", "user_email", "role"}`` per member ("admin"/"user")
    members_with_roles: tuple[dict[str, Any], ...] = ()

    def with_changes(self, **changes: Any) -> "TeamRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class Usage:
    """The live counters of a key or team (the ``USAGE`` item), as last read or written.

    Invariant kept by every write: ``committed == spend + reserved``. ``committed`` exists because
    a DynamoDB condition cannot add two attributes, and the budget check needs their sum.
    """

    spend: Decimal = ZERO  # settled spend in the current budget period
    spend_total: Decimal = ZERO  # settled spend since the key was created (never reset)
    reserved: Decimal = ZERO  # worst-case cost of requests admitted but not yet settled
    committed: Decimal = ZERO  # spend + reserved
    period: int | None = None  # start (epoch s) of the budget period the spend belongs to
    window: int | None = None  # minute (epoch // 60) the rpm/tpm counters belong to
    requests: int = 0  # requests admitted in ``window``
    tokens: int = 0  # tokens counted in ``window``
    parallel: int = 0  # admitted, not yet settled or released
    active_at: float = 0.0  # last admission (to recover slots leaked by a killed instance)
    version: int | None = None  # copy of the META version
    exists: bool = True
    #: spare admissions held by instances: (spare id, reserved cost, expiry epoch s); see spares.py
    spares: tuple[tuple[str, Decimal, float], ...] = ()


@dataclass(frozen=True)
class SpendLog:
    """One request's accounting entry. No prompt or response text."""

    request_id: str
    key_hash: str
    team_id: str | None
    user_id: str | None
    key_alias: str | None
    model: str
    deployment: str | None
    router: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    latency_ms: float
    status: int
    error_code: str | None
    start_time: float
    end_time: float
    ttl: int
    payload: str | None = None  # request/response JSON, only when GATEWAY_LOG_PROMPTS is on (truncated)
    response_id: str | None = None  # the answer's own id (chatcmpl-..., msg_..., resp_...), as LiteLLM logs it
    end_user: str | None = None  # the request's ``user`` (LiteLLM's customer / end user), when it names one
    request_tags: tuple[str, ...] = ()  # the request's, key's and team's spend tags (gateway.spend_tags)
    cache_hit: bool = False  # answered from the response cache, as LiteLLM's spend logs say it
    #: the spare admission this request used (its record on the key's usage item): lets a reclaim find
    #: the log of a request settled half-way (``gateway.keys.reconcile``)
    reservation_id: str | None = None


AccountKind = Literal["user", "customer", "tag"]


@dataclass(frozen=True)
class BudgetRecord:
    """A shared budget tier (LiteLLM's ``/budget/*``): limits that users and customers point at with
    ``budget_id``. A tier has no counters of its own: each principal pointing at it spends against
    its own counters, with the tier's limits where it sets none itself."""

    budget_id: str
    limits: Limits = field(default_factory=Limits)
    soft_budget: Decimal | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1

    def with_changes(self, **changes: Any) -> "BudgetRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class AccountRecord:
    """A user (``/user/*``: owns keys through their ``user_id``), a customer (``/customer/*``,
    LiteLLM's end user: named by a request's ``user`` field) or a tag (``/tag/*``: named by the
    request's, key's or team's spend tags). Each has limits and spend of its own, enforced on top of
    the key's and the team's."""

    kind: AccountKind
    ident: str  # LiteLLM's user_id (users, customers) or a tag's name
    alias: str | None = None  # LiteLLM's user_alias / a customer's alias / a tag's description
    email: str | None = None  # a user's user_email
    role: str | None = None  # a user's user_role (LiteLLM's names); None for customers
    models: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    budget_id: str | None = None
    blocked: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1

    def with_changes(self, **changes: Any) -> "AccountRecord":
        return replace(self, **changes)


def effective_limits(own: Limits, tier: BudgetRecord | None) -> Limits:
    """A principal's own limits, each one it leaves unset taken from its budget tier."""
    if tier is None:
        return own
    return Limits(**{name: getattr(own, name) if getattr(own, name) is not None else getattr(tier.limits, name)
                     for name in ("max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests")})
