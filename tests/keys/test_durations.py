"""Durations and aligned budget periods (pure functions, no AWS)."""
from __future__ import annotations

import calendar

import pytest

from gateway.keys.durations import DurationError, parse_duration
from gateway.keys.budgets import worst_case_cost
from decimal import Decimal


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("30d", 2592000),
                                          ("2w", 1209600), ("1mo", 2592000), (" 7d ", 604800)])
def test_parse(text, seconds):
    assert parse_duration(text).seconds() == seconds


@pytest.mark.parametrize("bad", ["", "30", "d", "0d", "-1d", "1.5h", "1y", "30 days", "1M"])
def test_parse_rejects(bad):
    with pytest.raises(DurationError):
        parse_duration(bad)


def test_periods_are_aligned():
    t = calendar.timegm((2026, 11, 23, 8, 30, 15))
    day = parse_duration("1d")
    assert day.period_start(t) == calendar.timegm((2026, 11, 23, 0, 0, 0))
    assert day.period_end(day.period_start(t)) == calendar.timegm((2026, 11, 24, 0, 0, 0))
    month = parse_duration("1mo")
    assert month.period_start(t) == calendar.timegm((2026, 11, 1, 0, 0, 0))
    assert month.period_end(month.period_start(t)) == calendar.timegm((2026, 12, 1, 0, 0, 0))
    quarter = parse_duration("3mo")
    assert quarter.period_end(quarter.period_start(t)) == calendar.timegm((2027, 1, 1, 0, 0, 0))
    # ids of different durations compare in time: a shorter period starts later (spend resets at once)
    assert parse_duration("1d").period_start(t) > parse_duration("30d").period_start(t)


def test_worst_case_cost_rounds_up_exactly():
    assert worst_case_cost(10, 10, 0.001, 0.002) == Decimal("0.03")
    assert worst_case_cost(1, 0, 1e-11, 0) == Decimal("1E-10")  # never under-reserve
