"""Pay litellm's lazy first-call imports during init instead of on the first request.

The first mocked call after ``import litellm`` costs about 0.5 s (design notes); Lambda init is
cheaper (and with SnapStart, snapshotted). Offline: ``mock_response`` never touches the network.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def warm_up() -> None:
    import litellm

    async def _calls() -> None:
        messages = [{"role": "user", "content": "warm up"}]
        await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok", api_key="x")
        stream = await litellm.acompletion(model="openai/warm-up", messages=messages, mock_response="ok",
                                           api_key="x", stream=True)
        async for _ in stream:
            pass

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    try:
        if loop.is_running():
            return
        loop.run_until_complete(_calls())
    except Exception:  # warm-up is an optimisation; never fail init over it
        log.warning("litellm warm-up failed", exc_info=True)
