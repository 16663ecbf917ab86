"""What of an Anthropic Messages body may reach litellm (Anthropic API reference, "Messages").

Documented request fields and the beta fields Claude Code sends (``context_management``,
``output_config``) pass; litellm's adapter maps them per provider and its ``drop_params`` drops what
a provider cannot take. Unknown fields are dropped, not refused (a client's newer beta field must
not break it) and named in ``x-gateway-dropped-params``. Refused besides the common list
(``request_policy.refused``): ``mcp_servers`` (remote MCP servers: URLs and their tokens chosen by
the caller) and ``inference_geo`` (where the call runs is the deployment's choice).
"""
from __future__ import annotations

from gateway.request_policy import Protocol

MESSAGES = Protocol(
    name="anthropic.messages",
    allowed=frozenset({
        "messages", "system", "max_tokens", "tools", "tool_choice", "thinking", "stop_sequences", "temperature",
        "top_p", "top_k", "context_management", "output_config", "output_format", "service_tier",
    }),
    gateway_fields=frozenset({"model", "metadata", "stream", "fallbacks"}),
    refused=frozenset({"mcp_servers", "inference_geo"}),
)

COUNT_TOKENS = Protocol(
    name="anthropic.messages.count_tokens",
    allowed=frozenset({"messages", "system", "tools", "tool_choice", "thinking", "context_management",
                       "output_config"}),
    gateway_fields=frozenset({"model"}),
    refused=frozenset({"mcp_servers"}),
)
