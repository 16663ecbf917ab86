"""Spend reports computed from the spend logs: LiteLLM's ``/spend/tags``, ``/global/spend/report``,
``/global/spend/keys`` and ``/global/spend/models`` (FastAPI-free; ``gateway.routes.spend_reports``
serves them).

LiteLLM runs SQL over its ``LiteLLM_SpendLogs`` table (``spend_management_endpoints.py``,
``spend_tracking_utils.get_spend_by_team``, the ``Last30dKeysBySpend`` / ``Last30dModelsBySpend``
views of ``proxy/db/create_views.py``, 1.106.2); the rows here have the same field names. DynamoDB
has no GROUP BY, so a report reads the logs of its window (one Query per day on the ``LOGDAY#``
index, or the key's own partition when ``api_key`` is given) and sums them here, as ``Decimal``
(exact) until the response. Reading is bounded: a window spans at most ``SPEND_REPORT_MAX_DAYS``
(longer is a 400) and at most ``SPEND_REPORT_MAX_LOGS`` logs are read, newest first; a report that
hit that cap covers only the newest part of its window and says so (``Window.truncated``; the
route sends it as the ``x-gateway-report-truncated`` header, with ``x-gateway-report-oldest``).
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable, Literal

from gateway.errors import bad_request
from gateway.keys import admin, tokens
from gateway.keys import settings as key_settings
from gateway.keys.models import ZERO, SpendLog

GroupBy = Literal["team", "customer", "api_key", "key", "day", "model", "tag"]
#: LiteLLM's Last30d views: the keys and models reports cover the last 30 days
LAST_DAYS = 30
UNASSIGNED_TEAM = "Unassigned Team"  # LiteLLM's COALESCE(team_alias, 'Unassigned Team')


@dataclass(frozen=True)
class Window:
    """The logs a report is computed from, and whether the read cap cut them."""

    logs: list[SpendLog]
    truncated: bool

    @property
    def oldest(self) -> str | None:
        """The start of the oldest log read (for a truncated report: where its coverage begins)."""
        return _day_iso(min(log.start_time for log in self.logs)) if self.logs else None


def _day(value: str, param: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise bad_request(f"{param} must be a date (YYYY-MM-DD)", param=param) from None


def _day_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def window_bounds(start_date: str | None, end_date: str | None, *, default_days: int) -> tuple[float, float]:
    """``[start 00:00, end+1 00:00)`` in UTC, as LiteLLM's SQL reads its dates (the end day is included);
    missing dates mean the last ``default_days`` days up to today. 400 if over ``SPEND_REPORT_MAX_DAYS``."""
    today = datetime.now(timezone.utc).date()
    end = _day(end_date, "end_date") if end_date else today
    start = _day(start_date, "start_date") if start_date else end - timedelta(days=default_days)
    if end < start:
        raise bad_request("start_date must be on or before end_date", param="start_date")
    max_days = key_settings.get().spend_report_max_days
    if (end - start).days + 1 > max_days:
        raise bad_request(f"Date range too large; maximum is {max_days} days", param="start_date")
    if end >= date.max - timedelta(days=1) or start.year < 1970:
        raise bad_request("Dates must lie between 1970-01-01 and 9999-12-30", param="start_date" if start.year < 1970 else "end_date")
    return _midnight(start), _midnight(end + timedelta(days=1))


def read_window(start: float, end: float, *, api_key: str | None = None, team_id: str | None = None,
                user_id: str | None = None) -> Window:
    """The logs with ``start <= startTime < end``, newest first, at most ``SPEND_REPORT_MAX_LOGS``."""
    cap = key_settings.get().spend_report_max_logs
    store = admin._store()
    key_hash = tokens.to_hash(api_key) if api_key else None
    logs = admin._guard(store.query_logs, key_hash=key_hash, start=start, end=end, limit=cap + 1,
                        team_id=team_id, user_id=user_id, with_payload=False)
    return Window(logs=logs[:cap], truncated=len(logs) > cap)


def _money(value: Decimal) -> float:
    return float(value)


def _day_of(log: SpendLog) -> str:
    day = datetime.fromtimestamp(log.start_time, timezone.utc).date()
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).isoformat()


@dataclass
class _Sum:
    """Sums over one group of logs (Decimal: exact)."""

    spend: Decimal = ZERO
    prompt_tokens: int = 0
    completion_tokens: int = 0
    count: int = 0

    def add(self, log: SpendLog) -> None:
        self.spend += log.cost
        self.prompt_tokens += log.prompt_tokens
        self.completion_tokens += log.completion_tokens
        self.count += 1

    def totals(self) -> dict[str, Any]:
        """LiteLLM's names for one group's sums in its ``api_key`` report."""
        return {"total_cost": _money(self.spend), "total_input_tokens": self.prompt_tokens,
                "total_output_tokens": self.completion_tokens, "log_count": self.count}


def _grouped(logs: Iterable[SpendLog], key: Callable[[SpendLog], Any]) -> dict[Any, _Sum]:
    sums: dict[Any, _Sum] = defaultdict(_Sum)
    for log in logs:
        sums[key(log)].add(log)
    return sums


def _by_cost(sums: dict[Any, _Sum]) -> list[tuple[Any, _Sum]]:
    return sorted(sums.items(), key=lambda item: (-item[1].spend, str(item[0])))


# ---------------------------------------------------------------- /spend/tags
def spend_by_tags(window: Window) -> list[dict[str, Any]]:
    """LiteLLM's ``view_spend_tags``: per tag, the logs carrying it and their spend (most spent first)."""
    sums: dict[str, _Sum] = defaultdict(_Sum)
    for log in window.logs:
        for tag in log.request_tags:
            sums[tag].add(log)
    return [{"individual_request_tag": tag, "log_count": s.count, "total_spend": _money(s.spend)}
            for tag, s in _by_cost(sums)]


