"""Durations (``30s``, ``1h``, ``30d``, ``1mo``) and the budget periods they define.

LiteLLM accepts these strings for ``duration`` (key expiry) and ``budget_duration`` (spend reset).
Budget periods here are *aligned*, not rolling from the key's creation: ``1d`` resets at 00:00 UTC,
``1h`` on the hour, ``Nmo`` at the start of a calendar month, and other lengths every N units counted
from the Unix epoch. Aligned periods let every Lambda instance compute the same period id from the
clock alone, so a reset needs no cron job and no coordination: the first request of a new period
resets the counter with a conditional write.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timezone

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w|mo)\s*$")


class DurationError(ValueError):
    """The string is not a duration this gateway understands."""


@dataclass(frozen=True)
class Duration:
    """A parsed duration: ``count`` units of ``unit`` (``s``, ``m``, ``h``, ``d``, ``w`` or ``mo``)."""

    count: int
    unit: str

    @property
    def text(self) -> str:
        return f"{self.count}{self.unit}"

    def seconds(self) -> int:
        """Length in seconds (a month counts as 30 days; only used for expiry, not for periods)."""
        if self.unit == "mo":
            return self.count * 30 * 86400
        return self.count * _UNITS[self.unit]

    def period_start(self, now: float) -> int:
        """Epoch seconds at which the budget period containing ``now`` began.

        The start (not an index) identifies a period so that ids of different durations compare
        in time order: shortening ``budget_duration`` resets spend at once, lengthening it keeps the
        spend until the longer period's boundary.
        """
        if self.unit == "mo":
            dt = datetime.fromtimestamp(now, timezone.utc)
            index = (dt.year * 12 + dt.month - 1) // self.count
            year, month0 = divmod(index * self.count, 12)
            return calendar.timegm((year, month0 + 1, 1, 0, 0, 0))
        length = self.seconds()
        return int(now // length) * length

    def period_end(self, start: int) -> float:
        """Epoch seconds at which the period that began at ``start`` ends (when spend resets)."""
        if self.unit == "mo":
            dt = datetime.fromtimestamp(start, timezone.utc)
            year, month0 = divmod(dt.year * 12 + dt.month - 1 + self.count, 12)
            return float(calendar.timegm((year, month0 + 1, 1, 0, 0, 0)))
        return float(start + self.seconds())


def parse_duration(value: str) -> Duration:
    """Parse ``30s``/``5m``/``1h``/``30d``/``2w``/``1mo``; raise DurationError otherwise."""
    if not isinstance(value, str):
        raise DurationError(f"duration must be a string like '30d', got {type(value).__name__}")
    match = _PATTERN.match(value)
    if not match or int(match.group(1)) <= 0:
        raise DurationError(f"invalid duration {value!r}: use a positive number followed by s, m, h, d, w or mo (e.g. '30d')")
    return Duration(int(match.group(1)), match.group(2))
