"""The authenticated caller of one request: a ground-floor type that auth, keys, batch and the
pipeline all use, so none of them has to import another just to name it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: Literal["master", "virtual"]
    key_hash: str | None = None
    key: Any = None  # gateway.keys record of the virtual key
    team: Any = None  # gateway.keys record of its team, if any
    is_admin: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def master(cls) -> "Principal":
        return cls(kind="master", is_admin=True)

    @property
    def key_id(self) -> str:
        """A stable, non-secret id for logs, A/B buckets and spend ("master" for the master key)."""
        return self.key_hash or "master"
