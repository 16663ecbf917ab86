"""The one place that builds boto3 clients.

boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) on its own, so the local
run and the tests point every client at moto's server without any code here knowing about it.
Clients are cached per process: building one costs milliseconds and Lambda reuses the process.
"""
from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from gateway.settings import get_settings


def _client_config() -> Config:
    settings = get_settings()
    return Config(connect_timeout=settings.aws_connect_timeout, read_timeout=settings.aws_read_timeout,
                  retries={"max_attempts": settings.aws_max_attempts, "mode": "standard"},
                  max_pool_connections=settings.aws_max_pool_connections)


@functools.lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A cached low-level client for ``service`` (``"s3"``, ``"dynamodb"``, ``"sqs"``, ...)."""
    return boto3.session.Session().client(service, config=_client_config())


@functools.lru_cache(maxsize=None)
def resource(service: str) -> Any:
    """A cached resource object (``dynamodb.Table`` and friends)."""
    return boto3.session.Session().resource(service, config=_client_config())


def reset() -> None:
    """Forget cached clients: after credentials rotate (SnapStart restore) or in tests that move endpoints."""
    client.cache_clear()
    resource.cache_clear()
