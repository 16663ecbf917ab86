"""The stateless router inside the gateway: artifacts from S3 (verified, hot-reloaded, last good
kept), virtual models (`auto`), decision headers, admin info and dry runs."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import httpx
import pytest

from gateway.learned_routing.artifact_sync import ArtifactStore
from tests.conftest import BUCKET, MASTER_KEY, ROOT
from tests.support.clock import Clock

DEFAULT_ARTIFACT = ROOT / "router" / "artifacts" / "default"
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
HARD = "Prove that the multiplicative group of integers modulo n is cyclic exactly when n is 1, 2, 4, p^k or 2p^k."


@pytest.fixture()
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1")


def _upload(s3, prefix: str, directory: Path) -> None:
    for path in directory.iterdir():
        s3.put_object(Bucket=BUCKET, Key=prefix + path.name, Body=path.read_bytes())


@pytest.fixture()
def store(s3, tmp_path, stack, request):
    prefix = f"rt-{request.node.name}/"
    _upload(s3, prefix + "default/", DEFAULT_ARTIFACT)
    clock = Clock()
    store = ArtifactStore(BUCKET, prefix, str(tmp_path), hot_reload=True, interval=10, clock=clock)
    store.clock, store.prefix_for_test = clock, prefix
    store.load()
    return store


def test_artifact_pulled_verified_and_named(store, tmp_path):
    assert list(store.artifacts) == ["default"]
    assert store.errors == {}
    assert store.downloads == 1
    local = [p for p in (tmp_path / "router").iterdir() if p.is_dir()]
    assert len(local) == 1 and (local[0] / "manifest.json").exists()


def test_unchanged_objects_are_not_downloaded_again(store):
    assert not store.due()
    store.clock.now += 11
    assert store.due()
    store.refresh()
    assert not store.due()
    assert store.downloads == 1 and store.generation == 1


def test_tampered_file_is_rejected_and_last_good_serves(store, s3):
    good = store.artifacts["default"]
    weights = next(p for p in DEFAULT_ARTIFACT.iterdir() if p.suffix == ".npz")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=store.prefix_for_test + "default/" + weights.name, Body=bytes(data))
    store.clock.now += 11
    store.refresh()
    assert store.artifacts["default"] is good
    assert "default" in store.errors and weights.name in store.errors["default"]
    # the same bad version is not fetched again on every check
    store.clock.now += 11
    store.refresh()
    assert store.downloads == 2


def test_missing_file_is_rejected(s3, tmp_path, stack):
    prefix = "rt-missing/"
    _upload(s3, prefix, DEFAULT_ARTIFACT)  # a single artifact directly under the prefix
    s3.delete_object(Bucket=BUCKET, Key=prefix + next(p.name for p in DEFAULT_ARTIFACT.iterdir() if p.suffix == ".npz"))
    store = ArtifactStore(BUCKET, prefix, str(tmp_path), hot_reload=False, interval=10)
    store.load()
    assert store.artifacts == {} and "default" in store.errors
    assert store.status()["ok"] is False


def test_prefix_with_several_artifacts(s3, tmp_path, stack):
    prefix = "rt-several/"
    _upload(s3, prefix + "a/", DEFAULT_ARTIFACT)
    _upload(s3, prefix + "b/", DEFAULT_ARTIFACT)
    store = ArtifactStore(BUCKET, prefix, str(tmp_path), hot_reload=False, interval=10)
    store.load()
    assert sorted(store.artifacts) == ["a", "b"]


def test_empty_prefix_is_reported(tmp_path, stack):
    store = ArtifactStore(BUCKET, "rt-nothing-here/", str(tmp_path), hot_reload=False, interval=10)
    store.load()
    assert not store.artifacts and "no artifact" in store.errors["_listing"]


# --- through the app -------------------------------------------------------------------------------
def test_auto_routes_and_says_so_in_headers(openai_client, upstream):
    resp = openai_client.chat.completions.with_raw_response.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert resp.status_code == 200
    assert resp.headers["x-gateway-router"] == "threshold"
    assert resp.headers["x-gateway-model"] in {"fake", "mock"}


def test_decisions_are_deterministic_and_prompt_dependent(http_server):
    def route(text: str) -> dict:
        resp = httpx.post(http_server + "/router/route", headers=ADMIN,
                          json={"model": "auto", "messages": [{"role": "user", "content": text}]})
        assert resp.status_code == 200, resp.text
        return resp.json()

    easy, hard = route("hi"), route(HARD)
    assert route("hi") == easy and route(HARD) == hard
    assert {easy["model"], hard["model"]} <= {"fake", "mock"}
    decision = hard["decision"]
    assert decision["strategy"] == "threshold" and decision["artifact_version"]
    assert HARD not in json.dumps(decision)  # never the prompt


def test_rules_router(http_server):
    def route(text: str) -> str:
        return httpx.post(http_server + "/router/route", headers=ADMIN,
                          json={"model": "auto-rules", "messages": [{"role": "user", "content": text}]}).json()["model"]

    assert route("write SQL for me") == "mock"
    assert route("write a poem") == "fake"


def test_dry_run_calls_no_model(http_server, upstream):
    upstream.reset()
    httpx.post(http_server + "/router/route", headers=ADMIN, json={"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    assert upstream.calls() == []


def test_router_without_artifact_uses_fallback(openai_client):
    resp = openai_client.chat.completions.with_raw_response.create(model="auto-broken", messages=[{"role": "user", "content": "x"}])
    assert resp.headers["x-gateway-model"] == "fake"
    assert resp.headers["x-gateway-router"] == "fallback"


def test_router_info_and_models(http_server, openai_client):
    info = httpx.get(http_server + "/router/info", headers=ADMIN).json()
    assert info["routers"]["auto"]["available"] is True
    assert info["routers"]["auto-broken"]["available"] is False and "not-uploaded" in info["routers"]["auto-broken"]["error"]
    assert "default" in info["artifacts"] and info["artifacts"]["default"]["metrics"]
    assert {"auto", "auto-rules"} <= {m.id for m in openai_client.models.list()}


def test_readiness_reports_router(http_server):
    ready = httpx.get(http_server + "/_health/ready").json()
    router = ready["checks"]["router"]
    assert router["ok"] is True  # auto-broken has a fallback
    assert router["routers"]["auto-broken"]["ok"] is False


def test_dry_run_needs_admin(http_server):
    assert httpx.post(http_server + "/router/route", json={"model": "auto", "messages": []}).status_code == 401
