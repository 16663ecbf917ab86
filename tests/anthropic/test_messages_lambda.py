"""``/v1/messages`` through the Lambda handler (Mangum) behind each front door, driven by the
``anthropic`` SDK through a transport that turns its requests into real Lambda events. Mangum
buffers a stream: the SDK still parses the whole event sequence from the one response."""
from __future__ import annotations

import anthropic
import pytest

from tests.anthropic.conftest import CLAUDE
from tests.conftest import MASTER_KEY
from tests.support import lambda_events as ev
from tests.support.upstream import ANTHROPIC_PIECES, ANTHROPIC_USAGE

USER = [{"role": "user", "content": "hello"}]


@pytest.fixture(params=["http-api", "rest", "function-url"])
def claude_on_lambda(lambda_handler, request):
    import httpx2

    transport = ev.httpx2_lambda_transport(lambda_handler, request.param)
    return anthropic.Anthropic(base_url="https://gateway.example", api_key=MASTER_KEY, max_retries=0,
                               http_client=httpx2.Client(transport=transport))


def test_create_through_lambda(claude_on_lambda):
    message = claude_on_lambda.messages.create(model=CLAUDE, max_tokens=32, messages=USER)
    assert message.content[0].text == "".join(ANTHROPIC_PIECES)
    assert message.usage.cache_read_input_tokens == ANTHROPIC_USAGE["cache_read_input_tokens"]


def test_buffered_stream_through_lambda(claude_on_lambda):
    with claude_on_lambda.messages.stream(model=CLAUDE, max_tokens=32, messages=USER) as stream:
        text = "".join(stream.text_stream)
    assert text == "".join(ANTHROPIC_PIECES)


def test_count_tokens_and_errors_through_lambda(lambda_handler, claude_on_lambda):
    assert claude_on_lambda.messages.count_tokens(model=CLAUDE, messages=USER).input_tokens > 0
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude_on_lambda.messages.create(model="no-such-model", max_tokens=8, messages=USER)
    assert caught.value.body["error"]["type"] == "not_found_error"
    event = ev.http_api_event("POST", "/v1/messages", body='{"model": "x"}',
                              headers={"x-api-key": "sk-wrong", "content-type": "application/json"})
    result = lambda_handler(event, ev.FakeContext())
    assert result["statusCode"] == 401
    assert '"authentication_error"' in ev.response_body(result).decode()
