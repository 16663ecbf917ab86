"""``rules``: ordered if-then rules over request properties; first match whose target the key may use wins.

Settings::

    {"strategy": "rules",
     "rules": [
       {"if": {"min_tokens": 1000}, "model": "big"},
       {"if": {"regex": "(?i)\\bsql\\b"}, "model": "coder"},
       {"if": {"keywords": ["invoice", "refund"]}, "model": "cheap"},
       {"if": {"has_tools": true}, "model": "tools-capable"},
       {"if": {"has_images": true}, "model": "vision"},
       {"if": {"metadata": {"tier": "free"}}, "model": "mock"},        # value may be a list (any of)
       {"if": {"key_ids": ["k1"], "team_ids": ["t1"]}, "model": "x"},   # all conditions in one "if" must hold
       {"if": {"requested_model": ["auto-cheap"]}, "model": "mock"},
       {"if": {"max_tokens": 50}, "router": {"strategy": "threshold", ...}}   # nested router as target
     ],
     "default": "mock"}            # or {"router": {...}} ; a name is required when no rule matches

Token counts are the fast estimate of ``router.features.estimate_tokens`` over all messages.
Regexes and keywords search all message text, clipped to the first 24,000 + last 8,000 characters
so a huge prompt cannot make a rule slow.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from ..errors import NoCandidateError
from ..settings import as_mapping, check_keys, fail, get_bool, get_int, get_str_list
from ..types import Decision, RouteRequest, Router, ScoredCandidate

REGEX_MAX_CHARS = 32000
_COND_KEYS = ("min_tokens", "max_tokens", "regex", "keywords", "has_tools", "has_images", "metadata",
              "key_ids", "team_ids", "requested_model")


def _search_text(req: RouteRequest) -> str:
    t = req.text
    if len(t) <= REGEX_MAX_CHARS:
        return t
    return t[:24000] + "\n" + t[-8000:]


@dataclass(frozen=True)
class Condition:
    min_tokens: int | None = None
    max_tokens: int | None = None
    regex: re.Pattern[str] | None = None
    keywords: re.Pattern[str] | None = None
    has_tools: bool | None = None
    has_images: bool | None = None
    metadata: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    key_ids: frozenset[str] | None = None
    team_ids: frozenset[str] | None = None
    requested_model: frozenset[str] | None = None

    def matches(self, req: RouteRequest) -> bool:
        if self.key_ids is not None and req.key_id not in self.key_ids:
            return False
        if self.team_ids is not None and req.team_id not in self.team_ids:
            return False
        if self.requested_model is not None and req.model not in self.requested_model:
            return False
        if self.has_tools is not None and req.has_tools != self.has_tools:
            return False
        if self.has_images is not None and req.has_images != self.has_images:
            return False
        for k, allowed in self.metadata:
            if k not in req.metadata or req.metadata[k] not in allowed:
                return False
        if self.min_tokens is not None and req.tokens < self.min_tokens:
            return False
        if self.max_tokens is not None and req.tokens > self.max_tokens:
            return False
        if self.regex is not None or self.keywords is not None:
            text = _search_text(req)
            if self.regex is not None and not self.regex.search(text):
                return False
            if self.keywords is not None and not self.keywords.search(text):
                return False
        return True


def parse_condition(d: Any, where: str) -> Condition:
    d = as_mapping(d, where)
    check_keys(d, _COND_KEYS, where)
    regex = None
    if d.get("regex") is not None:
        if not isinstance(d["regex"], str) or not d["regex"]:
            raise fail(f"{where}.regex", f"expected a regular expression string, got {d['regex']!r}")
        try:
            regex = re.compile(d["regex"])
        except re.error as exc:
            raise fail(f"{where}.regex", f"invalid regular expression ({exc})") from None
    kws = get_str_list(d, "keywords", where)
    keywords = re.compile(r"(?i)(?<!\w)(?:" + "|".join(re.escape(k) for k in kws) + r")(?!\w)") if kws else None
    md: list[tuple[str, tuple[Any, ...]]] = []
    if d.get("metadata") is not None:
        m = as_mapping(d["metadata"], f"{where}.metadata")
        for k, v in m.items():
            vals = tuple(v) if isinstance(v, (list, tuple)) else (v,)
            if not vals:
                raise fail(f"{where}.metadata.{k}", "needs at least one value")
            md.append((str(k), vals))
    mn, mx = get_int(d, "min_tokens", where), get_int(d, "max_tokens", where)
    if mn is not None and mx is not None and mn > mx:
        raise fail(where, f"min_tokens ({mn}) is larger than max_tokens ({mx}); the rule can never match")
    ks, ts, rm = get_str_list(d, "key_ids", where), get_str_list(d, "team_ids", where), get_str_list(d, "requested_model", where)
    return Condition(min_tokens=mn, max_tokens=mx, regex=regex, keywords=keywords,
                     has_tools=get_bool(d, "has_tools", where), has_images=get_bool(d, "has_images", where),
                     metadata=tuple(md), key_ids=frozenset(ks) if ks else None, team_ids=frozenset(ts) if ts else None,
                     requested_model=frozenset(rm) if rm else None)


Target = str | Router


def parse_target(d: Mapping[str, Any], where: str, build: Callable[[Any, str], Router]) -> Target:
    has_model, has_router = d.get("model") is not None, d.get("router") is not None
    if has_model == has_router:
        raise fail(where, "needs exactly one of 'model' (a deployment name) or 'router' (nested router settings)")
    if has_model:
        if not isinstance(d["model"], str) or not d["model"]:
            raise fail(f"{where}.model", f"expected a deployment name, got {d['model']!r}")
        return d["model"]
    return build(d["router"], f"{where}.router")


@dataclass(frozen=True)
class Rule:
    condition: Condition
    target: Target
    name: str | None = None


class RulesRouter:
    name = "rules"

    def __init__(self, rules: tuple[Rule, ...], default: Target | None):
        self.rules = rules
        self.default = default

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], where: str, build: Callable[[Any, str], Router]) -> "RulesRouter":
        check_keys(s, ("strategy", "rules", "default", "name"), where)
        raw = s.get("rules") or []
        if not isinstance(raw, list):
            raise fail(f"{where}.rules", f"expected a list of rules, got {type(raw).__name__}")
        rules = []
        for i, r in enumerate(raw):
            w = f"{where}.rules[{i}]"
            r = as_mapping(r, w)
            check_keys(r, ("if", "model", "router", "name"), w)
            name = r.get("name")
            if name is not None and not isinstance(name, str):
                raise fail(f"{w}.name", f"expected a string, got {name!r}")
            rules.append(Rule(parse_condition(r.get("if") or {}, f"{w}.if"), parse_target(r, w, build), name))
        default: Target | None = None
        if s.get("default") is not None:
            dv = s["default"]
            default = dv if isinstance(dv, str) and dv else parse_target(as_mapping(dv, f"{where}.default"),
                                                                         f"{where}.default", build)
        if not rules and default is None:
            raise fail(where, "a rules router needs at least one rule or a 'default'")
        return cls(tuple(rules), default)

    def _target_decision(self, target: Target, req: RouteRequest, why: str) -> Decision | None:
        if isinstance(target, str):
            if not req.allowed(target):
                return None
            cands = [ScoredCandidate(target, 1.0)]
            if isinstance(self.default, str) and self.default != target and req.allowed(self.default):
                cands.append(ScoredCandidate(self.default, 0.0))
            return Decision(target, tuple(cands), self.name, None, f"{why} -> {target}")
        try:
            d = target.route(req)
        except NoCandidateError:
            return None
        return replace(d, strategy=f"{self.name}>{d.strategy}", reason=f"{why}; {d.reason}")

    def describe(self) -> dict[str, Any]:
        def tgt(t: Target) -> Any:
            return t if isinstance(t, str) else t.describe()

        return {"strategy": self.name, "rules": [{"name": r.name, "target": tgt(r.target)} for r in self.rules],
                "default": None if self.default is None else tgt(self.default)}

    def route(self, request: RouteRequest) -> Decision:
        skipped = []
        for i, rule in enumerate(self.rules):
            if rule.condition.matches(request):
                label = f"rule {i} ({rule.name})" if rule.name else f"rule {i}"
                d = self._target_decision(rule.target, request, f"{label} matched")
                if d is not None:
                    return d
                skipped.append(str(i))
        if self.default is not None:
            why = "no rule matched" if not skipped else f"rules {','.join(skipped)} matched but target not allowed"
            d = self._target_decision(self.default, request, f"{why}; default")
            if d is not None:
                return d
        raise NoCandidateError("rules router: no matching rule or default names a model this key may use")
