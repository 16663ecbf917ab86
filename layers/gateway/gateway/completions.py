"""The completion pipeline shared by the HTTP API and the batch handlers.

resolve model -> check access -> (route) -> reserve -> provider call -> settle -> response.
Every exit path settles or releases what was reserved, so a failed or abandoned request never
keeps budget or a parallel slot.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Literal

from gateway import accounting, errors, request_policy, response_cache
from gateway.principal import Principal
from gateway.observability import annotate, record_request, subsegment
from gateway.providers import to_gateway_error
from gateway.learned_routing import decide
from gateway.learned_routing.decide import RoutingTable
from gateway.runtime import Engine
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest

log = logging.getLogger(__name__)

Kind = Literal["chat", "completion", "embedding", "messages", "responses"]
#: kinds served by litellm's chat call (Anthropic Messages and OpenAI Responses arrive translated)
CHAT_KINDS = frozenset({"chat", "messages", "responses"})


@dataclass
class Call:
    """One request on its way through the pipeline (nothing here outlives the request)."""

    kind: Kind
    request_id: str
    principal: Principal
    requested_model: str
    group: str
    router: dict[str, Any] | None = None
    admission: accounting.Admission | None = None
    fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # litellm argument -> groups, all granted
    client_params: dict[str, Any] = field(default_factory=dict)  # caller credentials an admin opted in to
    dropped: tuple[str, ...] = ()
    prompt_tokens: int | None = None  # counted at admission (virtual keys), else when first needed
    response_id: str | None = None  # the id the client will see, when a protocol adapter sets its own
    answered: str | None = None  # the group whose deployment answered, once known (after a fallback: not ``group``)
    output_cap: int | None = None  # max_tokens the gateway sets (per choice): the client set none and a budget is at stake
    started: float = field(default_factory=time.perf_counter)

    def reachable_groups(self) -> tuple[str, ...]:
        """The group asked for and every group a fallback may reach."""
        return tuple(dict.fromkeys((self.group, *(g for groups in self.fallbacks.values() for g in groups))))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def headers(self) -> dict[str, str]:
        headers = {"x-gateway-model": self.answered or self.group}
        headers["x-gateway-router"] = (self.router or {}).get("strategy", "direct")
        if self.router and self.router.get("reason"):  # never prompt text (router.Decision); ASCII for HTTP
            headers["x-gateway-router-reason"] = str(self.router["reason"]).encode("ascii", "replace").decode()[:400]
        if self.router and self.router.get("budget_share") is not None:
            headers["x-gateway-budget-share"] = f"{float(self.router['budget_share']):.4f}"
        if self.dropped:
            headers["x-gateway-dropped-params"] = ",".join(self.dropped)[:1000]
        if self.output_cap is not None:
            headers["x-gateway-max-tokens"] = str(self.output_cap)
        headers.update(accounting.limit_headers(self.admission))
        return headers


@dataclass(frozen=True)
class Result:
    """A finished non-streaming call: the OpenAI body, litellm's response it came from (protocol
    adapters render theirs from it) and the headers to send."""

    body: dict[str, Any]
    headers: dict[str, str]
    response: Any = None


@dataclass(frozen=True)
class Stream:
    """A streaming call: SSE lines to send, and headers known before the first byte."""

    events: AsyncIterator[str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Chunks:
    """A streaming call as litellm's chunks (``ModelResponseStream``), for a protocol adapter to
    render. The call is settled when the iterator ends or is closed; a failure mid-stream is raised
    from it as a ``GatewayError`` after the call was settled or released."""

    chunks: AsyncIterator[Any]
    headers: dict[str, str]


def _prompt_tokens(engine: Engine, group: str, body: Any) -> int:
    import litellm

    model = engine.config.deployments(group)[0].litellm_params.model
    try:
        if isinstance(body, ChatCompletionRequest):
            return int(litellm.token_counter(model=model, messages=body.messages))
        text = body.prompt if isinstance(body, CompletionRequest) else body.input
        if isinstance(text, str):
            return int(litellm.token_counter(model=model, text=text))
        if text and isinstance(text[0], str):
            return sum(int(litellm.token_counter(model=model, text=t)) for t in text)
        return sum(len(t) if isinstance(t, list) else 1 for t in text)  # token ids
    except Exception:
        # Counting must never fail a request; a rough size keeps the reservation meaningful.
        return max(1, len(json.dumps(getattr(body, "messages", None) or "", default=str)) // 3)


async def start(
    engine: Engine, kind: Kind, body: ChatCompletionRequest | CompletionRequest | EmbeddingRequest,
    principal: Principal, request_id: str, routes: RoutingTable | None = None,
) -> Call:
    """Everything before the provider call: model lookup (or a router decision), access, reservation."""
    decision = None
    if routes is not None and body.model in routes.slots:
        accounting.check_model_access(principal, body.model, engine.catalog)
        allowed = accounting.visible_models(principal, engine.catalog.names, engine.catalog)
        share = await decide.caller_budget_share(routes, body.model, principal)
        group, decision = decide.decide(routes, body.model, body, principal, engine.catalog, allowed, share)
        group = engine.catalog.resolve(group) or group
    else:
        group = engine.catalog.resolve(body.model)
        if group is None:
            raise errors.not_found(f"The model '{body.model}' does not exist on this gateway.",
                                   param="model", code="model_not_found")
    accounting.check_model_access(principal, group, engine.catalog, body.model)
    call = Call(kind=kind, request_id=request_id, principal=principal, requested_model=body.model, group=group,
                router=decision, fallbacks=_fallback_chains(engine, principal, group, body.fallbacks),
                dropped=body.dropped)
    if body.client_auth:  # the opt-ins are looked up only for a caller that sent credentials
        call.client_params = request_policy.authorize_client_auth(
            body.client_auth,
            [entry.litellm_params.configurable_clientside_auth_params
             for name in call.reachable_groups() for entry in engine.config.deployments(name)],
            allow_all=engine.config.general_settings.allow_client_side_credentials,
        )
    if accounting.enabled():
        # Only a virtual key has a budget to reserve against; skip the tokenizer for the master key.
        if principal.kind == "virtual":
            call.prompt_tokens = _prompt_tokens(engine, group, body)
        unlimited = kind != "embedding" and body.completion_budget(0) == 0  # the client set no max_tokens
        call.admission = await accounting.admit(
            principal,
            request_id=request_id,
            model=group,
            prompt_tokens=call.prompt_tokens or 0,
            max_tokens=body.completion_budget(default_output_tokens(engine, call.reachable_groups())),
            price=engine.catalog.highest_price(call.reachable_groups()),  # a fallback may answer
            end_user=getattr(body, "user", None),
            cap_output=unlimited,
            catalog=engine.catalog, requested=body.model,
            request_tags=body.request_tags,
        )
        if call.admission is not None and call.admission.output_cap is not None:
            call.output_cap = max(1, call.admission.output_cap // (getattr(body, "n", None) or 1))
    annotate(model=group, requested_model=body.model, router=(decision or {}).get("strategy"))
    return call


def default_output_tokens(engine: Engine, groups: tuple[str, ...]) -> int:
    """Completion tokens reserved for a request that sets no ``max_tokens`` (docs/keys-and-limits.md,
    "Output tokens"): the largest ``model_info.max_output_tokens`` an admin set on a deployment the call
    may reach, else ``general_settings.default_max_tokens`` (4096). When a budget is at stake the call is
    capped at what was reserved, so an answer can never cost more than its reservation."""
    stated = [entry.model_info.max_output_tokens for group in groups for entry in engine.config.deployments(group)
              if entry.model_info.max_output_tokens]
    return max(stated) if stated else engine.config.general_settings.default_max_tokens


FALLBACK_KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def _configured_chain(engine: Engine, kind: str, group: str) -> list[str]:
    """The config's ``<kind>`` chain for ``group`` (its own entry, else ``*``), from router_settings
    or else litellm_settings (``GatewayConfig.fallback_chains``)."""
    entries = engine.config.fallback_chains(kind)
    for wanted in (group, "*"):
        for entry in entries:
            if wanted in entry:
                return list(entry[wanted])
    return []


def _fallback_chains(engine: Engine, principal: Principal, group: str, requested: list[str] | None
                     ) -> dict[str, tuple[str, ...]]:
    """Every group litellm's Router may fall back to, per kind, each one a model this key may use.

    The caller's own ``fallbacks`` are checked like ``model`` (404 unknown, 403 not granted); the
    config's chains are cut to the key's grant, so a key never gets an answer from a model it may
    not use. The gateway always passes the chains itself, so litellm never reads its own defaults.
    """
    chains: dict[str, tuple[str, ...]] = {}
    for kind in FALLBACK_KINDS:
        if kind == "fallbacks" and requested:
            names = []
            for index, name in enumerate(requested):
                resolved = engine.catalog.resolve(name)
                if resolved is None:
                    raise errors.not_found(f"The fallback model '{name}' does not exist on this gateway.",
                                           param=f"fallbacks[{index}]", code="model_not_found")
                accounting.check_model_access(principal, resolved, engine.catalog, name)
                names.append(resolved)
        else:
            resolved_names = (engine.catalog.resolve(name) for name in _configured_chain(engine, kind, group))
            names = accounting.visible_models(principal, [name for name in resolved_names if name], engine.catalog)
        chains[kind] = tuple(dict.fromkeys(name for name in names if name != group))
    return chains


def _usage_numbers(usage: Any) -> tuple[int, int]:
    if not usage:
        return 0, 0
    if not isinstance(usage, dict):
        usage = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage)
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _cost(engine: Engine, call: Call, response: Any, prompt_tokens: int, completion_tokens: int,
          usage: Any = None) -> float:
    """litellm's price of the call (``response_cost``; on a stream, the ``cost`` litellm puts on the
    final usage chunk), which counts cache reads and writes at the deployment's cache prices."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if cost is None:
        cost = getattr(usage, "cost", None) if not isinstance(usage, dict) else usage.get("cost")
    if isinstance(cost, (int, float)) and cost >= 0:
        return float(cost)
    # litellm priced nothing (streams): the answering group's price; if it cannot be told, the
    # dearest group the call could have reached, never less
    answered = _answering_group(engine, hidden)
    price = (engine.catalog.price(answered) if answered in call.reachable_groups()
             else engine.catalog.highest_price(call.reachable_groups()))
    return prompt_tokens * price.input_cost_per_token + completion_tokens * price.output_cost_per_token


