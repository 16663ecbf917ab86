"""Batch files in S3 (``BATCH_S3_BUCKET``, default ``CONFIG_S3_BUCKET``).

Prefixes: ``batch/input/<prefix>/`` (drop a JSONL file here to start a batch as the owner the master
key granted ``<prefix>``: the S3 trigger, see ``prefixes.py``; uploaders write here, the functions
only read), ``batch/files/<file id>`` (files uploaded through ``POST /v1/files`` and copies of dropped inputs),
``batch/output/<batch id>/`` (output and error files, and results too big for a DynamoDB item).
"""
from __future__ import annotations

from typing import Any

from gateway import aws
from gateway.batch import settings as batch_settings

INPUT_PREFIX = "batch/input/"
FILES_PREFIX = "batch/files/"
OUTPUT_PREFIX = "batch/output/"
OWNER_METADATA = "gateway-key-id"  # x-amz-meta-gateway-key-id: an owner *assertion*, checked against the grant


class BucketMissing(RuntimeError):
    pass


def bucket() -> str:
    name = batch_settings.get().bucket
    if not name:
        raise BucketMissing("No bucket for batch files: set BATCH_S3_BUCKET (or CONFIG_S3_BUCKET).")
    return name


def _s3() -> Any:
    return aws.client("s3")


def file_key(file_id: str) -> str:
    return f"{FILES_PREFIX}{file_id}"


def put(key: str, data: bytes, *, content_type: str = "application/jsonl", metadata: dict[str, str] | None = None) -> str:
    out = _s3().put_object(Bucket=bucket(), Key=key, Body=data, ContentType=content_type, Metadata=metadata or {})
    return out.get("ETag", "")


def get(key: str, *, bucket_name: str | None = None) -> bytes:
    return _s3().get_object(Bucket=bucket_name or bucket(), Key=key)["Body"].read()


def head(bucket_name: str, key: str) -> dict[str, Any]:
    return _s3().head_object(Bucket=bucket_name, Key=key)


def get_range(key: str, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of an object (one chunk of an input file)."""
    if end <= start:
        return b""
    return _s3().get_object(Bucket=bucket(), Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read()


def copy_in(src_bucket: str, src_key: str, dest_key: str, etag: str | None = None) -> None:
    """Server-side copy of a dropped input to its immutable ``batch/files/`` home (the version that
    triggered the event: ``CopySourceIfMatch`` on its ETag)."""
    kwargs: dict[str, Any] = {"Bucket": bucket(), "Key": dest_key, "CopySource": {"Bucket": src_bucket, "Key": src_key}}
    if etag:
        kwargs["CopySourceIfMatch"] = etag if etag.startswith('"') else f'"{etag}"'
    _s3().copy_object(**kwargs)
