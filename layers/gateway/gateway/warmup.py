"""Pay litellm's lazy first-call imports during init instead of on the first request.

The first mocked call after ``import litellm`` costs about 0.5 s (design notes); Lambda init is
cheaper (and with SnapStart, snapshotted). Offline: ``mock_response`` never touches the network.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def awarm_up() -> None:
    """The async form, for servers that already run an event loop (uvicorn's lifespan)."""
    import litellm

    messages = [{"role": "user", "content": "warm up"}]
    try:
        await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok", api_key="x")
        stream = await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok",
                                           api_key="x", stream=True)
        async for _ in stream:
            pass
    except Exception:  # warm-up is an optimisation; never fail start-up over it
        log.warning("litellm warm-up failed", exc_info=True)


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
