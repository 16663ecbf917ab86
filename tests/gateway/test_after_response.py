"""Spend settled after the response, through an internal Lambda extension (``gateway.after_response``).

Lambda is played by the test: it hands the extension an INVOKE event, calls the real handler with a
real API Gateway event, and treats the extension's next ``event/next`` call as the end of the
invocation. At that moment the spend log must already be in DynamoDB (moto over HTTP).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest

from gateway import after_response
from tests.conftest import MASTER_KEY, TABLE
from tests.support import lambda_events as ev
from tests.support.extensions_api import FakeExtensionsAPI
from gateway import settings


@pytest.fixture()
def fake_api():
    api = FakeExtensionsAPI()
    yield api
    api.stop()


def test_work_runs_after_the_handler_and_before_next(fake_api):
    ext = after_response.AfterResponse(fake_api.address)
    ext.start()
    fake_api.wait_next(1)  # init done: the extension is waiting for the first invocation
    assert fake_api.registrations == [("gateway-after-response", {"events": ["INVOKE"]})]
    ran: list[tuple[str, str, float]] = []

    def work(name: str, seconds: float = 0.0, fail: bool = False):
        def run() -> None:
            time.sleep(seconds)
            ran.append((name, threading.current_thread().name, time.monotonic()))
            if fail:
                raise RuntimeError("boom")
        return run

    fake_api.invoke()
    assert ext.submit(work("a", 0.2)) and ext.submit(work("b", fail=True)) and ext.submit(work("c"))
    time.sleep(0.1)  # the rest of the request: queued work waits for the handler, not competing with it
    assert ran == []
    returned = time.monotonic()  # the handler would return here: nothing has run yet
    ext.invocation_done()
    fake_api.wait_next(2)
    assert [r[0] for r in ran] == ["a", "b", "c"]  # in order; one failure does not stop the rest
    assert {r[1] for r in ran} == {"gateway-after-response"}
    assert ran[0][2] >= returned + 0.15  # ran after "the response"
    assert fake_api.next_calls[1][0] >= ran[-1][2]  # and Lambda was told "done" only after all of it


def test_work_of_an_invocation_past_its_deadline_runs_with_the_next(fake_api):
    ext = after_response.AfterResponse(fake_api.address)
    ext.start()
    fake_api.wait_next(1)
    ran: list[str] = []
    fake_api.invoke("late", timeout_s=after_response.DEADLINE_MARGIN_S + 0.2)
    ext.submit(lambda: ran.append("late"))  # the handler never says it is done before the deadline
    fake_api.wait_next(2)  # the extension gave up on it, without starting writes near the timeout
    assert ran == []
    ext.invocation_done()  # (the late handler finally returns)
    fake_api.invoke("next")
    ext.submit(lambda: ran.append("next"))
    ext.invocation_done()
    fake_api.wait_next(3)
    assert ran == ["late", "next"]  # nothing lost: carried over, in order


def test_background_tasks_on_the_loop_run_after_the_response(fake_api, monkeypatch):
    import asyncio

    ext = after_response.AfterResponse(fake_api.address)
    monkeypatch.setattr(after_response, "_extension", ext)
    ext.start()
    fake_api.wait_next(1)
    loop = asyncio.new_event_loop()
    ran: list[str] = []
    background: list[asyncio.Task] = []

    async def request() -> str:  # answers at once, leaves a callback task behind (as litellm does)
        async def callback() -> None:
            await asyncio.sleep(0.01)
            ran.append(threading.current_thread().name)
        background.append(asyncio.get_running_loop().create_task(callback()))
        return "response"

    async def flush() -> None:
        await asyncio.gather(*background)

    try:
        fake_api.invoke()
        assert loop.run_until_complete(request()) == "response"
        assert after_response.submit_on_loop(loop, flush, timeout=1.0)
        assert ran == []  # the response is out; the callback has not run
        ext.invocation_done()
        fake_api.wait_next(2)
        assert ran == ["gateway-after-response"]  # it ran after the response, before Lambda was told done
        assert not loop.is_running()
    finally:
        loop.close()


#: Every litellm list a logger in ``litellm.callbacks`` is copied into on the first call (``utils.function_setup``)
_LITELLM_LISTS = ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                  "_async_failure_callback", "input_callback", "_async_input_callback")


@pytest.fixture()
def add_litellm_logger():
    """add(logger): put it in ``litellm.callbacks`` for this test only.

    Restoring ``litellm.callbacks`` alone is not enough: the first call copies the logger into
    litellm's other lists, and a logger left there shadows later ones, because litellm skips adding
    a ``CustomLogger`` whose key (class name plus public str/bool/int attributes) is already listed
    (``litellm_core_utils/logging_callback_manager.py:_add_custom_logger_to_list``,
    ``_get_custom_logger_key``). So the logger is taken out of every list afterwards.
    """
    import litellm

    added: list[object] = []

    def add(logger: object) -> None:
        added.append(logger)
        litellm.callbacks.append(logger)

    yield add
    for name in _LITELLM_LISTS:
        entries = getattr(litellm, name)
        entries[:] = [entry for entry in entries if not any(entry is logger for logger in added)]


def test_litellm_callbacks_run_after_the_response_on_lambda(lambda_handler, monkeypatch, add_litellm_logger):
    from litellm.integrations.custom_logger import CustomLogger

    seen: list[str] = []

    class Recorder(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            seen.append(threading.current_thread().name)

    api = FakeExtensionsAPI(on_next=lambda: len(seen))
    add_litellm_logger(Recorder())
    try:
        _start_extension(api, monkeypatch)
        _invocations(lambda_handler, api, MASTER_KEY, 2)
        # each request's success callback had run when its invocation ended, on the extension's thread
        assert [count for _, count in api.next_calls[1:]] == [1, 2]
        assert set(seen) == {"gateway-after-response"}
    finally:
        api.stop()


def test_off_outside_lambda_and_under_snapstart(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    assert not after_response.enabled_here()
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
    settings.reset()  # settings are read once; re-read them
    assert after_response.enabled_here()
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    settings.reset()  # settings are read once; re-read them
    assert not after_response.enabled_here()
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    monkeypatch.setenv("GATEWAY_SETTLE_AFTER_RESPONSE", "false")
    settings.reset()  # settings are read once; re-read them
    assert not after_response.enabled_here()
    monkeypatch.setattr(after_response, "_extension", None)
    assert after_response.submit(lambda: None) is False  # not started: callers settle inline


def _call(handler, path: str, body: dict, key: str) -> dict:
    event = ev.http_api_event("POST", path, body=json.dumps(body),
                              headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
    return handler(event, ev.FakeContext())


def _spend_logs(key: str) -> int:
    from gateway import aws

    return aws.client("dynamodb").query(
        TableName=TABLE, KeyConditionExpression="pk = :p", Select="COUNT",
        ExpressionAttributeValues={":p": {"S": "KEYLOG#" + hashlib.sha256(key.encode()).hexdigest()}})["Count"]


def _start_extension(api: FakeExtensionsAPI, monkeypatch) -> after_response.AfterResponse:
    """Register the gateway's extension with the fake API, as app.py does during init."""
    ext = after_response.AfterResponse(api.address)
    monkeypatch.setattr(after_response, "_extension", ext)
    ext.start()
    api.wait_next(1)  # init done: the extension waits for the first invocation
    return ext


