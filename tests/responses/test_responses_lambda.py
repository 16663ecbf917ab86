"""``/v1/responses`` through the Lambda handler (Mangum) behind each front door, with the ``openai``
SDK on a transport that turns its requests into real Lambda events; and a conversation started
over HTTP (uvicorn, the streaming function's server) continued through Lambda: the table is the
only thing the two share."""
from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY
from tests.support import lambda_events as ev


@pytest.fixture(params=["http-api", "rest", "function-url"])
def lambda_client(lambda_handler, request):
    transport = ev.LambdaTransport(lambda_handler, request.param)
    return openai.OpenAI(base_url="https://gateway.example/v1", api_key=MASTER_KEY, max_retries=0,
                         http_client=httpx.Client(transport=transport))


def test_create_retrieve_delete_through_lambda(lambda_client):
    response = lambda_client.responses.create(model="fake", input="hello")
    assert response.status == "completed" and response.output_text
    assert lambda_client.responses.retrieve(response.id).output_text == response.output_text
    assert lambda_client.responses.input_items.list(response.id).data[0].content[0].text == "hello"
    lambda_client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        lambda_client.responses.retrieve(response.id)


def test_buffered_stream_through_lambda(lambda_client):
    with lambda_client.responses.stream(model="fake", input="stream") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "Hello from fake"


def test_a_conversation_moves_between_fronts(lambda_client, client_for, upstream):
    started = client_for(MASTER_KEY).responses.create(model="fake", input="begun over HTTP")
    upstream.reset()
    continued = lambda_client.responses.create(model="fake", input="continued on Lambda",
                                               previous_response_id=started.id)
    sent = [c for c in upstream.calls() if c["path"].endswith("/chat/completions")][-1]["body"]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["begun over HTTP", "continued on Lambda"]
    assert client_for(MASTER_KEY).responses.retrieve(continued.id).previous_response_id == started.id
