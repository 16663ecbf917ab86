"""Spend tags and LiteLLM's spend reports over HTTP: tags from the request (``metadata.tags`` and
top-level ``tags``), the key and its team reach the spend log and the reports, are bounded, and
never reach the provider; the reports add up to the logs exactly and say when the read cap cut them."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest
from openai import OpenAI

from tests.anthropic.conftest import generate_key
from tests.conftest import MASTER_KEY

USER = [{"role": "user", "content": "hi"}]
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def _get(http_server: str, path: str, **params) -> httpx.Response:
    return httpx.get(http_server + path, params=params, headers=ADMIN, timeout=20)


def _logs(http_server: str, key: str) -> list[dict]:
    response = _get(http_server, "/spend/logs", api_key=key)
    assert response.status_code == 200, response.text
    return response.json()


def _sum(values) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal(0))


@pytest.fixture()
def tagged(http_server, base_url, upstream):
    """Two keys (one in a team, both with their own tags) and four calls with request tags."""
    run = uuid.uuid4().hex[:8]
    team_id = f"team-{run}"
    created = httpx.post(http_server + "/team/new", headers=ADMIN, timeout=10,
                         json={"team_id": team_id, "team_alias": f"alias-{run}", "metadata": {"tags": [f"team-{run}"]}})
    assert created.status_code == 200, created.text
    in_team = generate_key(http_server, models=["fake", "mock"], team_id=team_id, key_alias=f"a-{run}",
                           metadata={"tags": [f"key-{run}"]})
    alone = generate_key(http_server, models=["fake", "mock"], key_alias=f"b-{run}")
    upstream.reset()
    a = OpenAI(base_url=base_url, api_key=in_team, max_retries=0, timeout=20)
    b = OpenAI(base_url=base_url, api_key=alone, max_retries=0, timeout=20)
    a.chat.completions.create(model="fake", messages=USER, extra_body={"metadata": {"tags": [f"proj:{run}"]},
                                                                       "tags": [f"top-{run}"]})
    a.chat.completions.create(model="mock", messages=USER, extra_body={"metadata": {"tags": [f"proj:{run}"]}})
    b.chat.completions.create(model="fake", messages=USER, extra_body={"tags": [f"proj:{run}", f"proj:{run}"]})
    b.chat.completions.create(model="fake", messages=USER)
    return {"run": run, "team_id": team_id, "in_team": in_team, "alone": alone}


def test_tags_are_recorded_on_the_spend_log_in_litellms_order(http_server, tagged):
    run = tagged["run"]
    by_model = {log["model"]: log for log in _logs(http_server, tagged["in_team"])}
    assert by_model["fake"]["request_tags"] == [f"proj:{run}", f"top-{run}", f"key-{run}", f"team-{run}"]
    assert by_model["mock"]["request_tags"] == [f"proj:{run}", f"key-{run}", f"team-{run}"]
    alone = sorted((log["request_tags"] for log in _logs(http_server, tagged["alone"])), key=len)
    assert alone == [[], [f"proj:{run}"]]  # duplicates kept once, no tags when none were sent


def test_tags_do_not_reach_the_provider(tagged, upstream):
    bodies = [call["body"] for call in upstream.calls()]
    assert len(bodies) == 3  # the mock model makes no HTTP call
    for body in bodies:
        assert "tags" not in body and "metadata" not in body
        assert tagged["run"] not in json.dumps(body)


def test_spend_tags(http_server, tagged):
    run = tagged["run"]
    response = _get(http_server, "/spend/tags", start_date=_today(), end_date=_today())
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-report-truncated"] == "false"
    rows = {row["individual_request_tag"]: row for row in response.json()}
    logs = _logs(http_server, tagged["in_team"]) + _logs(http_server, tagged["alone"])
    project = [log for log in logs if f"proj:{run}" in log["request_tags"]]
    assert rows[f"proj:{run}"]["log_count"] == 3
    assert _sum([rows[f"proj:{run}"]["total_spend"]]) == _sum(log["spend"] for log in project) > 0
    assert rows[f"team-{run}"]["log_count"] == rows[f"key-{run}"]["log_count"] == 2
    assert rows[f"top-{run}"]["log_count"] == 1
    assert set(rows[f"proj:{run}"]) == {"individual_request_tag", "log_count", "total_spend"}


def test_report_by_api_key_adds_up_to_the_logs(http_server, tagged):
    key = tagged["in_team"]
    response = _get(http_server, "/global/spend/report", start_date=_today(), end_date=_today(), api_key=key)
    assert response.status_code == 200, response.text
    [row] = response.json()
    logs = _logs(http_server, key)
    assert row["api_key"] == logs[0]["api_key"]
    assert _sum([row["total_cost"]]) == _sum(log["spend"] for log in logs)
    assert row["total_input_tokens"] == sum(log["prompt_tokens"] for log in logs)
    assert sorted(detail["model"] for detail in row["model_details"]) == ["fake", "mock"]
    assert _sum(d["total_cost"] for d in row["model_details"]) == _sum([row["total_cost"]])


def test_report_by_team_per_day(http_server, tagged):
    response = _get(http_server, "/global/spend/report", start_date=_today(), end_date=_today(), group_by="team",
                    team_id=tagged["team_id"])
    assert response.status_code == 200, response.text
    [day] = response.json()
    assert day["group_by_day"].startswith(_today())
    [team] = day["teams"]
    assert team["team_name"] == f"alias-{tagged['run']}"
    logs = _logs(http_server, tagged["in_team"])
    assert _sum([team["total_spend"]]) == _sum(log["spend"] for log in logs)
    assert {(m["model"], m["api_key"]) for m in team["metadata"]} == {(log["model"], log["api_key"]) for log in logs}


@pytest.mark.parametrize("group_by,field", [("model", "model"), ("tag", "individual_request_tag"),
                                            ("day", "group_by_day"), ("api_key", "api_key"), ("key", "api_key")])
def test_report_extra_groupings(http_server, tagged, group_by, field):
    response = _get(http_server, "/global/spend/report", start_date=_today(), end_date=_today(), group_by=group_by)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert rows and all(field in row and "total_cost" in row and "log_count" in row for row in rows)
    if group_by == "tag":
        mine = {row[field]: row["log_count"] for row in rows if tagged["run"] in row[field]}
        assert mine[f"proj:{tagged['run']}"] == 3


def test_top_keys_and_models(http_server, tagged):
    keys = _get(http_server, "/global/spend/keys", limit=1000)
    assert keys.status_code == 200, keys.text
    rows = {row["api_key"]: row for row in keys.json()}
    for key in (tagged["in_team"], tagged["alone"]):
        logs = _logs(http_server, key)
        row = rows[logs[0]["api_key"]]
        assert _sum([row["total_spend"]]) == _sum(log["spend"] for log in logs)
        assert row["key_alias"] == logs[0]["key_alias"] and row["key_name"]
    spends = [row["total_spend"] for row in keys.json()]
    assert spends == sorted(spends, reverse=True)
    models = _get(http_server, "/global/spend/models", limit=2)
    assert models.status_code == 200
    assert len(models.json()) <= 2 and all(set(row) == {"model", "total_spend"} for row in models.json())
    assert "fake" in {row["model"] for row in _get(http_server, "/global/spend/models", limit=100).json()}


def test_a_report_cut_by_the_read_cap_says_so(http_server, tagged, monkeypatch):
    from gateway import settings

    monkeypatch.setenv("SPEND_REPORT_MAX_LOGS", "2")
    settings.reset()
    response = _get(http_server, "/spend/tags", start_date=_today(), end_date=_today())
    assert response.status_code == 200
    assert response.headers["x-gateway-report-truncated"] == "true"
    assert response.headers["x-gateway-report-logs"] == "2"
    assert sum(row["log_count"] for row in response.json()) <= 2 * 32


def test_report_windows_are_bounded(http_server):
    too_long = _get(http_server, "/global/spend/report", start_date="2020-01-01", end_date=_today())
    assert too_long.status_code == 400 and too_long.json()["error"]["param"] == "start_date"
    missing = _get(http_server, "/global/spend/report", start_date=_today())
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "end_date"
    bad = _get(http_server, "/spend/tags", start_date="2024-13-01", end_date="2024-12-01")
    assert bad.status_code == 400
    unknown = _get(http_server, "/global/spend/report", start_date=_today(), end_date=_today(), group_by="planet")
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "group_by"


def test_reports_are_admin_only(http_server):
    key = generate_key(http_server, models=["fake"])
    for path in ("/spend/tags", "/global/spend/report", "/global/spend/keys", "/global/spend/models"):
        response = httpx.get(http_server + path, headers={"authorization": f"Bearer {key}"}, timeout=10)
        assert response.status_code == 403, path


@pytest.mark.parametrize("body", [
    {"metadata": {"tags": [f"t{i}" for i in range(17)]}},
    {"metadata": {"tags": ["has space"]}},
    {"metadata": {"tags": ["x" * 65]}},
    {"metadata": {"tags": "not-a-list"}},
    {"tags": ["comma,separated"]},
    {"tags": [{"nested": "object"}]},
], ids=["too-many", "space", "too-long", "not-a-list", "comma", "object"])
def test_caller_tags_are_bounded(base_url, http_server, body, upstream):
    key = generate_key(http_server, models=["fake"])
    before = len(upstream.calls())
    response = httpx.post(base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"}, timeout=10,
                          json={"model": "fake", "messages": USER, **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"].split(".")[0] in ("metadata", "tags") and error["type"] == "invalid_request_error"
    assert len(upstream.calls()) == before


def test_reports_read_logs_without_their_payload(stack):
    """Stored prompt text (GATEWAY_LOG_PROMPTS, up to 64 KiB a log) is left out of what a report
    reads, and nothing else is."""
    import time
    from dataclasses import fields, replace

    from gateway.keys import reports
    from gateway.keys.models import SpendLog
    from gateway.keys.store import dynamodb, get_store
    from gateway.keys.store.base import Settlement

    now = time.time()
    key_hash = uuid.uuid4().hex
    log = SpendLog(request_id=uuid.uuid4().hex, key_hash=key_hash, team_id=None, user_id="u", key_alias="a",
                   model="fake", deployment="d", router={"strategy": "x"}, prompt_tokens=3, completion_tokens=4,
                   cost=Decimal("0.0000123"), latency_ms=5.0, status=200, error_code=None, start_time=now,
                   end_time=now, ttl=int(now + 3600), payload='{"messages": "secret prompt"}', response_id="chatcmpl-x",
                   request_tags=("t1", "t2"))
    store = get_store()
    store.commit(Settlement(log=log))
    start, end = reports.window_bounds(_today(), _today(), default_days=1)
    [full] = store.query_logs(key_hash=key_hash, start=start, end=end, limit=5)
    [light] = store.query_logs(key_hash=key_hash, start=start, end=end, limit=5, with_payload=False)
    assert full.payload == log.payload and light.payload is None
    assert replace(light, payload=log.payload) == full
    assert full.request_tags == ("t1", "t2")
    written = set(dynamodb.log_item(full)) - {"pk", "sk", "gsi1pk", "gsi1sk", "payload", "total_tokens"}
    assert written == set(dynamodb._LOG_ATTRS_WITHOUT_PAYLOAD)
    assert {f.name for f in fields(SpendLog)} >= written - {"type", "api_key", "spend"}


def test_a_responses_requests_metadata_is_not_read_as_tags(base_url, http_server):
    """The Responses API's metadata is the caller's string map: a "tags" entry there is no spend tag."""
    key = generate_key(http_server, models=["fake"])
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20)
    response = client.responses.create(model="fake", input="hi", metadata={"tags": "free text, with spaces"})
    [log] = [log for log in _logs(http_server, key) if log["response_id"] == response.id]
    assert log["request_tags"] == []


def test_report_dates_at_the_end_of_the_calendar(http_server):
    response = _get(http_server, "/global/spend/report", start_date="9999-12-31", end_date="9999-12-31")
    assert response.status_code == 400 and response.json()["error"]["param"] == "end_date"
