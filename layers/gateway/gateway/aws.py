"""The one place that builds boto3 clients.

boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) on its own, so the local
run and the tests point every client at moto's server without any code here knowing about it.
Clients are cached per process: building one costs milliseconds and Lambda reuses the process.
"""
from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

_CLIENT_CONFIG = Config(
    connect_timeout=float(os.environ.get("AWS_CONNECT_TIMEOUT", "2")),
    read_timeout=float(os.environ.get("AWS_READ_TIMEOUT", "5")),
    retries={"max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", "3")), "mode": "standard"},
    # botocore's default pool of 10 is below what a batch worker or uvicorn keeps in flight.
    max_pool_connections=int(os.environ.get("AWS_MAX_POOL_CONNECTIONS", "64")),
)


@functools.lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A cached low-level client for ``service`` (``"s3"``, ``"dynamodb"``, ``"sqs"``, ...)."""
    return boto3.session.Session().client(service, config=_CLIENT_CONFIG)


@functools.lru_cache(maxsize=None)
def resource(service: str) -> Any:
    """A cached resource object (``dynamodb.Table`` and friends)."""
    return boto3.session.Session().resource(service, config=_CLIENT_CONFIG)


def reset() -> None:
    """Forget cached clients: after credentials rotate (SnapStart restore) or in tests that move endpoints."""
    client.cache_clear()
    resource.cache_clear()
