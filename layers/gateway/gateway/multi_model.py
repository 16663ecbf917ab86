"""LiteLLM's several-model chat call: ``"model": "gpt-a, gpt-b"`` (or a JSON list of names).

LiteLLM's proxy sends such a request to ``Router.abatch_completion`` (every model answers; the
body is a JSON list of chat completions, a failed model's entry being its error) or, with
``"fastest_response": true``, to ``Router.abatch_completion_fastest_response`` (the first
successful answer; the others are cancelled) - litellm/proxy/route_llm_request.py
``_route_request_single_attempt``, litellm/router.py.

Here each model is a call of its own through the gateway's pipeline (``completions.start`` then
``completions.complete``): resolved, access-checked, admitted and billed separately, each with its
own spend-log entry (request id ``<id>-<n>``). Every model is resolved and access-checked, then
admitted, before any is called, so a refusal (404, 403, 429) fails the request and calls nothing
(a 429 on a later model releases the earlier admissions, which logs them as 499 ``cancelled``). Whatever ends the request (an answer,
a cancelled loser, the client leaving), every admission is settled or released: releasing one
that was settled is a no-op (``enforce.settle`` runs once per admission).
"""
from __future__ import annotations

import asyncio
from typing import Any

from gateway import accounting, completions, errors
from gateway.learned_routing.decide import RoutingTable
from gateway.principal import Principal
from gateway.runtime import Engine
from gateway.schemas import ChatCompletionRequest


def _check_all(engine: Engine, names: list[str], principal: Principal, routes: RoutingTable | None) -> None:
    """Every name known and granted (``completions.start`` checks it again), before anything is admitted."""
    for name in names:
        if routes is not None and name in routes.slots:
            accounting.check_model_access(principal, name, engine.catalog)
            continue
        group = engine.catalog.resolve(name)
        if group is None:
            raise errors.not_found(f"The model '{name}' does not exist on this gateway.", param="model",
                                   code="model_not_found")
        accounting.check_model_access(principal, group, engine.catalog, name)


async def _start_all(engine: Engine, body: ChatCompletionRequest, names: list[str], principal: Principal,
                     request_id: str, routes: RoutingTable | None) -> list[completions.Call]:
    _check_all(engine, names, principal, routes)
    calls: list[completions.Call] = []
    try:
        for index, name in enumerate(names):
            calls.append(await completions.start(engine, "chat", body.for_model(name), principal,
                                                 f"{request_id}-{index}", routes))
    except BaseException:  # CancelledError too: an admission is never left held
        await asyncio.shield(_release_all(calls))
        raise
    return calls


async def _release_all(calls: list[completions.Call]) -> None:
    """Give back what any call still holds (a no-op for the settled ones)."""
    for call in calls:
        await accounting.release(call.admission, status=499, error_code="cancelled")


async def _wind_down(tasks: list[asyncio.Future], calls: list[completions.Call]) -> None:
    """Cancel the calls still running (``fastest_response``'s losers, or all when the client left),
    wait until they have stopped, then release what they hold."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _release_all(calls)


async def _answer(engine: Engine, call: completions.Call, body: ChatCompletionRequest) -> completions.Result:
    return await completions.complete(engine, call, body.for_model(call.requested_model))


async def serve(engine: Engine, body: ChatCompletionRequest, names: list[str], principal: Principal,
                request_id: str, routes: RoutingTable | None) -> tuple[Any, dict[str, str]]:
    """(JSON body, headers) of a several-model chat call."""
    if body.stream:
        raise errors.bad_request("Streaming is not supported with several models in 'model'; send one model, "
                                 "or stream=false.", param="stream", code="invalid_value")
    calls = await _start_all(engine, body, names, principal, request_id, routes)
    tasks = [asyncio.ensure_future(_answer(engine, call, body)) for call in calls]
    try:
        if body.fastest_response:
            return await _fastest(tasks)
        return await _every(tasks)
    finally:  # shielded: runs to the end even when this request is itself cancelled
        await asyncio.shield(_wind_down(tasks, calls))


async def _every(tasks: list[asyncio.Future]) -> tuple[Any, dict[str, str]]:
    """Every model's answer in order; a failed model's entry is its OpenAI error body."""
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    bodies: list[dict[str, Any]] = []
    for outcome in outcomes:
        if isinstance(outcome, errors.GatewayError):
            bodies.append(outcome.body())
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            bodies.append(outcome.body)
    return bodies, {}


async def _fastest(tasks: list[asyncio.Future]) -> tuple[Any, dict[str, str]]:
    """The first successful answer; the error of the last to fail when none succeeds."""
    pending = set(tasks)
    failure: BaseException | None = None
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is None:
                result: completions.Result = task.result()
                return result.body, result.headers
            failure = task.exception()
    assert failure is not None
    raise failure
