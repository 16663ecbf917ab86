"""Pay litellm's lazy first-call imports during init instead of on the first request.

The first mocked call after ``import litellm`` costs about 0.5 s (design notes), and the first real
call to an OpenAI-compatible provider another ~0.7 s: it builds the openai SDK client, whose
``openai.resources`` package imports every resource module. Both happen here, offline: the mock
calls never touch the network, and the provider call goes to a closed loopback port (refused at
once, no retries). Init is where this belongs: under SnapStart it is in the snapshot.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def awarm_up() -> None:
    """The async form, for servers that already run an event loop (uvicorn's lifespan)."""
    import litellm

    import gateway.providers  # noqa: F401  (quiets litellm's stdout banner on the refused call below)

    messages = [{"role": "user", "content": "warm up"}]
    try:
        await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok", api_key="x")
        stream = await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok",
                                           api_key="x", stream=True)
        async for _ in stream:
            pass
    except Exception:  # warm-up is an optimisation; never fail start-up over it
        log.warning("litellm warm-up failed", exc_info=True)
    try:  # the HTTP path of an OpenAI-compatible provider, up to the refused connection
        await litellm.acompletion(model="openai/warm-up", messages=messages, api_key="x", api_base=REFUSED_BASE,
                                  max_retries=0, timeout=2)
    except Exception:
        pass  # expected: connection refused


REFUSED_BASE = "http://127.0.0.1:9/v1"  # the discard port: nothing listens there, so it is refused at once


def warm_up() -> None:
    """Run the warm-up on this thread's event loop (Lambda init, before Mangum takes the loop)."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    try:
        if loop.is_running():
            return
        loop.run_until_complete(awarm_up())
    except Exception:
        log.warning("litellm warm-up failed", exc_info=True)
