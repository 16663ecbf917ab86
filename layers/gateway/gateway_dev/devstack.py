"""A local stand-in for the AWS side of the stack: moto's server on loopback, plus the bucket and
table that ``template.yaml`` creates in AWS. Used by ``make run``, the tests and the benchmarks;
never imported by the Lambda functions (dev-only package: the layer build leaves it out).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from gateway.dynamo.errors import error_code
from gateway.dynamo.table import TTL_ATTRIBUTE, create_table_args

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    """moto's server in a child process, so it dies with Ctrl-C and does not share our GIL."""

    port: int
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, timeout: float = 20.0) -> "MotoServer":
        port = port or free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(port, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited with code {process.returncode}")
            try:
                urllib.request.urlopen(server.endpoint + "/moto-api/", timeout=0.5).close()
                return server
            except OSError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"moto server did not answer on port {port} within {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def environ(self) -> dict[str, str]:
        """Environment that points boto3 (in this or a child process) at this server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}


def _client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def ensure_table(name: str, client: Any | None = None) -> None:
    """Create the gateway's table (``gateway.dynamo.table``) and enable TTL on it, unless it exists.
    ``client`` defaults to ``gateway.aws``'s (``AWS_ENDPOINT_URL``)."""
    if client is None:
        from gateway import aws  # only then: importing this module leaves the gateway's settings alone

        client = aws.client("dynamodb")
    try:
        client.create_table(**create_table_args(name))
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    try:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    except ClientError:
        pass  # already enabled


def create_table(name: str, endpoint: str) -> None:
    """``ensure_table`` on the moto server at ``endpoint``."""
    ensure_table(name, _client("dynamodb", endpoint))


def create_bucket(name: str, endpoint: str) -> None:
    s3 = _client("s3", endpoint)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        s3.create_bucket(Bucket=name)


def upload_file(bucket: str, key: str, path: str | Path, endpoint: str) -> str:
    s3 = _client("s3", endpoint)
    return s3.put_object(Bucket=bucket, Key=key, Body=Path(path).read_bytes())["ETag"]


def upload_dir(bucket: str, prefix: str, directory: str | Path, endpoint: str) -> int:
    count = 0
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file():
            upload_file(bucket, prefix + path.relative_to(directory).as_posix(), path, endpoint)
            count += 1
    return count


def set_environ(values: dict[str, str]) -> None:
    os.environ.update(values)
