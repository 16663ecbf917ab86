"""What of a Responses body may reach litellm (OpenAI API reference, "Create a model response").

Documented request fields pass and litellm's Responses-to-chat bridge maps them per provider
(``drop_params`` drops what a provider cannot take). ``store`` and ``previous_response_id`` are the
gateway's: stored responses live in its own table, never in a provider's account. Unknown fields
are dropped and named in ``x-gateway-dropped-params``. Tools are checked in ``schemas.py``: types
that run in the caller's own code or are priced by the provider like text (function, custom,
namespace, web search) are taken, those litellm cannot bridge are dropped, and those that would use
resources in the deployment's account (``mcp``, ``file_search``, ``code_interpreter``) are refused.
"""
from __future__ import annotations

from gateway.request_policy import Protocol

RESPONSES = Protocol(
    name="responses",
    allowed=frozenset({
        "input", "instructions", "max_output_tokens", "tools", "tool_choice", "parallel_tool_calls", "temperature",
        "top_p", "text", "reasoning", "truncation", "include", "safety_identifier", "prompt_cache_key",
        "service_tier", "user",
    }),
    gateway_fields=frozenset({"model", "metadata", "stream", "fallbacks", "store", "previous_response_id",
                              "background", "conversation"}),
)