# ---------------------------------------------------------------- /global/spend/report
def _daily(logs: list[SpendLog], who: Callable[[SpendLog], Any], name_field: str, list_field: str
           ) -> list[dict[str, Any]]:
    """LiteLLM's daily shape (``get_spend_by_team``): per day, per group, the spend by (model, key)."""
    days: dict[str, dict[Any, dict[tuple[str, str], _Sum]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(_Sum)))
    for log in logs:
        days[_day_of(log)][who(log)][(log.model, log.key_hash)].add(log)
    rows = []
    for day in sorted(days):
        groups = []
        for name, parts in sorted(days[day].items(), key=lambda item: str(item[0])):
            groups.append({
                name_field: name,
                "total_spend": _money(sum((s.spend for s in parts.values()), ZERO)),
                "metadata": [{"model": model, "api_key": key_hash, "spend": _money(s.spend),
                              "total_tokens": s.prompt_tokens + s.completion_tokens}
                             for (model, key_hash), s in sorted(parts.items())],
            })
        rows.append({"group_by_day": day, list_field: groups})
    return rows


def _by_api_key(logs: list[SpendLog]) -> list[dict[str, Any]]:
    """LiteLLM's ``group_by=api_key`` shape: per key, its totals and a per-model breakdown."""
    per_key = _grouped(logs, lambda log: log.key_hash)
    per_model = _grouped(logs, lambda log: (log.key_hash, log.model))
    rows = []
    for key_hash, total in _by_cost(per_key):
        details = [{"model": model, **s.totals()} for (k, model), s in _by_cost(per_model) if k == key_hash]
        rows.append({"api_key": key_hash, **total.totals(), "model_details": details})
    return rows


def _team_names() -> dict[str, str]:
    store = admin._store()
    return {team.team_id: team.team_alias or team.team_id for team in admin._guard(store.list_teams)}


def global_report(window: Window, group_by: GroupBy, *, api_key_filtered: bool = False) -> list[dict[str, Any]]:
    """``/global/spend/report``. LiteLLM's groupings: ``team`` (daily, by team alias), ``customer``
    (daily, by the request's end user: the spend log's ``end_user``) and
    ``api_key``; with ``api_key`` or ``internal_user_id`` given, LiteLLM answers in the ``api_key``
    shape whatever ``group_by`` says. The gateway adds ``day``, ``model`` and ``tag`` (``key`` is
    ``api_key``): one row per day / model / tag with the ``api_key`` shape's totals."""
    logs = window.logs
    if api_key_filtered or group_by in ("api_key", "key"):
        return _by_api_key(logs)
    if group_by == "team":
        names = _team_names()
        return _daily(logs, lambda log: names.get(log.team_id or "", UNASSIGNED_TEAM), "team_name", "teams")
    if group_by == "customer":
        return _daily(logs, lambda log: log.end_user, "customer", "customers")
    if group_by == "day":
        return [{"group_by_day": day, **s.totals()} for day, s in sorted(_grouped(logs, _day_of).items())]
    if group_by == "model":
        return [{"model": model, **s.totals()} for model, s in _by_cost(_grouped(logs, lambda log: log.model))]
    sums: dict[str, _Sum] = defaultdict(_Sum)
    for log in logs:
        for tag in log.request_tags:
            sums[tag].add(log)
    return [{"individual_request_tag": tag, **s.totals()} for tag, s in _by_cost(sums)]


# ---------------------------------------------------------------- top keys / models (last 30 days)
def top_keys(window: Window, limit: int | None) -> list[dict[str, Any]]:
    """LiteLLM's ``Last30dKeysBySpend``: api_key, key_alias, key_name, total_spend; most spent first."""
    store = admin._store()
    keys = {key.token: key for key in admin._guard(store.list_keys)}
    rows = []
    for key_hash, s in _by_cost(_grouped(window.logs, lambda log: log.key_hash))[:limit]:
        record = keys.get(key_hash)
        rows.append({"api_key": key_hash, "key_alias": getattr(record, "key_alias", None),
                     "key_name": getattr(record, "key_name", None), "total_spend": _money(s.spend)})
    return rows


def top_models(window: Window, limit: int) -> list[dict[str, Any]]:
    """LiteLLM's ``Last30dModelsBySpend``: model, total_spend (logs without a model left out)."""
    sums = _grouped((log for log in window.logs if log.model), lambda log: log.model)
    return [{"model": model, "total_spend": _money(s.spend)} for model, s in _by_cost(sums)[:limit]]


def last_days_bounds() -> tuple[float, float]:
    """LiteLLM's views read ``startTime >= CURRENT_DATE - 30 days`` (to now)."""
    today = datetime.now(timezone.utc).date()
    return _midnight(today - timedelta(days=LAST_DAYS)), time.time() + 60