def _answering_group(engine: Engine, hidden: dict[str, Any]) -> str | None:
    """The model group of the deployment that answered (litellm's ``model_id``, also on stream chunks)."""
    model_id = hidden.get("model_id")
    deployment = engine.provider_router.get_deployment(model_id=model_id) if model_id else None
    return getattr(deployment, "model_name", None)


def _note_answering_group(engine: Engine, call: Call, response: Any) -> None:
    """Record the group whose deployment answered (after a fallback, not the one asked for): the
    ``x-gateway-model`` header and the spend log name it, as LiteLLM's do."""
    answered = _answering_group(engine, getattr(response, "_hidden_params", None) or {})
    call.answered = answered if answered in call.reachable_groups() else call.group


def _response_headers(engine: Engine, call: Call, response: Any, cost: float | None = None) -> dict[str, str]:
    return {**call.headers(), **_litellm_headers(engine, call.answered or call.group, response, cost)}


#: litellm Router's own headers (``router_utils/add_retry_fallback_headers.py``) passed on as
#: LiteLLM's proxy sends them; ``x-litellm-fallback-errors`` is not: it quotes provider errors.
_ROUTER_HEADERS = ("x-litellm-attempted-retries", "x-litellm-max-retries", "x-litellm-attempted-fallbacks")


