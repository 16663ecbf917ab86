"""The operator CLI against a real HTTP server (uvicorn on loopback) serving the admin router."""
from __future__ import annotations

import json
import threading
import time

import pytest

from gateway import cli
from tests.keys.conftest import MASTER, free_port


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
