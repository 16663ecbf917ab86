"""The one hand-off between the completion pipeline and ``gateway.keys`` (budgets, limits, spend).

The pipeline calls this module only; ``gateway.keys.enforce`` keeps the synchronous domain logic
and ``gateway.keys.access`` the model-access rule. What this module adds is *where* the work runs:
- blocking boto3 calls go to a worker thread, except when admission needs no I/O (the master key,
  or a spare admission reserved after the previous response: ``gateway.keys.spares``);
- on Lambda, settling and releasing run after the response (``gateway.after_response``), and so
  does reserving the next request's spare; elsewhere they run before the response, shielded from
  the client going away.
When no DynamoDB table is configured (a bare local run) admission is a no-op and returns None, so
the pipeline reads the same either way.
"""
from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from gateway import after_response
from gateway.catalog import Catalog, Price
from gateway.keys import access, enforce
from gateway.keys.enforce import Admission
from gateway.principal import Principal
from gateway.settings import get_settings

log = logging.getLogger(__name__)

__all__ = ["Admission", "admit", "check_model_access", "enabled", "limit_headers", "release", "settle",
           "visible_models"]


def enabled() -> bool:
    return bool(get_settings().table_name)


def check_model_access(principal: Principal, group: str, catalog: Catalog, requested: str | None = None) -> None:
    """403 ``key_model_access_denied`` / ``team_model_access_denied`` unless this caller may use
    ``group`` (through the config's access groups, or the alias ``requested`` when it is one)."""
    access.check_model_access(principal, group, catalog.access_groups, catalog.alias_of(requested or group, group))


def visible_models(principal: Principal, names: list[str], catalog: Catalog) -> list[str]:
    """The subset of ``names`` this caller may use, in order."""
    return access.allowed_models(principal, names, catalog.access_groups)


async def admit(
    principal: Principal, *, request_id: str, model: str, prompt_tokens: int, max_tokens: int, price: Price,
    catalog: Catalog, requested: str | None = None, end_user: str | None = None, cap_output: bool = False,
    request_tags: tuple[str, ...] = (),
) -> Admission | None:
    """Reserve budget and rate-limit capacity before the provider call; raises 429 when over.
    ``end_user``: the request's ``user``, LiteLLM's customer (``gateway.keys.accounts``);
    ``cap_output``: the client set no ``max_tokens`` (``enforce.admit``: the output reservation policy);
    ``request_tags``: the caller's spend tags, recorded on the request's spend log."""
    if not enabled():
        return None
    request = dict(request_id=request_id, model=model, prompt_tokens=prompt_tokens, max_tokens=max_tokens,
                   end_user=end_user, cap_output=cap_output,
                   input_cost_per_token=price.input_cost_per_token, output_cost_per_token=price.output_cost_per_token,
                   access_groups=catalog.access_groups, alias=catalog.alias_of(requested or model, model),
                   # spares are reserved after the response; only worth it where that costs the caller nothing
                   use_spares=after_response.active(), request_tags=tuple(request_tags))
    admission = enforce.admit_without_io(principal, **request)  # master key or a spare: no worker thread needed
    if admission is not None:
        return admission
    return await run_in_threadpool(enforce.admit, principal, **request)  # type: ignore[arg-type]


async def settle(admission: Admission | None, **usage: Any) -> None:
    """Turn the reservation into real spend and write the spend log; survives client disconnects."""
    if admission is None:
        return

    def settle_now() -> None:
        enforce.settle(admission, **usage)
        enforce.after_settle(admission)  # the next request's spare, if this one was admitted with spares

    await _after_or_now(settle_now)


async def release(admission: Admission | None, *, status: int, error_code: str | None) -> None:
    """Give back what an unanswered request reserved."""
    if admission is None:
        return

    def release_now() -> None:
        try:
            enforce.release(admission, status=status, error_code=error_code)
            enforce.after_settle(admission)
        except Exception:
            log.exception("releasing a reservation failed; gateway.keys clears an idle reservation "
                          "after KEY_SLOT_STALE_SECONDS (960 s)")

    await _after_or_now(release_now)


async def _after_or_now(work: Any) -> None:
    """On Lambda, after the response has gone; elsewhere now, in a worker thread, whatever the client does."""
    if after_response.submit(work):
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(work)


def limit_headers(admission: Admission | None) -> dict[str, str]:
    return dict(admission.headers) if admission is not None else {}
