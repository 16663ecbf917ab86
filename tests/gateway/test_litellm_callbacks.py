"""``litellm_settings.callbacks`` / ``success_callback`` / ``failure_callback`` as LiteLLM's proxy
applies them, served over HTTP (the ``openai`` SDK against uvicorn) and through a real Lambda event
with the after-response extension.

The config is the session's S3 config plus the callback settings; each test puts its config on S3,
lets the app reload it, and puts the original back. The loggers are real ``CustomLogger`` subclasses
in ``tests.support.callback_loggers``, named by ``module.attribute`` as a user's
``custom_callbacks.proxy_handler_instance`` is.
"""
from __future__ import annotations

import json
import logging
import time

import boto3
import httpx
import litellm
import pytest
import yaml

from gateway import after_response, callbacks
from gateway.config.errors import ConfigError
from gateway.config.parse import parse_config
from gateway.runtime import build_engine
from tests.conftest import BUCKET, CONFIG_KEY, FIXTURES, MASTER_KEY
from tests.support import callback_loggers as loggers
from tests.support import lambda_events as ev
from tests.support.extensions_api import FakeExtensionsAPI

SUPPORT = "tests.support.callback_loggers"
PROMPT = "secret-prompt-text-7f3a"
USER = [{"role": "user", "content": PROMPT}]
ORIGINAL = (FIXTURES / "gateway.yaml").read_text()


@pytest.fixture(scope="module")
def s3(moto_server):
    return boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _reload(stack, http_server: str) -> None:
    stack.config.force_check()
    assert httpx.get(http_server + "/v1/models", headers={"authorization": f"Bearer {MASTER_KEY}"},
                     timeout=10).status_code == 200


@pytest.fixture()
def serve_with(stack, http_server, s3):
    """serve_with(**litellm_settings): the session's config plus these settings, reloaded by the app."""
    def serve(**settings) -> None:
        document = yaml.safe_load(ORIGINAL)
        document["litellm_settings"] = {**document.get("litellm_settings", {}), **settings}
        s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=yaml.safe_dump(document).encode())
        _reload(stack, http_server)
        assert stack.config.status()["error"] is None, stack.config.status()["error"]

    for logger in (loggers.recorder, loggers.slow_recorder):
        logger.events.clear()
    assert not _shadowing(), f"a logger another test left on litellm hides this module's: {_shadowing()}"
    yield serve
    s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=ORIGINAL.encode())
    _reload(stack, http_server)
    assert stack.config.status()["error"] is None


@pytest.fixture()
def client(base_url):
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=MASTER_KEY, max_retries=0, timeout=20)


def _eventually(condition, seconds: float = 5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


def _everywhere() -> list[object]:
    """Every entry of every litellm callback list."""
    return [c for name in ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                           "_async_failure_callback", "input_callback", "_async_input_callback")
            for c in getattr(litellm, name)]


def _shadowing() -> list[object]:
    """Loggers not from ``tests.support.callback_loggers`` that litellm takes for one of them: it never
    adds a ``CustomLogger`` whose key (class name plus public str/bool/int attributes) is already
    listed (``litellm_core_utils/logging_callback_manager.py:_add_custom_logger_to_list``), so the
    config's logger would silently never run."""
    from litellm.integrations.custom_logger import CustomLogger

    ours = (loggers.recorder, loggers.slow_recorder, loggers.raising, loggers.hung)
    key = litellm.logging_callback_manager._get_custom_logger_key
    keys = {key(logger) for logger in ours}
    return [c for c in _everywhere()
            if isinstance(c, CustomLogger) and not any(c is logger for logger in ours) and key(c) in keys]


# --- over HTTP -----------------------------------------------------------------------------------
def test_a_custom_logger_named_in_the_config_sees_each_success(serve_with, client):
    serve_with(callbacks=f"{SUPPORT}.recorder")  # a single path, as LiteLLM's docs write it
    answer = client.chat.completions.create(model="fake", messages=USER)
    assert answer.choices[0].message.content
    assert _eventually(lambda: len(loggers.recorder.of("success")) == 1), loggers.recorder.events
    chunks = list(client.chat.completions.create(model="fake", messages=USER, stream=True))
    assert chunks
    assert _eventually(lambda: len(loggers.recorder.of("success")) == 2), loggers.recorder.events
    first, streamed = loggers.recorder.of("success")
    assert (first["model"], first["stream"]) == ("fake", False)
    assert (streamed["model"], streamed["stream"]) == ("fake", True)


