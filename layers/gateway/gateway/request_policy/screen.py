"""The policy applied to one parsed JSON body, before validation and before anything is called."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from gateway import errors
from gateway.request_policy.clientside import CLIENT_AUTH_PARAMS, ClientAuth, forbidden_param
from gateway.request_policy.protocols import Protocol
from gateway.request_policy.refused import find_refused, is_refused

MAX_FALLBACKS = 5  # a caller's own fallback chain; each entry is checked against the key's grant

# Containers the gateway reads (never passed to litellm whole), walked for refused names at any
# depth, with the informational names LiteLLM's clients put there.
_SCANNED = {"metadata": frozenset({"tags"})}


@dataclass(frozen=True)
class Screened:
    """What may go on: the body without refused or unknown names, and what was taken out."""

    data: dict[str, Any]
    client_auth: ClientAuth = field(default_factory=ClientAuth)
    dropped: tuple[str, ...] = ()


def _fields(body: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(name, value, path) of the top level, with ``extra_body`` (the OpenAI SDK's pass-through,
    which litellm spreads into the call) read as more top-level fields."""
    for name, value in body.items():
        if name != "extra_body":
            yield name, value, name
    extra = body.get("extra_body")
    if extra is None:
        return
    if not isinstance(extra, dict):
        raise errors.bad_request("'extra_body' must be a JSON object.", param="extra_body", code="invalid_type")
    for name, value in extra.items():
        if name not in body:
            yield name, value, f"extra_body.{name}"


def _check_fallbacks(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, list) or len(value) > MAX_FALLBACKS:
        raise errors.bad_request(f"'fallbacks' must be a list of at most {MAX_FALLBACKS} model names.",
                                 param="fallbacks", code="invalid_value")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise forbidden_param(f"fallbacks[{index}]", " (a fallback is a model name; its settings come from the config)")


def screen(protocol: Protocol, body: dict[str, Any]) -> Screened:
    """Refuse (400 ``forbidden_param``), keep, set aside (client credentials) or drop each name."""
    kept: dict[str, Any] = {}
    client: dict[str, tuple[str, Any]] = {}
    dropped: list[str] = []
    for name, value, path in _fields(body):
        if name in CLIENT_AUTH_PARAMS:
            client[path] = (name, value)
        elif protocol.knows(name):
            kept[name] = value
        elif name in protocol.refused or is_refused(name):
            raise forbidden_param(path)
        else:  # neither allowed nor refused: dropped, as litellm's drop_params would
            dropped.append(path)
    for name, exempt in _SCANNED.items():
        found = find_refused(kept.get(name), name, exempt)
        if found:
            raise forbidden_param(found)
    _check_fallbacks(kept.get("fallbacks"))
    return Screened(data=kept, client_auth=ClientAuth(client), dropped=tuple(dropped))