def _litellm_headers(engine: Engine, group: str, response: Any, cost: float | None = None) -> dict[str, str]:
    """The ``x-litellm-*`` response headers LiteLLM's proxy documents and its clients read
    (``ProxyBaseLLMRequestProcessing.get_custom_headers``): call id, deployment id, the Router's
    retry and fallback counts, the timeout, and the charged cost when known. Not its version, the
    deployment's api_base or region: they describe the deployment to callers who need not know it."""
    hidden = getattr(response, "_hidden_params", None) or {}
    headers: dict[str, str] = {}
    for name, value in (("x-litellm-call-id", hidden.get("litellm_call_id")),
                        ("x-litellm-model-id", hidden.get("model_id"))):
        if value:
            headers[name] = str(value)
    extra = hidden.get("additional_headers") or {}
    for name in _ROUTER_HEADERS:
        if extra.get(name) is not None:
            headers[name] = str(extra[name])
    deployments = engine.config.deployments(group)
    timeout = getattr(deployments[0].litellm_params, "timeout", None) if deployments else None
    timeout = timeout or getattr(engine.provider_router, "timeout", None)
    if timeout:
        headers["x-litellm-timeout"] = str(timeout)
    if cost is not None:
        headers["x-litellm-response-cost"] = str(cost)
    return headers


def _deployment(response: Any) -> str | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    return hidden.get("litellm_model_name") or hidden.get("model_id")


