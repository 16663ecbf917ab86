"""Request bodies of the OpenAI-compatible API.

A body first goes through the request-body policy (``gateway.request_policy``): refused names are a
400, unknown ones are dropped, client credentials are set aside for the deployment's opt-in. What
is left is validated here; common fields are typed so a wrong type is a 400 naming the field, and
only the protocol's allow-listed parameters ever reach litellm (``provider_params``).
"""
from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from gateway import errors, spend_tags
from gateway.request_policy import CHAT, COMPLETION, EMBEDDING, ClientAuth, Protocol, screen
from gateway.response_cache.policy import CacheControl

Message = dict[str, Any]
#: the protocols whose bodies carry LiteLLM's spend tags (``metadata.tags``, ``tags``); the Responses
#: API's ``metadata`` is the caller's own string map, passed on as it is
TAGGED_PROTOCOLS = (CHAT, COMPLETION, EMBEDDING)


class _Request(BaseModel):
    # Extra fields are only ever the protocol's allow-listed ones: ``parse_body`` screens first.
    model_config = ConfigDict(extra="allow")
    protocol: ClassVar[Protocol]

    model: str = Field(min_length=1)
    user: str | None = None
    metadata: dict[str, Any] | None = None
    fallbacks: list[str] | None = None  # the caller's own chain, checked against the key's grant
    tags: list[str] | None = None  # LiteLLM's top-level spend tags: recorded, never passed on
    cache: CacheControl | None = None  # LiteLLM's per-request cache controls (gateway.response_cache)
    _client_auth: ClientAuth = PrivateAttr(default_factory=ClientAuth)
    _dropped: tuple[str, ...] = PrivateAttr(default=())
    _adapter_params: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _bounded_tags(cls, value: Any) -> Any:
        return spend_tags.check(value) if cls.protocol in TAGGED_PROTOCOLS else value

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata_tags(cls, value: Any) -> Any:
        if cls.protocol in TAGGED_PROTOCOLS and isinstance(value, dict) and "tags" in value:
            spend_tags.check(value["tags"])
        return value

    @property
    def request_tags(self) -> tuple[str, ...]:
        """The caller's spend tags (``metadata.tags``, then ``tags``), for the spend log."""
        if self.protocol not in TAGGED_PROTOCOLS:
            return ()
        return spend_tags.from_request(self.metadata, self.tags)

    @property
    def client_auth(self) -> ClientAuth:
        """Credentials/endpoint the caller sent; used only where the deployment opted in."""
        return self._client_auth

    @property
    def dropped(self) -> tuple[str, ...]:
        """Names the policy dropped (neither allowed nor refused), for ``x-gateway-dropped-params``."""
        return self._dropped

    def provider_params(self) -> dict[str, Any]:
        """The allow-listed parameters to pass to litellm besides model and the input."""
        data = self.model_dump(exclude_none=True, exclude=self._input_fields())
        params = {name: value for name, value in data.items() if name in self.protocol.allowed}
        params.update(self._adapter_params)
        return params

    @classmethod
    def _input_fields(cls) -> set[str]:
        return set()


#: LiteLLM's several-model chat call (``"model": "a, b"`` or a list): each model is a call of its own
MAX_MODELS_PER_REQUEST = 5


class ChatCompletionRequest(_Request):
    protocol = CHAT
    fastest_response: bool = False
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

    @field_validator("model", mode="before")
    @classmethod
    def _list_is_comma_separated(cls, value: Any) -> Any:
        """A JSON list of names is read as LiteLLM's comma-separated form, so ``model`` stays one string."""
        if isinstance(value, list) and all(isinstance(name, str) and "," not in name for name in value):
            return ",".join(value)
        return value

    def requested_models(self) -> list[str]:
        """The model names asked for: LiteLLM's comma-separated string (litellm/proxy/route_llm_request.py
        splits ``model`` on ``,`` and strips each name) or a JSON list; 400 when a name is empty or
        there are more than ``MAX_MODELS_PER_REQUEST``."""
        names = [name.strip() for name in self.model.split(",")]
        if not all(names) or len(names) > MAX_MODELS_PER_REQUEST:
            raise errors.bad_request(f"'model' names one model, or 2 to {MAX_MODELS_PER_REQUEST} models as a list "
                                     "or separated by commas, none of them empty.", param="model", code="invalid_value")
        return names

    def for_model(self, name: str) -> "ChatCompletionRequest":
        """This request for one of its models (the caller's policy results are kept)."""
        return self.model_copy(update={"model": name, "fastest_response": False})

    @classmethod
    def translated(cls, *, model: str, messages: list[Message], stream: bool, max_tokens: int | None,
                   params: dict[str, Any], source: _Request) -> "ChatCompletionRequest":
        """The chat call another protocol's request becomes (Anthropic Messages, OpenAI Responses).

        ``params`` are the provider arguments the protocol adapter built from the *screened* body
        (so they passed that protocol's policy) and reach litellm as they are; what the gateway reads
        itself (fallbacks, client credentials, dropped names, metadata, user) comes from ``source``.
        """
        request = cls.model_construct(model=model, messages=messages, stream=stream, max_tokens=max_tokens,
                                      user=source.user, metadata=source.metadata, fallbacks=source.fallbacks,
                                      **{name: None for name in cls.model_fields
                                         if name not in {"model", "messages", "stream", "max_tokens", "user",
                                                         "metadata", "fallbacks"}})
        request._client_auth = source.client_auth
        request._dropped = source.dropped
        request._adapter_params = dict(params)
        return request

    def completion_budget(self, default: int) -> int:
        """Worst-case completion tokens, for budget reservations."""
        per_choice = self.max_completion_tokens or self.max_tokens or default
        return per_choice * (self.n or 1)


class CompletionRequest(_Request):
    protocol = COMPLETION
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
    protocol = EMBEDDING
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
    screened = screen(model_cls.protocol, data)
    try:
        request = model_cls.model_validate(screened.data)
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
    request._client_auth = screened.client_auth
    request._dropped = screened.dropped
    return request
