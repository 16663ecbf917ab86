"""The router's one interface: ``Router.route(RouteRequest) -> Decision``.

A request carries everything a decision may depend on; a decision carries the choice and why, but
never prompt text (it goes to headers, spend logs and traces).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from .features import estimate_tokens, messages_text, prompt_text


@dataclass(frozen=True)
class Candidate:
    """A deployment / model group the caller may use, with optional prices in USD per 1M tokens."""

    name: str
    input_price: float | None = None
    output_price: float | None = None


def _as_candidate(c: Any) -> Candidate:
    if isinstance(c, Candidate):
        return c
    if isinstance(c, str):
        return Candidate(c)
    if isinstance(c, Mapping) and isinstance(c.get("name"), str):
        return Candidate(c["name"], c.get("input_price"), c.get("output_price"))
    raise TypeError(f"candidate must be a name, a Candidate or a mapping with 'name', got {type(c).__name__}")


def _has_images(messages: Sequence[Mapping[str, Any]]) -> bool:
    for m in messages:
        content = m.get("content") if isinstance(m, Mapping) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image", "image"):
                    return True
    return False


def _has_tools(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] | None) -> bool:
    if tools:
        return True
    for m in messages:
        if isinstance(m, Mapping) and (m.get("role") in ("tool", "function") or m.get("tool_calls")
                                       or m.get("function_call")):
            return True
    return False


@dataclass(frozen=True, eq=False)
class RouteRequest:
    """What the router sees of one request.

    ``candidates`` are the deployments the key may use; an empty tuple means "no restriction" (every
    model named in the router settings is allowed). ``embedding`` is an optional precomputed prompt
    embedding for artifacts that have an embedding slot (none shipped yet).
    Derived values (``prompt``, ``text``, ``tokens``, ``has_tools``, ``has_images``) are computed on
    first use and cached on the instance, so a strategy pays only for what it reads.
    """

    messages: tuple[Mapping[str, Any], ...] = field(repr=False)  # never in logs via repr()
    model: str = "auto"
    candidates: tuple[Candidate, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    key_id: str | None = None
    team_id: str | None = None
    tools: tuple[Any, ...] | None = None
    embedding: tuple[float, ...] | None = None
    #: share (0..1) of the caller's tightest budget still unspent; None when no budget applies.
    #: Budget-aware strategies (``budget: {below: ...}`` in their settings) shift toward cheaper models.
    budget_share: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages or ()))
        object.__setattr__(self, "candidates", tuple(_as_candidate(c) for c in (self.candidates or ())))
        md = self.metadata if isinstance(self.metadata, Mapping) else {}
        object.__setattr__(self, "metadata", MappingProxyType(dict(md)))
        if self.tools is not None:
            object.__setattr__(self, "tools", tuple(self.tools))

    @cached_property
    def prompt(self) -> str:
        """Last user message text: what learned strategies score."""
        return prompt_text(self.messages)

    @cached_property
    def text(self) -> str:
        """All message text: what regex/keyword rules search."""
        return messages_text(self.messages)

    @cached_property
    def tokens(self) -> int:
        """Estimated tokens over all messages (``router.features.estimate_tokens``)."""
        return estimate_tokens(self.text)

    @cached_property
    def has_tools(self) -> bool:
        return _has_tools(self.messages, self.tools)

    @cached_property
    def has_images(self) -> bool:
        return _has_images(self.messages)

    @classmethod
    def from_openai(cls, body: Mapping[str, Any], *, candidates: Sequence[Any] = (), key_id: str | None = None,
                    team_id: str | None = None, metadata: Mapping[str, Any] | None = None) -> "RouteRequest":
        """Build from an OpenAI chat-completions body (``messages``, ``model``, ``tools``, ``metadata``)."""
        raw = body.get("metadata")
        md = dict(raw) if isinstance(raw, Mapping) else {}
        md.update(metadata or {})
        tools = body.get("tools") or body.get("functions")
        return cls(messages=tuple(body.get("messages") or ()), model=str(body.get("model") or "auto"),
                   candidates=tuple(candidates), metadata=md, key_id=key_id, team_id=team_id,
                   tools=tuple(tools) if tools else None)

    def allowed(self, name: str) -> bool:
        """True when the key may use deployment ``name`` (empty candidate list = unrestricted)."""
        return not self.candidates or any(c.name == name for c in self.candidates)

    def candidate(self, name: str) -> Candidate | None:
        for c in self.candidates:
            if c.name == name:
                return c
        return None


def _finite(x: float) -> float:
    """JSON-safe score (strong_fraction 0 or 1 gives an infinite threshold margin)."""
    x = float(x)
    if x != x:
        return 0.0
    return round(max(-1e9, min(1e9, x)), 6)


@dataclass(frozen=True)
class ScoredCandidate:
    name: str
    score: float


@dataclass(frozen=True)
class Decision:
    """The router's answer. ``reason`` is short, machine-and-human readable, and free of prompt text."""

    model: str
    candidates: tuple[ScoredCandidate, ...]
    strategy: str
    artifact_version: str | None
    reason: str
    #: the predictor's quality per artifact model (artifact order): numbers only, for spend logs and
    #: ``python -m router calibrate --from-spend-logs``; None for strategies without a predictor
    qualities: tuple[float, ...] | None = None
    #: the threshold strategy's score (predicted quality gain of strong over weak)
    score: float | None = None
    #: the budget share the decision was shifted for (None: no shift)
    budget_share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "candidates": [{"name": c.name, "score": _finite(c.score)} for c in self.candidates],
            "strategy": self.strategy,
            "artifact_version": self.artifact_version,
            "reason": self.reason,
            **({"qualities": [_finite(q) for q in self.qualities]} if self.qualities is not None else {}),
            **({"score": _finite(self.score)} if self.score is not None else {}),
            **({"budget_share": _finite(self.budget_share)} if self.budget_share is not None else {}),
        }


@runtime_checkable
class Router(Protocol):
    """Every strategy: a pure function of (request, settings, artifact)."""

    name: str

    def route(self, request: RouteRequest) -> Decision: ...

    def describe(self) -> dict[str, Any]: ...
