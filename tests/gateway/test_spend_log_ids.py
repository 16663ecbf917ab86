"""A spend log is found by the id of the answer the client got (``chatcmpl-...``, ``msg_...``,
``resp_...``), as LiteLLM's ``/spend/logs?request_id=`` finds it, and still by the gateway's own
``x-request-id``; over HTTP with the official SDKs, JSON and streams."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.anthropic.conftest import CLAUDE, generate_key
from tests.conftest import MASTER_KEY

USER = [{"role": "user", "content": "hi"}]


def _find(http_server: str, key: str, request_id: str) -> list[dict]:
    deadline = time.monotonic() + 10  # a stream settles as it ends, maybe after the client saw the end
    while True:
        logs = httpx.get(http_server + "/spend/logs", params={"api_key": key, "request_id": request_id},
                         headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10).json()
        if logs or time.monotonic() > deadline:
            return logs
        time.sleep(0.2)


@pytest.fixture()
def key(http_server) -> str:
    return generate_key(http_server, models=["fake", CLAUDE], max_budget=1)


@pytest.fixture()
def sdk(base_url, http_server, key):
    import anthropic
    from openai import OpenAI

    return (OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20),
            anthropic.Anthropic(base_url=http_server, api_key=key, max_retries=0, timeout=20))


def test_chat_completion_by_its_id_and_by_the_request_id(http_server, key, sdk):
    raw = sdk[0].chat.completions.with_raw_response.create(model="fake", messages=USER)
    completion = raw.parse()
    by_id = _find(http_server, key, completion.id)
    assert len(by_id) == 1 and by_id[0]["response_id"] == completion.id
    assert _find(http_server, key, raw.headers["x-request-id"]) == by_id


def test_a_streamed_chat_completion_by_its_id(http_server, key, sdk):
    ids = {chunk.id for chunk in sdk[0].chat.completions.create(model="fake", messages=USER, stream=True)}
    assert len(ids) == 1
    assert len(_find(http_server, key, ids.pop())) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_anthropic_message_by_its_id(http_server, key, sdk, stream):
    if stream:
        with sdk[1].messages.stream(model=CLAUDE, max_tokens=16, messages=USER) as events:
            message = events.get_final_message()
    else:
        message = sdk[1].messages.create(model=CLAUDE, max_tokens=16, messages=USER)
    assert message.id.startswith("msg_")
    logs = _find(http_server, key, message.id)
    assert len(logs) == 1 and logs[0]["model"] == CLAUDE


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_response_by_its_id(http_server, key, sdk, stream):
    if stream:
        with sdk[0].responses.stream(model="fake", input="hi") as events:
            response = events.get_final_response()
    else:
        response = sdk[0].responses.create(model="fake", input="hi")
    logs = _find(http_server, key, response.id)
    assert len(logs) == 1 and logs[0]["response_id"] == response.id


def test_an_unknown_id_finds_nothing(http_server, key, sdk):
    sdk[0].chat.completions.create(model="fake", messages=USER)
    none = httpx.get(http_server + "/spend/logs", params={"api_key": key, "request_id": "chatcmpl-none"},
                     headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert none.status_code == 200 and none.json() == []
