"""Responses request bodies, validated after the request-body policy screened them."""
from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, field_validator

from gateway import errors
from gateway.request_policy import Protocol
from gateway.responses.protocol import RESPONSES
from gateway.schemas import _Request

MAX_OUTPUT_TOKENS = 1_000_000
RESPONSE_ID = re.compile(r"^resp_[A-Za-z0-9]{1,100}$")

#: Tool types taken: run by the caller (function, custom, namespace: a group of functions) or
#: billed by the provider per token and call like the text (web search).
TOOL_TYPES = frozenset({"function", "custom", "namespace", "web_search", "web_search_preview",
                        "web_search_2025_08_26", "web_search_preview_2025_03_11"})
#: Tool types litellm's bridge drops itself (no chat equivalent: ``_responses_tool_to_chat_form``);
#: dropped here too, and named in ``x-gateway-dropped-params``, so a client that offers them (Codex
#: offers ``local_shell`` to some models) still works.
DROPPED_TOOL_TYPES = frozenset({"local_shell", "shell", "computer_use", "computer_use_preview", "image_generation",
                                "tool_search"})
#: Everything else is refused: ``mcp`` (a server URL and its credentials chosen by the caller),
#: ``file_search`` (vector stores in the deployment's account, named by the caller),
#: ``code_interpreter`` (containers in that account), and types the gateway does not know.


def check_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    for index, tool in enumerate(tools or ()):
        kind = tool.get("type")
        if kind not in TOOL_TYPES and kind not in DROPPED_TOOL_TYPES:
            raise errors.bad_request(
                f"Tool type '{kind}' (tools[{index}]) is not served by this gateway; it takes "
                f"{', '.join(sorted(TOOL_TYPES))}.", param=f"tools[{index}].type", code="unsupported_tool")
        if kind in ("function", "custom") and (not isinstance(tool.get("name"), str) or not tool["name"]):
            raise ValueError(f"tools[{index}] needs a 'name'")
    return tools


class ResponsesRequest(_Request):
    protocol: ClassVar[Protocol] = RESPONSES

    input: str | list[dict[str, Any]]
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: str | None = None
    include: list[str] | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: str | list[dict[str, Any]]) -> str | list[dict[str, Any]]:
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError("input needs at least one item")
        for index, item in enumerate(value):
            if not isinstance(item.get("type", "message"), str):
                raise ValueError(f"input[{index}] needs a string 'type'")
            if item.get("type", "message") == "message" and "content" not in item:
                raise ValueError(f"input[{index}] (message) needs 'content'")
        return value

    @field_validator("tools")
    @classmethod
    def _check_tools(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return check_tools(tools)

    @field_validator("previous_response_id")
    @classmethod
    def _check_previous(cls, value: str | None) -> str | None:
        if value is not None and not RESPONSE_ID.match(value):
            raise ValueError("previous_response_id is a response id ('resp_...')")
        return value

    @field_validator("background")
    @classmethod
    def _no_background(cls, value: bool | None) -> bool | None:
        if value:  # a Lambda invocation ends with its response: nothing would finish the work
            raise ValueError("background mode is not served by this gateway; stream instead")
        return value

    @field_validator("conversation")
    @classmethod
    def _no_conversation(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("conversations are not served by this gateway; use previous_response_id")
        return None

    def drop_unserved_tools(self) -> None:
        """Take out the tools litellm cannot bridge, naming each in the dropped list."""
        if not self.tools:
            return
        dropped = [f"tools[{i}]:{tool['type']}" for i, tool in enumerate(self.tools)
                   if tool.get("type") in DROPPED_TOOL_TYPES]
        if dropped:
            self.tools = [tool for tool in self.tools if tool.get("type") not in DROPPED_TOOL_TYPES] or None
            self._dropped = (*self._dropped, *dropped)

    def bridge_params(self) -> dict[str, Any]:
        """The Responses parameters litellm's bridge reads (``ResponsesAPIOptionalRequestParams``)."""
        names = ("instructions", "max_output_tokens", "tools", "tool_choice", "parallel_tool_calls", "temperature",
                 "top_p", "text", "reasoning", "truncation", "include", "safety_identifier", "user")
        params = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        params["store"] = self.store
        if self.previous_response_id:
            params["previous_response_id"] = self.previous_response_id
        if self.metadata:
            params["metadata"] = self.metadata
        return params

    def completion_budget(self, default: int) -> int:
        return self.max_output_tokens or default
