"""Deterministic A/B split between two router configs (and artifacts) by hash of the key id.

Settings (either form)::

    {"strategy": "ab", "split": 0.5, "salt": "exp-2026-11", "a": {...router settings...}, "b": {...}}
    {"ab": {"split": 0.5, "a": {...}, "b": {...}}}

``split`` is the share of keys sent to arm ``a``. The bucket is the first 8 bytes of
SHA-256(salt + ":" + key_id) read as an integer / 2**64, so a key always lands in the same arm on
every instance, and changing ``salt`` reshuffles. Requests without a key id use the team id, then
the literal ``"anonymous"``. Each arm may name its artifact with ``"artifact": "<name>"`` when
``build_router`` is given a mapping of artifacts (see ``router.factory``).
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Callable, Mapping

from ..settings import check_keys, fail, get_number, get_str
from ..types import Decision, RouteRequest, Router


def bucket(key: str, salt: str) -> float:
    """Uniform value in [0, 1) from the key id; stable across processes and machines."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


class ABRouter:
    name = "ab"

    def __init__(self, split: float, salt: str, a: Router, b: Router):
        self.split, self.salt, self.a, self.b = split, salt, a, b

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], where: str, build: Callable[[Any, str], Router]) -> "ABRouter":
        check_keys(s, ("strategy", "split", "salt", "a", "b", "name"), where)
        split = float(get_number(s, "split", where, lo=0.0, hi=1.0, required=True))
        salt = get_str(s, "salt", where, required=False, default="router-ab") or "router-ab"
        for arm in ("a", "b"):
            if s.get(arm) is None:
                raise fail(f"{where}.{arm}", "is required (router settings of that arm)")
        return cls(split, salt, build(s["a"], f"{where}.a"), build(s["b"], f"{where}.b"))

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "split": self.split, "salt": self.salt, "a": self.a.describe(),
                "b": self.b.describe()}

    def arm(self, request: RouteRequest) -> str:
        key = request.key_id or request.team_id or "anonymous"
        return "a" if bucket(key, self.salt) < self.split else "b"

    def route(self, request: RouteRequest) -> Decision:
        arm = self.arm(request)
        d = (self.a if arm == "a" else self.b).route(request)
        return replace(d, strategy=f"ab:{arm}>{d.strategy}", reason=f"ab arm {arm}; {d.reason}")
