"""Anthropic Messages request bodies, validated after the request-body policy screened them."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from gateway.anthropic_messages.protocol import COUNT_TOKENS, MESSAGES
from gateway.request_policy import Protocol
from gateway.schemas import _Request

#: Claude Code asks for up to 128,000 output tokens; more than this is a client mistake.
MAX_OUTPUT_TOKENS = 1_000_000


class MessagesRequest(_Request):
    protocol: ClassVar[Protocol] = MESSAGES

    max_tokens: int = Field(ge=1, le=MAX_OUTPUT_TOKENS)
    messages: list[dict[str, Any]] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    context_management: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    output_format: dict[str, Any] | None = None
    service_tier: str | None = None

    @field_validator("messages")
    @classmethod
    def _roles(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for message in messages:
            if message.get("role") not in ("user", "assistant"):
                raise ValueError("each message needs a role of 'user' or 'assistant'")
            if not isinstance(message.get("content"), (str, list)):
                raise ValueError("each message needs content: a string or a list of content blocks")
        return messages

    def completion_budget(self, default: int) -> int:
        return self.max_tokens


class CountTokensRequest(_Request):
    protocol: ClassVar[Protocol] = COUNT_TOKENS

    messages: list[dict[str, Any]] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
