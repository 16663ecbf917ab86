"""A threshold router calibrated on its own production traffic, and budget-aware routing.

A gateway process serves tests/fixtures/router_calibration.yaml with the shipped default artifact
under its own S3 prefix (the session's other tests keep theirs). Traffic of a task family the
artifact was not trained on goes through ``auto-cal``; ``POST /router/calibrate`` rebuilds the
calibration sample from the spend logs' decisions, publishes a new version to S3, and the instance
hot-reloads it: the same prompts then go to the strong model at the configured share.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import boto3
import httpx
import pytest

from router import RouteRequest, build_router, load_artifact
from tests.conftest import BUCKET, FIXTURES, MASTER_KEY, ROOT
from tests.support.gateway_processes import gateway_processes

PREFIX = "router-calibration/"
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
DEFAULT_ARTIFACT = ROOT / "router" / "artifacts" / "default"


def _traffic(n: int, seed: int = 7) -> list[str]:
    """Prompts of a family unlike MMLU's multiple choice: coding, rewriting and chat requests."""
    rng = random.Random(seed)
    verbs = ["parses", "sorts", "merges", "validates", "compresses", "caches", "retries", "streams"]
    things = ["CSV rows", "JSON logs", "a linked list", "user sessions", "HTTP headers", "dates", "invoices"]
    langs = ["Python", "Go", "Rust", "TypeScript", "SQL", "Bash"]
    tones = ["friendly", "formal", "short", "detailed"]
    out = set()
    while len(out) < n:
        kind = rng.randrange(4)
        if kind == 0:
            text = f"Write a {rng.choice(langs)} function that {rng.choice(verbs)} {rng.choice(things)}."
        elif kind == 1:
            text = (f"Rewrite this note in a {rng.choice(tones)} tone: the {rng.choice(things)} job "
                    f"{rng.choice(verbs)} slowly since {rng.randrange(1, 28)} March.")
        elif kind == 2:
            text = f"Why does my {rng.choice(langs)} code that {rng.choice(verbs)} {rng.choice(things)} fail with error {rng.randrange(100, 999)}?"
        else:
            text = f"Give me {rng.randrange(2, 9)} ideas for a weekend with {rng.choice(things)}" + "!" * rng.randrange(3)
        out.add(text)
    return sorted(out)


@pytest.fixture(scope="module")
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def environment(stack) -> dict[str, str]:
    """The deployment's environment: what the gateway and ``python -m router calibrate`` both read."""
    return dict(os.environ, LITELLM_CONFIG_PATH=str(FIXTURES / "router_calibration.yaml"),
                LLMROUTER_MODEL_S3_KEY=PREFIX, CONFIG_HOT_RELOAD="true", CONFIG_SYNC_INTERVAL="1")


@pytest.fixture(scope="module")
def gateway(environment, upstream, s3):
    for path in DEFAULT_ARTIFACT.iterdir():
        s3.put_object(Bucket=BUCKET, Key=PREFIX + "default/" + path.name, Body=path.read_bytes())
    with gateway_processes(environment) as (url,):
        yield url


