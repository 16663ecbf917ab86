"""The seam between the completion pipeline and ``gateway.keys`` (budgets, limits, spend).

When no DynamoDB table is configured (a bare local run) every function here is a no-op, so the
pipeline reads the same either way. Calls are blocking boto3 calls and run in a worker thread; on
Lambda, settling and releasing run after the response instead (``gateway.after_response``), and
so does reserving the next request's spare admission (``gateway.keys.spares``).
"""
from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool

from gateway import after_response
from gateway.principal import Principal
from gateway.catalog import Price
from gateway.settings import get_settings

log = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(get_settings().table_name)


def check_model_access(principal: Principal, group: str) -> None:
    if principal.kind == "virtual":
        from gateway.keys.enforce import check_model_access as check

        check(principal, group)


def visible_models(principal: Principal, names: list[str]) -> list[str]:
    if principal.kind != "virtual":
        return names
    from gateway.keys.enforce import allowed_models

    return allowed_models(principal, names)


async def admit(
    principal: Principal, *, request_id: str, model: str, prompt_tokens: int, max_tokens: int, price: Price
) -> Any | None:
    """Reserve budget and rate-limit capacity before the provider call; raises 429 when over."""
    if not enabled():
        return None
    from gateway.keys.enforce import admit as keys_admit, admit_without_io

    request = dict(request_id=request_id, model=model, prompt_tokens=prompt_tokens, max_tokens=max_tokens,
                   input_cost_per_token=price.input_cost_per_token, output_cost_per_token=price.output_cost_per_token,
                   # spares are reserved after the response; only worth it where that costs the caller nothing
                   use_spares=after_response.active())
    admission = admit_without_io(principal, **request)  # master key or a spare: no worker thread needed
    if admission is not None:
        return admission
    return await run_in_threadpool(keys_admit, principal, **request)  # type: ignore[arg-type]


async def settle(admission: Any | None, **usage: Any) -> None:
    """Turn the reservation into real spend and write the spend log; survives client disconnects."""
    if admission is None:
        return
    from gateway.keys.enforce import after_settle, settle as keys_settle

    def settle_now() -> None:
        keys_settle(admission, **usage)
        after_settle(admission)  # the next request's spare, if this one was admitted with spares

    if after_response.submit(settle_now):
        return  # on Lambda: written after the response has gone (gateway.after_response)
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(settle_now)


async def release(admission: Any | None, *, status: int, error_code: str | None) -> None:
    if admission is None:
        return
    from gateway.keys.enforce import after_settle, release as keys_release

    def release_now() -> None:
        try:
            keys_release(admission, status=status, error_code=error_code)
            after_settle(admission)
        except Exception:
            log.exception("releasing a reservation failed; gateway.keys clears an idle reservation "
                          "after KEY_SLOT_STALE_SECONDS (960 s)")

    if after_response.submit(release_now):
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(release_now)


def limit_headers(admission: Any | None) -> dict[str, str]:
    return dict(getattr(admission, "headers", None) or {})
