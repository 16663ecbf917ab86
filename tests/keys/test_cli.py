"""The operator CLI against a real HTTP server (uvicorn on loopback) serving the admin router."""
from __future__ import annotations

import json
import threading
import time

import pytest

from gateway import cli
from tests.keys.conftest import MASTER, free_port
from gateway import settings


@pytest.fixture()
def gateway_url(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def run(capsys, url, *argv, master=MASTER):
    code = cli.main(["--url", url, "--master-key", master, *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_cli_create_list_block_spend_delete(gateway_url, capsys):
    code, team, _ = run(capsys, gateway_url, "team-create", "--team-id", "ops", "--models", "mock", "--rpm", "10")
    assert code == 0 and team["team_id"] == "ops"
    code, key, _ = run(capsys, gateway_url, "create", "--alias", "ci", "--models", "mock", "--max-budget", "5",
                       "--budget-duration", "30d", "--rpm", "60", "--team", "ops", "--metadata", '{"env": "ci"}')
    assert code == 0 and key["key"].startswith("sk-") and key["rpm_limit"] == 60 and key["metadata"] == {"env": "ci"}
    code, listed, _ = run(capsys, gateway_url, "list")
    assert listed["keys"] == [key["token"]]
    assert run(capsys, gateway_url, "block", key["key"])[1]["blocked"] is True
    assert run(capsys, gateway_url, "unblock", key["token"])[1]["blocked"] is False

    from gateway.keys import enforce, resolve

    adm = enforce.admit(resolve.resolve_token(key["key"]), request_id="cli-1", model="mock", prompt_tokens=5,
                        max_tokens=5, input_cost_per_token=0.01, output_cost_per_token=0.01)
    enforce.settle(adm, prompt_tokens=5, completion_tokens=5, cost=0.1, status=200, deployment="m", router=None, latency_ms=1)
    code, spent, _ = run(capsys, gateway_url, "spend", "--key", key["key"])
    assert code == 0 and spent["count"] == 1 and spent["total_spend"] == 0.1
    assert run(capsys, gateway_url, "info", key["key"])[1]["info"]["spend"] == 0.1
    assert run(capsys, gateway_url, "team-list")[1][0]["spend"] == 0.1
    assert run(capsys, gateway_url, "delete", key["key"])[1]["deleted_keys"] == [key["key"]]
    assert run(capsys, gateway_url, "list")[1]["total_count"] == 0


def test_cli_errors(gateway_url, capsys):
    code, _, err = run(capsys, gateway_url, "block", "sk-unknown")
    assert code == 1 and "404" in err
    code, _, err = run(capsys, gateway_url, "create", "--budget-duration", "often")
    assert code == 1 and "400" in err
    code, _, err = run(capsys, gateway_url, "list", master="sk-wrong")
    assert code == 1 and "401" in err
    code, _, err = run(capsys, f"http://127.0.0.1:{free_port()}", "list")
    assert code == 2 and "cannot reach" in err


def test_replay_settlements_from_error_log_lines(gateway_url, store, capsys, caplog, monkeypatch, tmp_path):
    """A settle that failed on an instance that then died exists only as its ERROR line; the CLI
    records it from the logs, exactly once however often it is replayed."""
    import logging
    import os
    from decimal import Decimal

    from gateway import aws
    from gateway.keys import resolve, spend
    from tests.keys.test_enforce import admit, make_key, settle

    p = resolve.resolve_token(make_key())
    adm = admit(p, "lost-on-a-dead-instance")
    good = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # DynamoDB unreachable
    monkeypatch.setenv("SETTLE_MAX_ATTEMPTS", "1")
    aws.reset()
    settings.reset()  # settings are read once; re-read them
    with caplog.at_level(logging.ERROR, logger="gateway.keys.spend"):
        settle(adm, cost=0.25)
    monkeypatch.setenv("AWS_ENDPOINT_URL", good)
    aws.reset()
    spend._pending.clear()  # the instance died: its in-process replay queue is gone
    lines = [r.getMessage() for r in caplog.records if "spend_settle_failed" in r.getMessage()]
    assert len(lines) == 1
    log_file = tmp_path / "errors.log"  # as exported from CloudWatch: timestamp, then the Powertools JSON
    log_file.write_text("noise line\n" + "".join(
        f"2026-11-23T12:00:00.000Z\t{json.dumps({'level': 'ERROR', 'message': line})}\n" for line in lines * 2))
    assert store.get_usage("key", p.key_hash).spend == Decimal("0")

    code, out, err = run(capsys, gateway_url, "replay-settlements", str(log_file))
    assert code == 0, err
    assert out == {"found": 1, "results": [{"request_id": "lost-on-a-dead-instance", "status": "recorded"}]}
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.25")
    assert store.get_usage("key", p.key_hash).reserved == Decimal("0")

    code, out, _ = run(capsys, gateway_url, "replay-settlements", str(log_file))
    assert out["results"][0]["status"] == "already_recorded"
    assert store.get_usage("key", p.key_hash).spend == Decimal("0.25")


def test_replay_refuses_what_is_not_a_settlement(gateway_url, capsys, tmp_path):
    from gateway.keys import schemas  # noqa: F401  (the route validates the body)

    bad = tmp_path / "bad.log"
    bad.write_text(json.dumps({"event": "spend_settle_failed", "request_id": "x", "settlement": {"log": {"nope": 1}}}) + "\n")
    code, out, err = run(capsys, gateway_url, "replay-settlements", str(bad))
    assert code == 1 and "settlements[0]" in err
