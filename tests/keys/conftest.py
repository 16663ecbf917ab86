"""Fixtures: a moto server on loopback, a fresh table per test, and a FastAPI app with the admin router."""
from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

MASTER = "sk-master-test"


class SerialMotoServer:
    """moto's server, serving one request at a time.

    DynamoDB applies each write to an item atomically (a conditional ADD is linearizable); moto's
    backend has no per-operation lock, so its threaded server can interleave two UpdateItems on one
    item inside Python. Serving requests one by one restores DynamoDB's guarantee; the clients (the
    code under test, in several OS processes) still race exactly as separate Lambda instances do.
    """

    def __init__(self, threaded: bool = False) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app),
                                   threaded=threaded, request_handler=MotoRequestHandler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "SerialMotoServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def aws_env(url: str, table: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GATEWAY_TABLE": table,
        "LITELLM_MASTER_KEY": MASTER,
    }


def reset_caches() -> None:
    from gateway import aws, settings
    from gateway.keys import accounts, resolve
    from gateway.keys.store import dynamodb

    aws.reset()
    settings.reset()
    resolve.invalidate()
    accounts.invalidate()
    dynamodb._store_for.cache_clear()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[SerialMotoServer]:
    server = SerialMotoServer().start()
    yield server
    server.stop()


@pytest.fixture()
def table(moto_server: SerialMotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"gw-{uuid.uuid4().hex[:8]}"
    for k, v in aws_env(moto_server.url, name).items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KEY_CACHE_TTL_SECONDS", "10")
    reset_caches()
    from gateway_dev.devstack import ensure_table

    ensure_table(name)
    yield name
    reset_caches()


@pytest.fixture()
def store(table: str):
    from gateway.keys.store import get_store

    return get_store()


def all_items(table: str) -> list[dict]:
    from gateway import aws

    out, kwargs = [], {"TableName": table}
    while True:
        page = aws.client("dynamodb").scan(**kwargs)
        out.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture()
def app(table: str):
    return build_app()


def build_app():
    """The admin router in a bare FastAPI app with handlers equivalent to the lead's."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from gateway.errors import GatewayError, error_body
    from gateway.keys.routes import router

    application = FastAPI()
    application.include_router(router)

    @application.exception_handler(GatewayError)
    async def _gw(_: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @application.exception_handler(RequestValidationError)
    async def _val(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return JSONResponse(error_body(f"Invalid request: {first.get('msg', 'bad input')}", "invalid_request_error",
                                       "invalid_request", param), status_code=400)

    return application


@pytest.fixture()
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {MASTER}"
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