def test_a_failing_provider_call_reaches_the_failure_callbacks(serve_with, client):
    import openai

    loggers.failures_seen.clear()
    serve_with(callbacks=[f"{SUPPORT}.recorder"], failure_callback=[f"{SUPPORT}.failure_function"])
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="fake-500", messages=USER)
    assert failed.value.status_code == 502
    assert _eventually(lambda: loggers.recorder.of("failure")), loggers.recorder.events
    assert loggers.recorder.of("failure")[0]["model"] == "fake-500"
    assert _eventually(lambda: loggers.failures_seen)
    assert not loggers.recorder.of("success")


def test_a_raising_callback_does_not_fail_the_request(serve_with, client, caplog):
    before = loggers.raising.calls
    serve_with(callbacks=[f"{SUPPORT}.raising", f"{SUPPORT}.recorder"])
    with caplog.at_level(logging.DEBUG):
        assert client.chat.completions.create(model="fake", messages=USER).choices[0].message.content
        assert list(client.chat.completions.create(model="fake", messages=USER, stream=True))
        assert _eventually(lambda: loggers.raising.calls - before >= 2 and len(loggers.recorder.of("success")) == 2)
        with pytest.raises(Exception):
            client.chat.completions.create(model="fake-500", messages=USER)  # its failure hook raises too
        assert _eventually(lambda: loggers.raising.calls - before >= 3)
    server_side = [r for r in caplog.records if not r.name.startswith(("openai", "httpx", "httpcore"))]
    logged = [r for r in server_side if r.levelno >= logging.WARNING and "callback exploded" in _text(r)]
    assert logged, [(r.name, r.getMessage()[:120]) for r in server_side if r.levelno >= logging.WARNING]
    assert not [r for r in server_side if r.levelno >= logging.INFO and PROMPT in _text(r)]  # no prompt text


def _text(record: logging.LogRecord) -> str:
    return record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")


CALLER_ATTEMPTS = [
    ({"success_callback": [f"{SUPPORT}.recorder"]}, "success_callback"),
    ({"failure_callback": ["langfuse"]}, "failure_callback"),
    ({"callbacks": [f"{SUPPORT}.raising"]}, "callbacks"),
    ({"logger_fn": f"{SUPPORT}.failure_function"}, "logger_fn"),
    ({"langfuse_host": "http://127.0.0.1:9"}, "langfuse_host"),
    ({"langfuse_public_key": "pk"}, "langfuse_public_key"),
    ({"gcs_bucket_name": "attacker"}, "gcs_bucket_name"),
    ({"turn_off_message_logging": True}, "turn_off_message_logging"),
    ({"metadata": {"langfuse_host": "http://127.0.0.1:9"}}, "metadata.langfuse_host"),
    ({"metadata": {"success_callback": ["s3"]}}, "metadata.success_callback"),
    ({"metadata": {"dd_api_key": "x"}}, "metadata.dd_api_key"),
    ({"metadata": {"s3_bucket_name": "attacker"}}, "metadata.s3_bucket_name"),
    ({"extra_body": {"callbacks": ["otel"]}}, "extra_body.callbacks"),
    ({"extra_body": {"langsmith_base_url": "http://127.0.0.1:9"}}, "extra_body.langsmith_base_url"),
]


@pytest.mark.parametrize("stream", [False, True])
def test_a_caller_cannot_add_or_redirect_a_callback(serve_with, http_server, stream):
    serve_with(callbacks=[f"{SUPPORT}.recorder"])
    before = list(_everywhere())
    with httpx.Client(base_url=http_server, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10) as http:
        for fragment, param in CALLER_ATTEMPTS:
            response = http.post("/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": stream,
                                                                 **fragment})
            assert response.status_code == 400, (fragment, response.text)
            assert (response.json()["error"]["code"], response.json()["error"]["param"]) == ("forbidden_param", param)
        ok = http.post("/v1/chat/completions", json={"model": "fake", "messages": USER, "stream": stream,
                                                     "metadata": {"tags": ["a"], "trace_name": "t"}})
        assert ok.status_code == 200, ok.text
    assert _eventually(lambda: len(loggers.recorder.of("success")) == 1)  # only the admin's logger, once
    assert loggers.raising.calls == 0 or all(c is not loggers.raising for c in _everywhere())
    assert [c for c in _everywhere() if c not in before] == []  # no caller-sent callback was added
    assert "langfuse" not in _everywhere() and "s3" not in _everywhere()


