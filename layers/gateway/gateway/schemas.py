"""Request bodies of the OpenAI-compatible API.

Known fields are typed so a wrong type is a 400 naming the field; everything else is passed to
litellm as it is (``extra="allow"``), so new OpenAI parameters work without a gateway release.
"""
from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway import errors

Message = dict[str, Any]


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    user: str | None = None
    metadata: dict[str, Any] | None = None

    def provider_params(self) -> dict[str, Any]:
        """Everything to pass to litellm besides model and the input (messages/prompt/input)."""
        data = self.model_dump(exclude_none=True, exclude=self._input_fields() | {"model", "metadata"})
        return data

    @classmethod
    def _input_fields(cls) -> set[str]:
        return set()


class ChatCompletionRequest(_Request):
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=128)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None

    @classmethod
    def _input_fields(cls) -> set[str]:
        return {"messages", "stream", "stream_options"}

    def completion_budget(self, default: int) -> int:
        """Worst-case completion tokens, for budget reservations."""
        per_choice = self.max_completion_tokens or self.max_tokens or default
        return per_choice * (self.n or 1)


class CompletionRequest(_Request):
    prompt: str | list[str] | list[int] | list[list[int]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int | None = Field(default=None, ge=1, le=128)
    stop: str | list[str] | None = None

    @classmethod
    def _input_fields(cls) -> set[str]:
        return {"prompt", "stream", "stream_options"}

    def completion_budget(self, default: int) -> int:
        return (self.max_tokens or default) * (self.n or 1)


class EmbeddingRequest(_Request):
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)

    @classmethod
    def _input_fields(cls) -> set[str]:
        return {"input"}

    def completion_budget(self, default: int) -> int:
        return 0


R = TypeVar("R", bound=_Request)


def parse_body(raw: bytes, model_cls: type[R], max_bytes: int) -> R:
    """JSON bytes -> validated request, or a 400/413 GatewayError that names the problem."""
    if len(raw) > max_bytes:
        raise errors.GatewayError(413, f"Request body is {len(raw)} bytes; the limit is {max_bytes}.",
                                  type="invalid_request_error", code="request_too_large")
    if not raw.strip():
        raise errors.bad_request("Request body is empty; expected a JSON object.", code="invalid_json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"Request body is not valid JSON: {err}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise errors.bad_request("Request body must be a JSON object.", code="invalid_json")
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        if first["type"] == "missing":
            message = f"Missing required parameter: '{param}'."
            code = "missing_required_parameter"
        else:
            message = f"Invalid value for '{param}': {first['msg']}."
            code = "invalid_value" if first["type"] not in {"string_type", "int_type", "float_type", "list_type", "dict_type", "bool_type"} else "invalid_type"
        raise errors.bad_request(message, param=param, code=code) from None