async def fail(call: Call, exc: Exception) -> errors.GatewayError:
    """Release what the call holds and turn ``exc`` into the client's error (re-raise unknowns)."""
    try:
        error = to_gateway_error(exc, call.group)
    except Exception:
        await accounting.release(call.admission, status=500, error_code="internal_error")
        record_request(route=call.kind, model=call.group, status=500, latency_ms=call.elapsed_ms())
        raise
    await accounting.release(call.admission, status=error.status_code, error_code=error.code)
    record_request(route=call.kind, model=call.group, status=error.status_code, latency_ms=call.elapsed_ms())
    annotate(status=error.status_code)
    log.warning("provider call failed", extra={"model": call.group, "status": error.status_code,
                                                 "code": error.code, "error_class": type(exc).__name__})
    return error


def _routing_params(call: Call) -> dict[str, Any]:
    """The gateway's own arguments for litellm's Router: the checked fallback chains (which replace
    the Router's defaults), and the caller's credentials where every group of them opted in."""
    params: dict[str, Any] = {kind: [{call.group: list(groups)}] if groups else []
                              for kind, groups in call.fallbacks.items()}
    params.update(call.client_params)
    return params


async def _invoke(engine: Engine, call: Call, body: Any, *, stream: bool) -> Any:
    router = engine.provider_router
    params = {**body.provider_params(), **_routing_params(call)}
    if call.output_cap is not None:  # what was reserved is what the call may produce
        params["max_tokens"] = call.output_cap
    if stream:
        params["stream_options"] = {"include_usage": True}  # the caller's other options are not passed on
    with subsegment("provider.call", model=call.group):
        if call.kind in CHAT_KINDS:
            if params.get("tools"):
                # litellm would import its MCP bridge (and the `mcp` package, not shipped) for any
                # request with tools; the gateway passes tools through to the provider as they are.
                params["_skip_mcp_handler"] = True
            return await router.acompletion(model=call.group, messages=body.messages, stream=stream, **params)
        if call.kind == "completion":
            return await router.atext_completion(model=call.group, prompt=body.prompt, stream=stream, **params)
        return await router.aembedding(model=call.group, input=body.input, **params)