# --- the config: resolve, replace, refuse --------------------------------------------------------
def test_a_reload_replaces_the_callbacks_instead_of_adding_to_them(serve_with, client):
    serve_with(callbacks=[f"{SUPPORT}.recorder"], success_callback=["langfuse"])
    assert loggers.recorder in litellm.callbacks and "langfuse" in litellm.success_callback
    serve_with(callbacks=[f"{SUPPORT}.slow_recorder"])
    assert loggers.recorder not in _everywhere() and "langfuse" not in _everywhere()
    client.chat.completions.create(model="fake", messages=USER)  # litellm copies it into its other lists
    assert _eventually(lambda: loggers.slow_recorder.of("success"))
    serve_with(callbacks=[f"{SUPPORT}.slow_recorder"])  # the same config again: still once
    assert sum(c is loggers.slow_recorder for c in litellm.callbacks) == 1
    client.chat.completions.create(model="fake", messages=USER)
    assert _eventually(lambda: len(loggers.slow_recorder.of("success")) == 2)
    time.sleep(0.5)
    assert len(loggers.slow_recorder.of("success")) == 2 and loggers.recorder.of("success") == []


def test_named_integrations_are_set_as_the_proxy_sets_them():
    configured = callbacks.resolve({"success_callback": ["langfuse", "s3"], "failure_callback": ["sentry"],
                                    "callbacks": ["otel", "aws_sqs", "datadog"]})
    assert configured.success == ("langfuse", "s3") and configured.both == ("otel", "aws_sqs", "datadog")
    resolved = callbacks.resolve({"callbacks": [f"{SUPPORT}.recorder"], "success_callback": [f"{SUPPORT}.failure_function"]})
    assert resolved.both == (loggers.recorder,) and resolved.success == (loggers.failure_function,)


BAD = [
    ({"callbacks": ["no_such_module.handler"]}, "could not be loaded"),
    ({"callbacks": [f"{SUPPORT}.missing_attribute"]}, "could not be loaded"),
    ({"callbacks": ["s3://config-bucket/custom_callbacks.handler"]}, "neither one of litellm's callback names"),
    ({"callbacks": ["/var/task/../custom_callbacks.py"]}, "neither one of litellm's callback names"),
    ({"callbacks": [f"{SUPPORT}.RecorderClass"]}, "not a CustomLogger instance"),
    ({"callbacks": [f"{SUPPORT}.blocker"]}, "async_pre_call_hook"),
    ({"callbacks": ["presidio"]}, "proxy hooks"),
    ({"success_callback": ["sqs"]}, "not a litellm logging integration"),
    ({"success_callback": ["x"] * (callbacks.MAX_CALLBACKS + 1)}, "at most"),
    ({"failure_callback": [{"module": "x"}]}, "neither one of litellm's callback names"),
]


