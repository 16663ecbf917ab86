"""Where the config document comes from: a local file or an S3 object, read through /tmp.

Each source answers two questions cheaply: "what version is there now?" (``current_version``: an
S3 ETag via HEAD, or a file's mtime and size) and "give me that document" (``fetch``). Hot reload
asks the first on a timer and the second only when the answer changed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway import aws
from gateway.config.errors import ConfigError


@dataclass(frozen=True)
class Document:
    text: bytes
    version: str
    location: str


class ConfigSource(Protocol):
    location: str

    def current_version(self) -> str: ...

    def fetch(self) -> Document: ...


class FileSource:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def current_version(self) -> str:
        try:
            stat = self.path.stat()
        except OSError as err:
            raise ConfigError(f"cannot read config file {self.location}: {err.strerror}") from None
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def fetch(self) -> Document:
        version = self.current_version()
        try:
            return Document(self.path.read_bytes(), version, self.location)
        except OSError as err:
            raise ConfigError(f"cannot read config file {self.location}: {err.strerror}") from None


class UnsupportedSource:
    """A config location the gateway cannot read (LiteLLM's ``LITELLM_CONFIG_BUCKET_TYPE=gcs``):
    every load fails with the reason, shown by ``/_health/ready``, instead of falling back silently."""

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason

    def current_version(self) -> str:
        raise ConfigError(self.reason)

    def fetch(self) -> Document:
        raise ConfigError(self.reason)


class S3Source:
    """An S3 object, downloaded to ``tmp_dir`` so a reload never serves a half-written file."""

    def __init__(self, bucket: str, key: str, tmp_dir: str) -> None:
        self.bucket = bucket
        self.key = key
        self.location = f"s3://{bucket}/{key}"
        self.local_path = Path(tmp_dir) / "config" / key.replace("/", "_")

    def current_version(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = aws.client("s3").head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as err:
            raise ConfigError(f"cannot HEAD {self.location}: {_describe(err)}") from None
        except BotoCoreError as err:
            raise ConfigError(f"cannot reach S3 for {self.location}: {err}") from None
        return head["ETag"]

    def fetch(self) -> Document:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = aws.client("s3").get_object(Bucket=self.bucket, Key=self.key)
            body = obj["Body"].read()
        except ClientError as err:
            raise ConfigError(f"cannot download {self.location}: {_describe(err)}") from None
        except BotoCoreError as err:
            raise ConfigError(f"cannot reach S3 for {self.location}: {err}") from None
        self.local_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.local_path.with_suffix(".part")
        partial.write_bytes(body)
        os.replace(partial, self.local_path)
        return Document(body, obj["ETag"], self.location)


def _describe(err: Exception) -> str:
    info = getattr(err, "response", {}).get("Error", {})
    return f"{info.get('Code', 'error')} {info.get('Message', '')}".strip()
