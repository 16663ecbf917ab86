"""LiteLLM's spend reports, admin only: ``/spend/tags``, ``/global/spend/report``,
``/global/spend/keys``, ``/global/spend/models``.

Thin: parse, call ``gateway.keys.reports``, return (plain ``def`` routes: the DynamoDB reads run in
FastAPI's threadpool). The bodies are LiteLLM's lists; whether the read cap cut a report is in the
headers, since a list has no room for it: ``x-gateway-report-logs`` (logs read),
``x-gateway-report-truncated`` (``true`` when the cap was reached: the report covers only the
newest logs of its window) and ``x-gateway-report-oldest`` (the oldest log read).
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from gateway.auth import require_admin
from gateway.errors import bad_request
from gateway.keys import reports
from gateway.keys.schemas import MAX_NAME_CHARS, MAX_TEAM_ID_CHARS, TEAM_ID_PATTERN

router = APIRouter(tags=["spend"], dependencies=[Depends(require_admin)])

DateParam = Annotated[Optional[str], Query(min_length=10, max_length=10, description="YYYY-MM-DD (UTC)")]
NameParam = Annotated[Optional[str], Query(max_length=MAX_NAME_CHARS)]
TeamIdParam = Annotated[Optional[str], Query(min_length=1, max_length=MAX_TEAM_ID_CHARS, pattern=TEAM_ID_PATTERN)]
MAX_TOP = 1000


def _answer(rows: list[dict[str, Any]], window: reports.Window) -> JSONResponse:
    headers = {"x-gateway-report-logs": str(len(window.logs)),
               "x-gateway-report-truncated": "true" if window.truncated else "false"}
    if window.oldest:
        headers["x-gateway-report-oldest"] = window.oldest
    return JSONResponse(rows, headers=headers)


@router.get("/spend/tags", summary="Spend per request tag (LiteLLM's view_spend_tags)")
def spend_tags(start_date: DateParam = None, end_date: DateParam = None) -> JSONResponse:
    """Without dates: the last 30 days (LiteLLM reads every log; here a window is always bounded)."""
    start, end = reports.window_bounds(start_date, end_date, default_days=reports.LAST_DAYS)
    window = reports.read_window(start, end)
    return _answer(reports.spend_by_tags(window), window)


@router.get("/global/spend/report", summary="Spend by team, customer, key, day, model or tag")
def global_spend_report(
    start_date: DateParam = None,
    end_date: DateParam = None,
    group_by: reports.GroupBy = "team",
    api_key: NameParam = None,
    internal_user_id: NameParam = None,
    team_id: TeamIdParam = None,
) -> JSONResponse:
    if start_date is None or end_date is None:  # as LiteLLM: both are required
        raise bad_request("Please provide start_date and end_date", param="start_date" if start_date is None else "end_date")
    start, end = reports.window_bounds(start_date, end_date, default_days=reports.LAST_DAYS)
    window = reports.read_window(start, end, api_key=api_key, team_id=team_id, user_id=internal_user_id)
    rows = reports.global_report(window, group_by, api_key_filtered=bool(api_key or internal_user_id))
    return _answer(rows, window)


@router.get("/global/spend/keys", summary="The keys with the most spend in the last 30 days")
def global_spend_keys(limit: Annotated[Optional[int], Query(ge=1, le=MAX_TOP)] = None) -> JSONResponse:
    window = reports.read_window(*reports.last_days_bounds())
    return _answer(reports.top_keys(window, limit), window)


@router.get("/global/spend/models", summary="The models with the most spend in the last 30 days")
def global_spend_models(limit: Annotated[int, Query(ge=1, le=MAX_TOP)] = 10) -> JSONResponse:
    window = reports.read_window(*reports.last_days_bounds())
    return _answer(reports.top_models(window, limit), window)