@pytest.mark.parametrize("settings, reason", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_callback_that_cannot_be_served_refuses_the_config(settings, reason):
    before = list(_everywhere())
    document = yaml.safe_load(ORIGINAL.replace("os.environ/FAKE_UPSTREAM_URL", "http://127.0.0.1:9"))
    document["litellm_settings"] = settings
    with pytest.raises(ConfigError) as refused:
        build_engine(parse_config(yaml.safe_dump(document)))
    assert reason in str(refused.value) and "litellm_settings." in str(refused.value)
    assert _everywhere() == before  # nothing was installed


def test_a_refused_callback_config_keeps_the_last_good_one_serving(serve_with, stack, http_server, s3, client):
    serve_with(callbacks=[f"{SUPPORT}.recorder"])
    document = yaml.safe_load(ORIGINAL)
    document["litellm_settings"]["callbacks"] = ["not_deployed.proxy_handler_instance"]
    s3.put_object(Bucket=BUCKET, Key=CONFIG_KEY, Body=yaml.safe_dump(document).encode())
    _reload(stack, http_server)
    ready = httpx.get(http_server + "/_health/ready", timeout=10).json()
    assert "not_deployed.proxy_handler_instance" in ready["checks"]["config"]["error"]
    client.chat.completions.create(model="fake", messages=USER)
    assert _eventually(lambda: loggers.recorder.of("success"))  # the last good config's logger still runs


# --- on Lambda: after the response, bounded ------------------------------------------------------
def _lambda_call(handler, body: dict) -> dict:
    event = ev.http_api_event("POST", "/v1/chat/completions", body=json.dumps(body),
                              headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"})
    return handler(event, ev.FakeContext())


@pytest.fixture()
def extension(monkeypatch):
    """Play Lambda's Extensions API; ``api.next_calls[n][1]`` is what the logger had seen when
    invocation n ended (success events of ``slow_recorder``)."""
    api = FakeExtensionsAPI(on_next=lambda: [e["at"] for e in loggers.slow_recorder.of("success")])
    ext = after_response.AfterResponse(api.address)
    monkeypatch.setattr(after_response, "_extension", ext)
    ext.start()
    api.wait_next(1)
    yield api
    api.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_on_lambda_callbacks_run_after_the_response_and_before_the_freeze(serve_with, lambda_handler, extension,
                                                                          stream):
    serve_with(callbacks=[f"{SUPPORT}.slow_recorder"])  # 0.3 s per event, like a call to Langfuse
    for i in range(2):
        extension.invoke(f"cb-{i}")
        result = _lambda_call(lambda_handler, {"model": "fake", "messages": USER, "stream": stream})
        returned = time.monotonic()
        assert result["statusCode"] == 200, result["body"]
        assert len(loggers.slow_recorder.of("success")) == i  # the response did not wait for the logger
        extension.wait_next(i + 2)
        seen = extension.next_calls[i + 1][1]
        assert len(seen) == i + 1 and seen[-1] >= returned  # ran after the response, before "done"
    assert {e["thread"] for e in loggers.slow_recorder.events} == {"gateway-after-response"}
    assert {e["stream"] for e in loggers.slow_recorder.events} == {stream}


def test_on_lambda_a_hung_callback_is_given_up_at_the_bound(serve_with, lambda_handler, extension, monkeypatch,
                                                            caplog):
    monkeypatch.setenv("GATEWAY_CALLBACK_FLUSH_TIMEOUT_S", "1.0")
    # litellm awaits one request's loggers in turn (Logging.async_success_handler): the hung one last
    serve_with(callbacks=[f"{SUPPORT}.slow_recorder", f"{SUPPORT}.hung"])
    started = loggers.hung.started
    extension.invoke("hung")
    result = _lambda_call(lambda_handler, {"model": "fake", "messages": USER})
    returned = time.monotonic()
    assert result["statusCode"] == 200, result["body"]
    extension.wait_next(2)
    assert loggers.hung.started == started + 1
    assert 1.0 <= extension.next_calls[1][0] - returned < 2.0  # held to the bound, not to the hung callback
    assert len(extension.next_calls[1][1]) == 1  # the logger before it finished
    assert "did not finish within 1.0 s" in caplog.text
    caplog.clear()
    # The next request does not wait for the callback already given up on: only for its own.
    serve_with(callbacks=[f"{SUPPORT}.slow_recorder"])
    extension.invoke("after")
    assert _lambda_call(lambda_handler, {"model": "fake", "messages": USER})["statusCode"] == 200
    returned = time.monotonic()
    extension.wait_next(3)
    assert len(extension.next_calls[2][1]) == 2
    assert extension.next_calls[2][0] - returned < 0.9 and "did not finish" not in caplog.text


def test_a_named_integration_that_cannot_start_does_not_fail_requests(serve_with, client, caplog):
    """``langfuse`` without the Langfuse SDK in the deployment (it is not in the deps layer): litellm
    logs that it could not start the integration; the caller still gets the answer."""
    serve_with(success_callback=["langfuse"], failure_callback=["langfuse"], callbacks=[f"{SUPPORT}.recorder"])
    with caplog.at_level(logging.ERROR):
        assert client.chat.completions.create(model="fake", messages=USER).choices[0].message.content
        assert list(client.chat.completions.create(model="fake", messages=USER, stream=True))
        assert _eventually(lambda: len(loggers.recorder.of("success")) == 2)  # the other logger still runs
    assert "Error initializing custom logger" in caplog.text
