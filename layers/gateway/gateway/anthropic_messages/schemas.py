"""Anthropic Messages request bodies, validated after the request-body policy screened them."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from gateway.anthropic_messages.protocol import COUNT_TOKENS, MESSAGES
from gateway.request_policy import Protocol
from gateway.schemas import _Request

#: Claude Code asks for up to 128,000 output tokens; more than this is a client mistake.
MAX_OUTPUT_TOKENS = 1_000_000

#: what each content block needs besides its ``type`` (Anthropic API reference, "Messages"); a
#: block without it is a 400 here rather than a provider error or a silently changed request
_BLOCK_NEEDS = {"text": ("text",), "image": ("source",), "document": ("source",),
                "tool_use": ("id", "name", "input"), "tool_result": ("tool_use_id",),
                "thinking": ("thinking",), "redacted_thinking": ("data",)}


def check_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Roles, content and content blocks as Anthropic's API requires them."""
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            raise ValueError(f"messages[{index}] needs a role of 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, (str, list)):
            raise ValueError(f"messages[{index}] needs content: a string or a list of content blocks")
        for position, block in enumerate(content if isinstance(content, list) else ()):
            kind = block.get("type") if isinstance(block, dict) else None
            if not isinstance(kind, str):
                raise ValueError(f"messages[{index}].content[{position}] needs a 'type'")
            missing = [name for name in _BLOCK_NEEDS.get(kind, ()) if name not in block]
            if missing:
                raise ValueError(f"messages[{index}].content[{position}] ({kind}) needs '{missing[0]}'")
    return messages


def check_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    for index, tool in enumerate(tools or ()):
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise ValueError(f"tools[{index}] needs a 'name'")
    return tools


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
    def _check_messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_messages(messages)

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return check_tools(tools)

    def completion_budget(self, default: int) -> int:
        return self.max_tokens


class CountTokensRequest(_Request):
    protocol: ClassVar[Protocol] = COUNT_TOKENS

    messages: list[dict[str, Any]] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None

    @field_validator("messages")
    @classmethod
    def _check_messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_messages(messages)

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return check_tools(tools)
