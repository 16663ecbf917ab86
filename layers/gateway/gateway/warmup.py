"""Pay litellm's lazy first-call imports during init instead of on the first request.

The first call to an OpenAI-compatible provider imports about 0.4 s of modules that ``import
litellm`` does not: the openai SDK's ``openai.resources`` package (every resource module, on the
first ``client.chat``), and ``litellm.proxy._types`` (``litellm/main.py`` calls
``update_messages_with_model_file_ids`` on every completion, which imports
``litellm.proxy.openai_files_endpoints.common_utils``). The warm-up walks exactly that path, offline:
one buffered and one streamed call to a closed loopback port (refused at once, no retries). It does
not use ``mock_response``: litellm's mock path imports what no provider call needs (tokenizer,
mock stream iterators; measured 0.25 s and 40 MB more). Init is where this belongs: under
SnapStart it is in the snapshot.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def awarm_up() -> None:
    """The async form, for servers that already run an event loop (uvicorn's lifespan)."""
    import litellm

    import gateway.providers  # noqa: F401  (quiets litellm's stdout banner on the refused calls below)

    messages = [{"role": "user", "content": "warm up"}]
    for stream in (False, True):
        try:  # the HTTP path of an OpenAI-compatible provider, up to the refused connection
            await litellm.acompletion(model="openai/warm-up", messages=messages, api_key="x", api_base=REFUSED_BASE,
                                      max_retries=0, timeout=2, stream=stream)
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
