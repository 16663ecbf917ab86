"""What the completion pipeline calls around every model request.

    principal = auth.authenticate(...)              # resolve.resolve_token for virtual keys
    access.check_model_access(principal, model, access_groups)  # 403 key_/team_model_access_denied
    adm = enforce.admit(principal, request_id=..., model=..., prompt_tokens=..., max_tokens=...,
                        input_cost_per_token=..., output_cost_per_token=...)   # 429 / 503
    try:
        response = call_provider(...)
    except Exception as exc:
        enforce.release(adm, status=..., error_code=...)
        raise
    enforce.settle(adm, prompt_tokens=..., completion_tokens=..., cost=..., status=200,
                   deployment=..., router=..., latency_ms=...)
    # add adm.headers to the response

DynamoDB traffic on a warm key (config cached): admit = 1 conditional UpdateItem on the key's
counters (+1 on the team's if the team has limits); settle/release = 1 TransactWriteItems (key
counters, team counters if any, spend log). No reads. So a key without team limits costs 2 calls
and 3 item writes per request.

With spares (``admit(..., use_spares=True)``, on Lambda when settling after the response), a warm key
makes no DynamoDB call before the provider call: the request is admitted against the spare reserved
after the previous response, and ``after_settle`` reserves the next one (1 UpdateItem) after this
response. Same calls per request, none of them on the client's path.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from gateway import spend_tags
from gateway.principal import Principal
from gateway.keys import accounts, budgets, limits, resolve, spares, spend
from gateway.keys.access import NO_ACCESS_GROUPS, AccessGroups, check_model_access, matches
from gateway.keys import errors as kerr
from gateway.keys.models import ZERO, SpendLog, to_cost
from gateway.keys.store import get_store
from gateway.keys.store.base import AccountDelta, UsageDelta, Settlement

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- admission
@dataclass
class Admission:
    """One admitted request: what it reserved, so settle/release can give back exactly that."""

    request_id: str
    principal: Principal
    model: str
    start_time: float
    key_hash: str
    team_id: str | None = None
    user_id: str | None = None
    key_alias: str | None = None
    key_reserved: Decimal | None = None  # cost reserved on the key's counters (None: nothing taken)
    team_reserved: Decimal | None = None  # cost reserved on the team's counters (None: nothing taken)
    reserved_tokens: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    done: bool = False
    started_monotonic: float = field(default_factory=time.monotonic)
    end_user: str | None = None  # the request's ``user`` field (LiteLLM's customer)
    #: the key's user and the request's customer, each with what admission reserved on it (None: nothing)
    accounts: tuple[tuple[accounts.AccountScope, Decimal | None], ...] = ()
    #: completion tokens the provider call must be capped at (the client set no max_tokens and a budget
    #: is at stake: what was reserved is all the call may produce); None: the client's own limit applies
    output_cap: int | None = None
    spare_id: str | None = None  # admitted against a spare (spares.py)
    #: the ``sp_<id>`` record this admission has on the key's counters: its spare's, or its own for a key
    #: with no team, user or customer. It makes the settle's update conditional, hence idempotent, so
    #: the settle needs no transaction (``DynamoDBKeyStore._commit_two_writes``)
    record_id: str | None = None
    next_spare: tuple[Decimal, int] | None = None  # (cost, tokens) to reserve as the next spare, after settle
    unused_spare: spares.Spare | None = None  # a spare that did not cover this request: give it back
    request_tags: tuple[str, ...] = ()  # recorded on the spend log (gateway.spend_tags)


def admit(
    principal: Principal,
    *,
    request_id: str,
    model: str,
    prompt_tokens: int,
    max_tokens: int,
    input_cost_per_token: float,
    output_cost_per_token: float,
    use_spares: bool = False,
    end_user: str | None = None,
    cap_output: bool = False,
    access_groups: AccessGroups = NO_ACCESS_GROUPS,
    alias: str | None = None,
    request_tags: tuple[str, ...] = (),
) -> Admission:
    """Reserve budget, rpm, tpm and a parallel slot on the key and its team, atomically per item.

    429 (``budget_exceeded`` / ``requests`` / ``tokens``) with ``retry-after`` and ``x-ratelimit-*``
    headers when a limit is reached; 401/403 if the key was revoked since it was cached; 503 if
    DynamoDB does not answer. On any failure nothing stays reserved.

    ``use_spares``: the caller runs ``after_settle`` once the response has gone (Lambda), so this
    request may use a spare reserved for it and leave one for the next (``spares.py``).
    ``end_user``: the request's ``user`` field; a customer with that id is charged too (``accounts.py``).
    ``cap_output``: the client set no ``max_tokens`` (``max_tokens`` here is the gateway's default). If a
    budget is at stake, the call is then capped at what was reserved (``Admission.output_cap``); and if
    a budget cannot cover the default, the request is admitted with the completion tokens that fit,
    at least ``MIN_CAPPED_OUTPUT_TOKENS``, instead of being refused.
    ``access_groups`` / ``alias``: as for ``access.check_model_access``, re-checked when the key changed.
    ``request_tags``: the caller's spend tags; the log carries them, then the key's and its team's
    (``gateway.spend_tags.recorded``).
    """
    now = time.time()
    tags = spend_tags.recorded(request_tags, principal.key, principal.team)
    if principal.kind == "master" or principal.key is None:
        return Admission(request_id=request_id, principal=principal, model=model, start_time=now,
                         key_hash=principal.key_id, end_user=end_user, request_tags=tags)
    cost = budgets.worst_case_cost(prompt_tokens, max_tokens, input_cost_per_token, output_cost_per_token)
    tokens = int(prompt_tokens) + int(max_tokens)
    spare = unused = None
    scopes = _account_scopes(principal, end_user, tags, model, access_groups)
    use_spares = use_spares and not scopes and spares.enabled() and spares.eligible(principal)
    if spares.enabled():
        spare, unused = spares.take(principal, cost, tokens, now)
        if spare is not None and not use_spares:  # held from before, no longer usable here: give it back
            spare, unused = None, spare
    try:
        try:
            if spare is not None:
                resolve.check(principal.key, principal.team, now)  # expired or blocked (as cached)
                admission = _from_spare(principal, request_id, model, spare, now)
                output = max_tokens
            else:
                prices = (input_cost_per_token, output_cost_per_token)
                admission, output = _admit_fitting(principal, request_id, model, prompt_tokens, max_tokens, prices, now,
                                                   scopes, (access_groups, alias), cap_output)
            if cap_output and _budgeted(principal, scopes):
                admission.output_cap = output
        except kerr.StoreUnavailable as exc:
            raise kerr.unavailable(str(exc)) from exc
    except BaseException:
        for held in (spare, unused):  # refused: give spares back now, there is no settle to do it later
            if held is not None:
                _drop_quietly(held)
        raise
    admission.unused_spare = unused
    admission.end_user = end_user
    admission.request_tags = tags
    if use_spares:
        admission.next_spare = (cost, tokens)
    return admission


def admit_without_io(principal: Principal, **request: object) -> Admission | None:
    """``admit(principal, **request)`` when it needs no DynamoDB call (the master key, or a held spare
    that covers the request), else None: the caller then runs ``admit`` where blocking is fine."""
    if principal.kind != "master" and principal.key is not None:
        if not (request.get("use_spares") and spares.enabled()) or request.get("end_user"):
            return None
        cost = budgets.worst_case_cost(request["prompt_tokens"], request["max_tokens"],  # type: ignore[arg-type]
                                       request["input_cost_per_token"], request["output_cost_per_token"])  # type: ignore[arg-type]
        tokens = int(request["prompt_tokens"]) + int(request["max_tokens"])  # type: ignore[call-overload]
        if not spares.covered(principal, cost, tokens, time.time()):
            return None
    return admit(principal, **request)  # type: ignore[arg-type]


def _from_spare(principal: Principal, request_id: str, model: str, spare: spares.Spare, now: float) -> Admission:
    key = principal.key
    assert key is not None
    return Admission(
        request_id=request_id, principal=principal, model=model, start_time=now, key_hash=key.token,
        team_id=key.team_id, user_id=key.user_id, key_alias=key.key_alias, key_reserved=spare.cost,
        team_reserved=spare.cost if spare.team_version is not None else None, reserved_tokens=spare.tokens,
        headers=dict(spare.headers), spare_id=spare.spare_id, record_id=spare.spare_id,
    )


def _account_scopes(principal: Principal, end_user: str | None, tags: tuple[str, ...], model: str,
                    access_groups: AccessGroups) -> list[accounts.AccountScope]:
    """The key's user, the request's customer and its spend tags that have records: checked
    (blocked, the user's models) before anything is reserved."""
    key = principal.key
    named = [accounts.scope("user", key.user_id), accounts.scope("customer", end_user)]
    named += [accounts.scope("tag", tag) for tag in tags]
    found = [s for s in named if s is not None]
    for scope in found:
        accounts.check(scope)
        if scope.kind == "user" and scope.record.models and not matches(model, scope.record.models, access_groups):
            raise kerr.model_not_allowed(model, by="user")
    return found


#: the shortest completion a request is capped to rather than refused (shorter answers are rarely of use)
MIN_CAPPED_OUTPUT_TOKENS = 16


def _budgeted(principal: Principal, scopes: list[accounts.AccountScope]) -> bool:
    """Whether a budget limits this request: the key's, its team's, its user's or its customer's."""
    chain = [principal.key.limits, *(s.limits for s in scopes)]
    if principal.team is not None:
        chain.append(principal.team.limits)
    return any(limits.max_budget is not None for limits in chain)


def _admit_fitting(principal: Principal, request_id: str, model: str, prompt_tokens: int, max_tokens: int,
                   prices: tuple[float, float], now: float, scopes: list[accounts.AccountScope],
                   access: tuple[AccessGroups, str | None], cap_output: bool) -> tuple[Admission, int]:
    """``_admit`` for the worst case of ``max_tokens``; with ``cap_output``, a budget that cannot cover
    it is asked again for the completion tokens that fit in what it has left (each refusal says how
    much: ``BudgetExceeded.room``). Returns the admission and the completion tokens it reserved."""
    output = max_tokens
    for attempt in range(4):  # key, team, user, customer: each tighter budget may lower it once more
        cost = budgets.worst_case_cost(prompt_tokens, output, *prices)
        try:
            return _admit(principal, request_id, model, cost, int(prompt_tokens) + output, now, scopes, access), output
        except kerr.BudgetExceeded as refused:
            fits = budgets.affordable_output_tokens(refused.room, prompt_tokens, *prices)
            if not cap_output or attempt == 3 or fits < MIN_CAPPED_OUTPUT_TOKENS or fits >= output:
                raise
            output = fits
    raise AssertionError("unreachable")


def _admit(principal: Principal, request_id: str, model: str, cost: Decimal, tokens: int, now: float,
           scopes: list[accounts.AccountScope], access: tuple[AccessGroups, str | None]) -> Admission:
    store = get_store()
    for _ in range(3):
        key, team = principal.key, principal.team
        resolve.check(key, team, now)
        record = (uuid.uuid4().hex[:12], now) if key.team_id is None and not scopes else None
        try:
            reserved = limits.reserve_key_and_team(store, key, team, cost=cost, tokens=tokens, now=now, spare=record)
        except limits.VersionChanged:
            principal = resolve.refresh(principal)  # blocked/deleted/changed: reload (raises if unusable)
            check_model_access(principal, model, *access)
            continue
        try:
            on_accounts = _reserve_accounts(store, scopes, cost=cost, tokens=tokens, now=now)
        except BaseException:
            limits.undo(store, reserved)  # nothing stays reserved
            raise
        return Admission(
            request_id=request_id, principal=principal, model=model, start_time=now, key_hash=key.token,
            team_id=key.team_id, user_id=key.user_id, key_alias=key.key_alias, key_reserved=cost,
            team_reserved=cost if reserved.team is not None else None, reserved_tokens=tokens,
            headers=limits.merge_headers(reserved.headers, *(limits.rate_headers(scope.limits, r.usage, now)
                                                             for scope, r in on_accounts if r is not None)),
            accounts=tuple((scope, cost if r is not None else None) for scope, r in on_accounts),
            record_id=record[0] if record is not None else None,
        )
    raise kerr.unavailable("key configuration kept changing during admission")


def _reserve_accounts(store, scopes: list[accounts.AccountScope], *, cost: Decimal, tokens: int, now: float
                      ) -> list[tuple[accounts.AccountScope, "limits.Reserved | None"]]:
    """``limits.reserve`` on each account that has limits (accounts without limits reserve nothing:
    only their spend moves at settle). All or nothing: a refusal undoes the earlier ones."""
    done: list[tuple[accounts.AccountScope, limits.Reserved | None]] = []
    try:
        for scope in scopes:
            for _ in range(3):
                if not scope.limits.any:
                    done.append((scope, None))
                    break
                try:
                    done.append((scope, limits.reserve(store, scope.kind, scope.ident, scope.limits, scope.record.version,
                                                       cost=cost, tokens=tokens, now=now, scope=scope.label)))
                    break
                except limits.VersionChanged:  # changed, blocked or deleted since cached: read it again
                    fresh = accounts.load(scope.kind, scope.ident)
                    if fresh is None:
                        done.append((scope, None))  # deleted meanwhile: nothing left to charge
                        break
                    accounts.check(fresh)
                    scope = fresh
            else:
                raise kerr.unavailable(f"{scope.label} kept changing during admission")
    except BaseException:
        for _, reserved in done:
            if reserved is not None:
                store.unreserve(reserved.kind, reserved.ident, reserved.reservation)
        raise
    return done


# ---------------------------------------------------------------- settle / release
def settle(
    admission: Admission,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cost: float,
    status: int,
    deployment: str | None,
    router: dict | None,
    latency_ms: float,
    error_code: str | None = None,
    payload: dict | None = None,
    response_id: str | None = None,
    model: str | None = None,
    cache_hit: bool = False,
) -> None:
    """Turn the reservation into the real cost, free the slot, write the spend log (exactly once).

    Never raises for storage trouble: see ``spend.py`` (retries, then ERROR log + replay queue).
    A second settle/release of the same admission is ignored. ``payload`` (e.g. ``{"messages": ...,
    "response": ...}``) is stored only when ``GATEWAY_LOG_PROMPTS`` is on, truncated to
    ``SPEND_LOG_MAX_PAYLOAD_BYTES`` (default 64 KiB; DynamoDB items are capped at 400 KB).
    ``model``: the group that answered, when a fallback means it is not the admitted one.
    ``cache_hit``: answered from the response cache (``gateway.response_cache``), at cost 0.
    """
    if admission.done:
        return
    admission.done = True
    actual = to_cost(cost) if cost else ZERO
    used_tokens = int(prompt_tokens) + int(completion_tokens)
    now = time.time()
    log = SpendLog(
        request_id=admission.request_id, key_hash=admission.key_hash, team_id=admission.team_id,
        user_id=admission.user_id, key_alias=admission.key_alias, model=model or admission.model,
        deployment=deployment, router=router, prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens), cost=actual, latency_ms=float(latency_ms),
        status=int(status), error_code=error_code, start_time=admission.start_time, end_time=now,
        ttl=spend.log_ttl(now), payload=spend.payload_text(payload), response_id=response_id,
        end_user=admission.end_user,
        request_tags=admission.request_tags,
        cache_hit=cache_hit,
        reservation_id=admission.record_id,
    )
    key_delta = team_delta = None
    if admission.key_reserved is not None:
        key_delta = UsageDelta(spend=actual, release=admission.key_reserved,
                               tokens=used_tokens - admission.reserved_tokens, parallel=-1, spare=admission.record_id)
    if admission.team_id is not None:
        if admission.team_reserved is not None:
            team_delta = UsageDelta(spend=actual, release=admission.team_reserved,
                                    tokens=used_tokens - admission.reserved_tokens, parallel=-1,
                                    spare=admission.spare_id)
        else:  # team without limits: only its spend total moves
            team_delta = UsageDelta(spend=actual, release=ZERO, tokens=0, parallel=0)
    account_deltas = tuple(
        AccountDelta(kind=scope.kind, ident=scope.ident, delta=UsageDelta(
            spend=actual, release=reserved if reserved is not None else ZERO,
            tokens=used_tokens - admission.reserved_tokens if reserved is not None else 0,
            parallel=-1 if reserved is not None else 0))
        for scope, reserved in admission.accounts)
    next_spare = None
    if admission.next_spare is not None and admission.record_id is not None and team_delta is None and not account_deltas:
        next_spare = spares.plan(admission.principal, *admission.next_spare, now)  # taken in the settle's own write
    settlement = Settlement(log=log, key=key_delta, team=team_delta,
                            key_hash=admission.key_hash if key_delta else None,
                            team_id=admission.team_id if team_delta else None, accounts=account_deltas,
                            next_spare=next_spare)
    try:
        store = get_store()
    except kerr.StoreUnavailable:
        spend._record_failure(settlement)
        return
    taken = spend.commit(store, settlement)
    if next_spare is not None and taken is not None:
        admission.next_spare = None  # after_settle has no spare left to make
        spares.hold(store, admission.principal, next_spare, taken)


def release(
    admission: Admission,
    *,
    status: int,
    error_code: str | None,
    deployment: str | None = None,
    router: dict | None = None,
    latency_ms: float | None = None,
) -> None:
    """The request failed: give back its whole reservation and slot, log it with cost 0."""
    if latency_ms is None:
        latency_ms = (time.monotonic() - admission.started_monotonic) * 1000
    settle(admission, prompt_tokens=0, completion_tokens=0, cost=0.0, status=status, deployment=deployment,
           router=router, latency_ms=latency_ms, error_code=error_code)


def _drop_quietly(spare: spares.Spare) -> None:
    try:
        spares.drop(get_store(), spare)
    except kerr.StoreUnavailable as exc:  # reclaimed later (limits.py): KEY_SLOT_STALE_SECONDS after expiry
        logger.warning("giving back a spare admission failed: %s", exc)


def after_settle(admission: Admission) -> None:
    """After the response (Lambda's post-response phase): give back a spare that did not fit this
    request and reserve a spare for the next one. Never raises: a missing spare only means the next
    request admits the usual way."""
    if admission.unused_spare is not None:
        unused, admission.unused_spare = admission.unused_spare, None
        _drop_quietly(unused)
    for expired in spares.take_expired(time.time()):  # other keys' spares this instance held too long
        _drop_quietly(expired)
    if admission.next_spare is None:
        return
    cost, tokens = admission.next_spare
    admission.next_spare = None
    try:
        spares.make(get_store(), admission.principal, cost, tokens)
    except kerr.StoreUnavailable as exc:
        logger.warning("spare admission skipped: %s", exc)


__all__ = ["Admission", "admit", "admit_without_io", "settle", "release", "after_settle"]


