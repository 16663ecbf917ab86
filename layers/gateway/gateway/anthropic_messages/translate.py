"""Anthropic Messages <-> the chat call, with litellm's own Anthropic adapter.

litellm 1.106.2 serves ``anthropic_messages`` natively only for Anthropic and Bedrock; for every
other provider it translates to a chat call with ``LiteLLMMessagesToCompletionTransformationHandler``
and back with ``ANTHROPIC_ADAPTER`` (``litellm/llms/anthropic/pass_through/adapters/``). The gateway
uses that translation for every provider, and litellm's chat providers speak Anthropic's own wire
format to Anthropic and Bedrock (``cache_control``, ``thinking`` with signatures, ``context_management``
and the ``anthropic-beta`` header survive: ``llms/anthropic/chat/transformation.py``). Why not
``Router.aanthropic_messages`` itself: its stream iterator imports ``litellm.proxy``'s pass-through
logging, which needs numpy, soundfile, redis, backoff and orjson (about 76 MB, none shipped), and for
``openai/`` deployments it goes through litellm's Responses bridge, which imports ``mcp``.

The translation is provider-aware (e.g. ``cache_control`` is kept only for providers that take it),
so it is done for the deployment the call goes to, after the pipeline picked the model group.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from gateway import providers
from gateway.anthropic_messages.schemas import CountTokensRequest, MessagesRequest
from gateway.runtime import Engine
from gateway.schemas import ChatCompletionRequest

#: Providers whose litellm chat handlers read ``anthropic-beta`` and forward only the flags each
#: supports (``litellm/anthropic_beta_headers_manager.py`` and ``anthropic_beta_headers_config.json``;
#: set ``LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True`` so that list is the bundled one, not fetched).
BETA_PROVIDERS = frozenset({"anthropic", "bedrock", "vertex_ai"})
_BETA_FLAG = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_BETA_FLAGS = 32

_EXTRA_FIELDS = ("context_management", "output_config")


def to_chat(request: MessagesRequest | CountTokensRequest, *, group: str, target: tuple[str, str | None] | None
            ) -> tuple[ChatCompletionRequest, dict[str, str]]:
    """The chat call for ``request`` translated for ``target`` (None: an Anthropic-shaped draft,
    enough to route and count tokens before the model group is known), and litellm's map of
    shortened tool names back to the caller's (OpenAI limits tool names to 64 characters)."""
    from litellm.llms.anthropic.pass_through.adapters.handler import (
        LiteLLMMessagesToCompletionTransformationHandler as Translator,
    )

    model, provider = target or ("anthropic/claude", "anthropic")
    def field(name: str) -> Any:
        return getattr(request, name, None)

    extra: dict[str, Any] = {"custom_llm_provider": provider}
    for name in _EXTRA_FIELDS:
        if field(name) is not None:
            extra[name] = field(name)
    user_id = (request.metadata or {}).get("user_id")
    stream = bool(field("stream"))
    kwargs, tool_names = Translator._prepare_completion_kwargs(
        max_tokens=field("max_tokens") or 1, messages=request.messages, model=model, system=request.system,
        metadata={"user_id": user_id} if isinstance(user_id, str) else None,
        stop_sequences=field("stop_sequences"), stream=stream, temperature=field("temperature"),
        thinking=request.thinking, tool_choice=request.tool_choice, tools=request.tools, top_k=field("top_k"),
        top_p=field("top_p"), output_format=field("output_format"), extra_kwargs=extra,
    )
    for name in ("model", "custom_llm_provider", "stream", "stream_options"):
        kwargs.pop(name, None)
    messages = _documents_as_files(kwargs.pop("messages"))
    max_tokens = kwargs.pop("max_tokens", field("max_tokens"))
    effort = kwargs.get("reasoning_effort")
    if isinstance(effort, dict):  # shaped for litellm's Responses bridge, which the gateway does not use
        kwargs["reasoning_effort"] = effort.get("effort")
    if field("service_tier") is not None:
        kwargs["service_tier"] = field("service_tier")
    # What the caller's provider cannot take is dropped (litellm's drop_params), as Anthropic's own
    # clients expect of a gateway; the adapter's ``user`` comes from ``metadata.user_id``.
    kwargs["drop_params"] = True
    body = ChatCompletionRequest.translated(model=group, messages=messages, stream=stream,
                                            max_tokens=max_tokens, params=kwargs, source=request)
    return body, tool_names


def _documents_as_files(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """litellm's adapter turns a ``document`` block (PDF, text) into an ``image_url`` data URL, which
    its Anthropic chat transformation then sends as an ``image`` with ``media_type: application/pdf``
    (Anthropic refuses that). As OpenAI's ``file`` content part the same data becomes a ``document``
    again for Anthropic and Bedrock, and is what OpenAI's own API takes for PDFs."""
    for message in messages:
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for index, part in enumerate(content):
            url = (part.get("image_url") or {}).get("url") if isinstance(part, dict) else None
            if part.get("type") == "image_url" and isinstance(url, str) and url.startswith("data:") \
                    and not url.startswith("data:image/"):
                replaced: dict[str, Any] = {"type": "file", "file": {"file_data": url}}
                if "cache_control" in part:
                    replaced["cache_control"] = part["cache_control"]
                content[index] = replaced
    return messages


def beta_flags(header: str | None) -> list[str]:
    """The ``anthropic-beta`` flags a client sent, each a plain token (others are ignored)."""
    if not header:
        return []
    flags = [flag.strip() for flag in header.split(",")]
    return [flag for flag in flags if _BETA_FLAG.match(flag)][:MAX_BETA_FLAGS]


def takes_betas(engine: Engine, groups: tuple[str, ...]) -> bool:
    """True when every deployment a call may reach filters ``anthropic-beta`` itself (litellm's
    per-provider list); the header is never sent to a provider that would not know it."""
    for group in groups:
        for entry in engine.config.deployments(group):
            provider = providers.provider_of(entry.litellm_params.model, getattr(entry.litellm_params, "custom_llm_provider", None))
            if provider not in BETA_PROVIDERS or (provider != "anthropic" and "claude" not in entry.litellm_params.model):
                return False
    return True


def count_tokens(engine: Engine, group: str, request: CountTokensRequest) -> int:
    """Input tokens of a Messages body, counted by litellm for the group's model (nothing is billed)."""
    import litellm

    chat, _ = to_chat(request, group=group, target=providers.deployment_target(engine.config, group))
    model = engine.config.deployments(group)[0].litellm_params.model
    tools = chat.provider_params().get("tools")
    return int(litellm.token_counter(model=model, messages=chat.messages, tools=tools))


def new_message_id() -> str:
    """An id in Anthropic's form, known before the call so the spend log carries it."""
    return "msg_" + secrets.token_hex(12)


def response_body(result_response: Any, tool_names: dict[str, str], requested_model: str,
                  message_id: str) -> dict[str, Any]:
    """litellm's chat response as an Anthropic ``message``, under the gateway's message id."""
    from litellm.llms.anthropic.pass_through.adapters.handler import ANTHROPIC_ADAPTER

    message = ANTHROPIC_ADAPTER.translate_completion_output_params(result_response, tool_name_mapping=tool_names)
    data = message.model_dump(exclude_none=False) if hasattr(message, "model_dump") else dict(message or {})
    data["model"] = requested_model
    data["id"] = message_id  # litellm keeps the chat id
    return data