async def complete(engine: Engine, call: Call, body: Any) -> Result:
    """A non-streaming call, settled before it returns; answered from the response cache on a hit."""
    cached = await response_cache.lookup(engine.config, call, body)
    if cached is not None and cached.hit is not None:
        return Result(body=cached.hit, headers={**call.headers(), **await cached.settle_hit(call)})
    try:
        response = await _invoke(engine, call, body, stream=False)
    except Exception as exc:
        raise await fail(call, exc) from None
    data = response.model_dump() if hasattr(response, "model_dump") else dict(response)
    prompt_tokens, completion_tokens = _usage_numbers(data.get("usage"))
    latency = call.elapsed_ms()
    cost = _cost(engine, call, response, prompt_tokens, completion_tokens)
    _note_answering_group(engine, call, response)
    await accounting.settle(
        call.admission,
        model=call.answered,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=cost,
        status=200,
        deployment=_deployment(response),
        response_id=call.response_id or data.get("id"),
        router=call.router,
        latency_ms=latency,
    )
    record_request(route=call.kind, model=call.group, status=200, latency_ms=latency,
                   prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    annotate(status=200)
    headers = _response_headers(engine, call, response, cost)
    if cached is not None:
        await cached.remember(call, _clean(data))
        headers.update(cached.headers())
    return Result(body=_clean(data), headers=headers, response=response)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Drop litellm-only keys so the body is plain OpenAI."""
    data.pop("provider_specific_fields", None)
    for choice in data.get("choices") or []:
        if isinstance(choice, dict):
            for part in ("message", "delta"):
                if isinstance(choice.get(part), dict):
                    choice[part].pop("provider_specific_fields", None)
    return data


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def open_chunks(engine: Engine, call: Call, body: Any) -> Chunks:
    """Start a streaming call. The first chunk is awaited here, so an upstream failure before any
    token still becomes a proper HTTP error status instead of a broken 200 stream."""
    try:
        upstream = await _invoke(engine, call, body, stream=True)
        iterator = upstream.__aiter__()
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = None
        iterator = None
    except Exception as exc:
        raise await fail(call, exc) from None
    if first is not None:
        _note_answering_group(engine, call, first)
    return Chunks(chunks=_relay(engine, call, body, first, iterator), headers=_response_headers(engine, call, first))


async def open_stream(engine: Engine, call: Call, body: Any) -> Stream:
    """A streaming call in OpenAI's SSE (``data: {chunk}`` lines, an in-band error, ``[DONE]``);
    a response-cache hit is replayed in the same form."""
    cached = await response_cache.lookup(engine.config, call, body)
    if cached is not None and cached.hit is not None:
        return Stream(events=response_cache.replay(call.kind, cached.hit),
                      headers={**call.headers(), **await cached.settle_hit(call)})
    chunks = await open_chunks(engine, call, body)
    return Stream(events=_openai_events(chunks.chunks), headers={**chunks.headers, **(cached.headers() if cached else {})})


async def _openai_events(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
    try:
        async for chunk in chunks:
            yield _sse(_clean(chunk.model_dump(exclude_none=True)))
    except errors.GatewayError as error:  # the status line is gone, so say it in-band
        yield _sse(error.body())
        return
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]  # settles now, also when the client left
    yield "data: [DONE]\n\n"


def _streamed_text(chunk: Any, into: list[str]) -> None:
    """Collect what a chunk carried (text, reasoning, tool-call arguments), to bill a stream whose
    usage never arrived (the client left, or the stream broke) for what was generated."""
    for choice in getattr(chunk, "choices", None) or []:
        delta = getattr(choice, "delta", None)
        if delta is None:
            continue
        for part in (getattr(delta, "content", None), getattr(delta, "reasoning_content", None)):
            if isinstance(part, str):
                into.append(part)
        for tool_call in getattr(delta, "tool_calls", None) or []:
            function = getattr(tool_call, "function", None)
            for part in (getattr(function, "name", None), getattr(function, "arguments", None)):
                if isinstance(part, str):
                    into.append(part)


def _count_streamed(engine: Engine, call: Call, body: Any, streamed: list[str]) -> tuple[int, int]:
    """(prompt, completion) tokens of a stream that ended without usage, counted by litellm."""
    import litellm

    if call.prompt_tokens is None:
        call.prompt_tokens = _prompt_tokens(engine, call.group, body)
    text = "".join(streamed)
    if not text:
        return call.prompt_tokens, 0
    model = engine.config.deployments(call.group)[0].litellm_params.model
    try:
        return call.prompt_tokens, int(litellm.token_counter(model=model, text=text))
    except Exception:
        return call.prompt_tokens, max(1, len(text) // 4)


async def _relay(engine: Engine, call: Call, body: Any, first: Any, iterator: Any) -> AsyncIterator[Any]:
    usage: Any = None
    deployment = _deployment(first) if first is not None else None
    status = 200
    error_code: str | None = None
    finished = False
    streamed: list[str] = []
    try:
        chunk = first
        while chunk is not None:
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            _streamed_text(chunk, streamed)
            yield chunk
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                chunk = None
        finished = True
    except Exception as exc:  # mid-stream failure: settled or released below, then told to the adapter
        try:
            error = to_gateway_error(exc, call.group)
        except Exception:
            log.exception("unexpected error mid-stream", extra={"model": call.group})
            error = errors.GatewayError(500, f"Internal error (request id {call.request_id}).",
                                        type="internal_error", code="internal_error")
        status, error_code = error.status_code, error.code
        raise error from None
    finally:
        if usage:
            prompt_tokens, completion_tokens = _usage_numbers(usage)
        elif finished or streamed:
            # no usage arrived: what the client received is what was generated, and it is billed
            prompt_tokens, completion_tokens = _count_streamed(engine, call, body, streamed)
            if not finished and status == 200:
                status, error_code = 499, "client_disconnected"
        else:
            prompt_tokens = completion_tokens = 0
        if finished or usage or streamed:
            await accounting.settle(
                call.admission,
                model=call.answered,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost=_cost(engine, call, first, prompt_tokens, completion_tokens, usage),
                status=status,
                deployment=deployment,
                router=call.router,
                latency_ms=call.elapsed_ms(),
                error_code=error_code,
                response_id=call.response_id or getattr(first, "id", None),
            )
        else:  # client went away or the stream broke before anything was generated
            await accounting.release(call.admission, status=status if status != 200 else 499,
                                     error_code=error_code or "client_disconnected")
        record_request(route=call.kind, model=call.group, status=status, latency_ms=call.elapsed_ms(),
                       prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