def _invocations(handler, api: FakeExtensionsAPI, key: str, count: int) -> None:
    """Play Lambda: per invocation an INVOKE for the extension, one chat completion through the
    handler, and the end of the invocation when the extension asks for its next event."""
    done = len(api.next_calls)
    for i in range(count):
        api.invoke(f"req-{done + i}")
        result = _call(handler, "/v1/chat/completions", {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, key)
        assert result["statusCode"] == 200, result["body"]
        api.wait_next(done + i + 1)


def _spend(handler, key: str) -> float:
    event = ev.http_api_event("GET", "/key/info", query=f"key={key}", headers={"authorization": f"Bearer {MASTER_KEY}"})
    return float(json.loads(handler(event, ev.FakeContext())["body"])["info"]["spend"])


def test_virtual_key_spend_is_written_after_the_response(lambda_handler, monkeypatch):
    from gateway import aws

    generated = _call(lambda_handler, "/key/generate", {"key_alias": "after-response", "max_budget": 10.0}, MASTER_KEY)
    key = json.loads(generated["body"])["key"]
    writers: list[str] = []
    calls: list[tuple[int, str, str]] = []  # (invocation, operation, thread)
    dynamodb = aws.client("dynamodb")
    hook = lambda **_: writers.append(threading.current_thread().name)  # noqa: E731
    dynamodb.meta.events.register("before-call.dynamodb.PutItem", hook)
    count = lambda model, **_: calls.append((len(api.next_calls), model.name, threading.current_thread().name))  # noqa: E731
    dynamodb.meta.events.register("before-call.dynamodb.*", count)
    api = FakeExtensionsAPI(on_next=lambda: _spend_logs(key))
    try:
        ext = _start_extension(api, monkeypatch)
        _invocations(lambda_handler, api, key, 3)
        # At each "invocation finished" the request's spend log was already durable.
        assert [seen for _, seen in api.next_calls[1:]] == [1, 2, 3]
        assert writers and set(writers) == {"gateway-after-response"}
        # The first request admits with a conditional write; the next ones use the spare reserved
        # after the previous response (gateway.keys.spares): no DynamoDB call before their answer.
        before_response = [(n, op) for n, op, thread in calls
                           if thread.startswith("AnyIO") or thread == threading.current_thread().name]
        assert before_response and {n for n, _ in before_response} == {1}, calls  # key lookup, admission
        for n in (1, 2):  # the log, then settle + the next request's spare in one update (no transaction)
            assert [op for m, op, thread in calls if m == n and thread == "gateway-after-response"] == \
                ["PutItem", "UpdateItem"]
        assert {thread for n, op, thread in calls if op == "PutItem"} == {"gateway-after-response"}
        assert _spend(lambda_handler, key) > 0
        # A failing Extensions API switches to inline settlement: nothing is lost.
        api._fail_next_after = len(api.next_calls)
        api.invoke("req-fail")
        assert _call(lambda_handler, "/v1/chat/completions",
                     {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, key)["statusCode"] == 200
        deadline = time.monotonic() + 10
        while ext.active and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not ext.active
        assert _call(lambda_handler, "/v1/chat/completions",
                     {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}, key)["statusCode"] == 200
        assert _spend_logs(key) == 5
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.PutItem", hook)
        dynamodb.meta.events.unregister("before-call.dynamodb.*", count)
        api.stop()
