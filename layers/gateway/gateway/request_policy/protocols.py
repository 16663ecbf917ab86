"""Per protocol: the parameters that may reach litellm, and what happens to the rest.

The lists are the protocols' documented request parameters (OpenAI API reference: Create chat
completion, Create completion, Create embeddings) plus provider extras that litellm translates for
the providers that take them and that cannot redirect, re-credential or re-price a call (``top_k``,
``reasoning_effort``, ``thinking``, ...). ``model`` and the input itself are handled by the pipeline.
``metadata`` and ``tags`` (LiteLLM's top-level spend tags) are read by the gateway (router, spend
tags) and are never passed to litellm, nor is ``cache`` (LiteLLM's per-request cache controls, read
by ``gateway.response_cache``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    name: str
    allowed: frozenset[str]  # may reach litellm as its own argument
    gateway_fields: frozenset[str]  # read by the gateway itself, never passed on as they are
    refused: frozenset[str] = frozenset()  # refused on this protocol besides the common list

    def knows(self, name: str) -> bool:
        return name in self.allowed or name in self.gateway_fields


_GATEWAY_FIELDS = frozenset({"model", "metadata", "stream", "stream_options", "fallbacks", "tags", "cache"})

# Extras some providers take (litellm maps or drops them per provider); none names a host, a key,
# a price or a callback.
_PROVIDER_EXTRAS = frozenset({"top_k", "min_p", "repetition_penalty", "thinking", "reasoning_effort", "safe_prompt"})

CHAT = Protocol(
    name="chat.completions",
    allowed=frozenset({
        "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "modalities", "n", "parallel_tool_calls", "prediction",
        "presence_penalty", "prompt_cache_key", "prompt_cache_retention", "response_format", "safety_identifier",
        "seed", "service_tier", "stop", "store", "temperature", "tool_choice", "tools", "top_logprobs", "top_p",
        "user", "verbosity", "web_search_options",
    }) | _PROVIDER_EXTRAS,
    gateway_fields=_GATEWAY_FIELDS | {"fastest_response"},  # LiteLLM's several-model call (gateway.multi_model)
)

COMPLETION = Protocol(
    name="completions",
    allowed=frozenset({
        "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
        "presence_penalty", "seed", "stop", "suffix", "temperature", "top_p", "user", "top_k",
    }),
    gateway_fields=_GATEWAY_FIELDS,
)

EMBEDDING = Protocol(
    name="embeddings",
    allowed=frozenset({"input", "dimensions", "encoding_format", "user", "input_type"}),
    gateway_fields=frozenset({"model", "metadata", "fallbacks", "tags", "cache"}),
)
