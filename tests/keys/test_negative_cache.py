"""Unknown keys are remembered briefly: a repeated bad key costs one GetItem per window, the 401 stays
OpenAI's, a key created in this process works at once, and a flood cannot grow the cache or evict
valid keys. DynamoDB calls are counted on the real client, talking to moto's server over HTTP."""
from __future__ import annotations

import secrets
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from gateway.errors import GatewayError
from gateway.keys import resolve
from gateway.keys.models import KeyRecord
from gateway.keys.tokens import hash_token, key_name

INVALID_BODY = {"error": {"message": "Invalid API key.", "type": "authentication_error", "param": None,
                          "code": "invalid_api_key"}}
from gateway import settings


def new_token() -> str:
    return "sk-" + secrets.token_urlsafe(24)


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB call as "Operation pk" (pk of GetItem's Key, else empty)."""
    from gateway import aws

    calls: list[str] = []

    def hook(params: dict, model, **_) -> None:
        calls.append(f"{model.name} {(params.get('Key') or {}).get('pk', {}).get('S', '')}".strip())

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.*", hook)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb.*", hook)


def info(client, token: str):
    return client.get("/key/info", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture()
def negative_ttl(monkeypatch: pytest.MonkeyPatch):
    def set_ttl(seconds: float) -> None:
        monkeypatch.setenv("KEY_NEGATIVE_CACHE_SECONDS", str(seconds))
        settings.reset()  # settings are read once; re-read them

    set_ttl(60)
    return set_ttl


def test_repeated_unknown_key_costs_one_getitem(client, negative_ttl):
    bad = new_token()
    with dynamodb_calls() as calls:
        responses = [info(client, bad) for _ in range(20)]
    assert calls == [f"GetItem KEY#{hash_token(bad)}"]
    assert {r.status_code for r in responses} == {401}
    assert all(r.json() == INVALID_BODY for r in responses)  # a remembered miss looks like a fresh one
    assert info(client, new_token()).json() == INVALID_BODY


def test_zero_disables_the_negative_cache(client, negative_ttl):
    negative_ttl(0)
    bad = new_token()
    with dynamodb_calls() as calls:
        assert {info(client, bad).status_code for _ in range(3)} == {401}
    assert calls == [f"GetItem KEY#{hash_token(bad)}"] * 3


def test_key_generated_in_this_process_after_a_miss_works_at_once(client, negative_ttl):
    token = new_token()
    assert info(client, token).status_code == 401
    created = client.post("/key/generate", json={"key": token, "metadata": {"role": "admin"}})
    assert created.status_code == 200, created.text
    assert info(client, token).status_code == 200


def test_key_created_by_another_instance_works_after_the_window(client, store, negative_ttl):
    negative_ttl(3)  # long enough that a loaded machine still asks again inside the window
    token = new_token()
    assert info(client, token).status_code == 401
    # "another instance": written to the table directly, so this process is not told
    store.create_key(KeyRecord(token=hash_token(token), key_name=key_name(token), metadata={"role": "admin"}))
    with dynamodb_calls() as calls:
        assert info(client, token).status_code == 401
    assert calls == []
    time.sleep(3.1)
    assert info(client, token).status_code == 200


def test_a_flood_is_bounded_and_does_not_evict_valid_keys(client, negative_ttl, monkeypatch):
    monkeypatch.setattr(resolve._unknown, "max_entries", 3)
    valid = client.post("/key/generate", json={"metadata": {"role": "admin"}}).json()["key"]
    assert info(client, valid).status_code == 200  # now in the positive cache
    flood = [new_token() for _ in range(5)]
    for token in flood:
        assert info(client, token).status_code == 401
    assert len(resolve._unknown._data) == 3
    assert resolve.cached(valid) is not None  # cached() does no I/O: still remembered
    with pytest.raises(GatewayError) as newest:
        resolve.cached(flood[-1])
    assert newest.value.body() == INVALID_BODY
    assert resolve.cached(flood[0]) is None  # the oldest miss was dropped, not kept
    with dynamodb_calls() as calls:
        assert info(client, flood[0]).status_code == 401
    assert calls == [f"GetItem KEY#{hash_token(flood[0])}"]
