"""The request-body policy on batch lines: a line carrying a refused parameter is recorded as a
400 ``forbidden_param`` for that line, and the provider is never called for it; clean lines run."""
from __future__ import annotations

import io
import json

import httpx

from tests.batch.conftest import MASTER_KEY, chat_line, jsonl
from tests.batch.test_api import _client, _wait
from tests.support.upstream import FakeUpstream

REFUSED = {
    "api_base": ("api_base", "CAPTURE"),
    "metadata": ("metadata.api_base", {"api_base": "CAPTURE"}),
    "extra_body": ("extra_body.api_base", {"api_base": "CAPTURE"}),
    "input_cost_per_token": ("input_cost_per_token", 0),
    "mock_response": ("mock_response", "fake"),
    "litellm_params": ("litellm_params", {"api_base": "CAPTURE"}),
}


def _fill(value, url):
    if value == "CAPTURE":
        return url
    if isinstance(value, dict):
        return {k: _fill(v, url) for k, v in value.items()}
    return value


def _virtual_key(http_server: str) -> str:
    response = httpx.post(http_server + "/key/generate", headers={"authorization": f"Bearer {MASTER_KEY}"},
                          json={"models": ["canary"], "max_budget": 5}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["key"]


def test_refused_params_on_batch_lines(batch_api, worker, upstream):
    capture = FakeUpstream().start()
    try:
        for key in (MASTER_KEY, _virtual_key(batch_api)):
            client = _client(batch_api, key)
            lines = [chat_line(name, model="canary", **{name: _fill(value, capture.url)})
                     for name, (_, value) in REFUSED.items()]
            lines.append(chat_line("clean", model="canary"))
            seen_before = len(upstream.requests)
            uploaded = client.files.create(file=("policy.jsonl", io.BytesIO(jsonl(lines))), purpose="batch")
            batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                          completion_window="24h")
            done = _wait(client, batch.id)
            assert done.status == "completed", done
            results = {}
            for file_id in (done.output_file_id, done.error_file_id):
                if file_id:
                    for line in client.files.content(file_id).text.splitlines():
                        row = json.loads(line)
                        results[row["custom_id"]] = row["response"]
            assert results["clean"]["status_code"] == 200
            for name, (param, _) in REFUSED.items():
                assert results[name]["status_code"] == 400, results[name]
                error = results[name]["body"]["error"]
                assert (error["code"], error["param"]) == ("forbidden_param", param)
            assert capture.requests == []
            assert len(upstream.requests) == seen_before + 1  # only the clean line reached a provider
            assert upstream.requests[-1]["authorization"] == "Bearer sk-canary-openai-secret"
    finally:
        capture.stop()