def _chat(gateway: str, model: str, text: str, key: str = MASTER_KEY) -> httpx.Response:
    response = httpx.post(gateway + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                          json={"model": model, "messages": [{"role": "user", "content": text}]}, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _route(gateway: str, model: str, text: str) -> dict:
    response = httpx.post(gateway + "/router/route", headers=ADMIN, timeout=10,
                          json={"model": model, "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text
    return response.json()


def _calibrate(gateway: str, **body) -> httpx.Response:
    return httpx.post(gateway + "/router/calibrate", headers=ADMIN, json=body, timeout=60)


def _artifact_version(gateway: str) -> str:
    info = httpx.get(gateway + "/router/info", headers=ADMIN, timeout=10).json()
    return info["artifacts"]["default"]["version"]


def test_calibration_from_spend_logs_reaches_the_target_share_and_hot_reloads(gateway, s3):
    prompts = _traffic(300)
    before_version = _artifact_version(gateway)
    served = [_chat(gateway, "auto-cal", text).headers["x-gateway-model"] for text in prompts]
    observed = served.count("pricey") / len(served)

    dry = _calibrate(gateway, router="auto-cal", since="1h", dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["written"] is False and _artifact_version(gateway) == before_version

    response = _calibrate(gateway, router="auto-cal", since="1h")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["samples"] == 300 and report["written"] is True
    assert report["fraction_before"] == pytest.approx(observed)  # what production saw, recomputed from the logs
    assert abs(report["fraction_after"] - 0.3) <= 0.02
    assert report["version"].startswith(before_version + "+cal.")

    listed = {o["Key"][len(PREFIX + "default/"):] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]}
    assert "calibration.npz" not in listed and any(n.startswith("calibration-") for n in listed)
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=PREFIX + "default/manifest.json")["Body"].read())
    assert manifest["version"] == report["version"] and manifest["calibration"]["samples"] == 300
    assert set(manifest["files"]) == {"weights.npz", next(n for n in listed if n.startswith("calibration-"))}

    deadline = time.monotonic() + 20
    while _artifact_version(gateway) != report["version"]:
        assert time.monotonic() < deadline, "the calibrated version was not hot-reloaded"
        time.sleep(0.5)
    after = [_route(gateway, "auto-cal", text) for text in prompts]
    share = sum(1 for d in after if d["model"] == "pricey") / len(after)
    print(f"strong share before {observed:.3f}, after {share:.3f}")
    assert abs(share - 0.3) <= 0.02, (observed, share)
    assert {d["decision"]["artifact_version"] for d in after} == {report["version"]}

    # the next calibration reads decisions of both versions: they share the weights
    again = _calibrate(gateway, router="auto-cal", since="1h", dry_run=True)
    assert again.status_code == 200 and again.json()["previous_version"] == report["version"]


def _cli(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in environment.items() if k not in ("AWS_LAMBDA_RUNTIME_API", "GATEWAY_DEV_MODE")}
    return subprocess.run([sys.executable, "-m", "router", "calibrate", "--from-spend-logs", *args], cwd=str(ROOT),
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_calibrates_from_the_same_spend_logs(gateway, environment, s3):
    before = s3.get_object(Bucket=BUCKET, Key=PREFIX + "default/manifest.json")["ETag"]
    done = _cli(environment, "--router", "auto-cal", "--since", "1h", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "router auto-cal:" in done.stdout and "-> 30.0%" in done.stdout and "dry run" in done.stdout
    refused = _cli(environment, "--router", "auto-quiet", "--since", "1h")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: only 0 logged decisions")
    assert s3.get_object(Bucket=BUCKET, Key=PREFIX + "default/manifest.json")["ETag"] == before


def test_spend_logs_carry_the_decision_numbers_and_no_prompt(gateway):
    text = "Write a Go function that merges HTTP headers."
    request_id = _chat(gateway, "auto-cal", text).headers["x-request-id"]
    logs = httpx.get(gateway + "/spend/logs", params={"request_id": request_id}, headers=ADMIN, timeout=10).json()
    [log] = logs
    router = log["metadata"]["router"]
    assert len(router["qualities"]) == 2 and isinstance(router["score"], float)
    assert router["router"] == "auto-cal"
    assert text not in json.dumps(log)


@pytest.mark.parametrize("body, status, code", [
    ({"router": "auto-quiet", "since": "1h"}, 409, "calibration_not_possible"),
    ({"router": "auto-rules"}, 400, "router_not_calibratable"),
    ({"router": "nope"}, 404, "model_not_found"),
    ({"router": "auto-cal", "since": "forever"}, 400, None),
    ({"router": "auto-cal", "strong_fraction": 1.5}, 400, "invalid_value"),
])
def test_calibration_refusals_write_nothing(gateway, s3, body, status, code):
    before = s3.get_object(Bucket=BUCKET, Key=PREFIX + "default/manifest.json")["ETag"]
    response = _calibrate(gateway, **body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and (code is None or error["code"] == code)
    assert s3.get_object(Bucket=BUCKET, Key=PREFIX + "default/manifest.json")["ETag"] == before


def test_calibration_needs_the_master_key(gateway):
    key = httpx.post(gateway + "/key/generate", headers=ADMIN, json={}, timeout=10).json()["key"]
    response = httpx.post(gateway + "/router/calibrate", headers={"authorization": f"Bearer {key}"},
                          json={"router": "auto-cal"}, timeout=10)
    assert response.status_code in (401, 403)


def _middle_prompt() -> str:
    """A prompt the budget router sends strong at its full fraction (0.5) but weak under 0.25."""
    art = load_artifact(DEFAULT_ARTIFACT)
    settings = {"strategy": "threshold", "weak_model": "cheap", "strong_model": "pricey"}
    for text in _traffic(200, seed=11):
        at = {f: build_router({**settings, "strong_fraction": f}, art).route(RouteRequest(
            messages=({"role": "user", "content": text},))).model for f in (0.5, 0.25)}
        if at == {0.5: "pricey", 0.25: "cheap"}:
            return text
    pytest.fail("no prompt between the 25% and 50% strong thresholds")


def test_a_draining_budget_shifts_auto_to_the_cheaper_model(gateway):
    text = _middle_prompt()
    key = httpx.post(gateway + "/key/generate", headers=ADMIN, json={"max_budget": 0.001, "models": ["auto-budget", "cheap", "pricey"]},
                     timeout=10).json()["key"]
    first = _chat(gateway, "auto-budget", text, key)
    assert first.headers["x-gateway-model"] == "pricey"
    assert "x-gateway-budget-share" not in first.headers and "budget" not in first.headers["x-gateway-router-reason"]
    seen = []
    for _ in range(30):
        response = _chat(gateway, "auto-budget", text, key)
        share = response.headers.get("x-gateway-budget-share")
        seen.append((response.headers["x-gateway-model"], share))
        if response.headers["x-gateway-model"] == "cheap":
            break
    model, share = seen[-1]
    assert model == "cheap", seen
    assert share is not None and 0 < float(share) < 0.5, seen  # shifted, before the budget ran out
    assert "budget" in response.headers["x-gateway-router-reason"]
    shares = [float(s) for _, s in seen if s is not None]
    assert shares == sorted(shares, reverse=True) and max(shares) < 0.5
    logs = httpx.get(gateway + "/spend/logs", params={"request_id": response.headers["x-request-id"]},
                     headers=ADMIN, timeout=10).json()
    assert logs[0]["metadata"]["router"]["budget_share"] == pytest.approx(float(share), abs=1e-4)
