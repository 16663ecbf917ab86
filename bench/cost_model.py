"""Cost arithmetic for the benchmark: DynamoDB units as DynamoDB bills them, and dollars per million requests.

DynamoDB rules (developer guide, "DynamoDB read and write operations" and "Item sizes and formats":
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
- a write is 1 write unit per 1 KB of the item, rounded up per item, at least 1; a transactional write
  (an item in TransactWriteItems) is 2 per KB; PutItem, UpdateItem and DeleteItem are billed on the
  larger of the item before and after; a write whose condition fails is billed too;
- a strongly consistent read is 1 read unit per 4 KB, eventually consistent half that, transactional
  twice; a Query adds up the sizes of all items it reads and rounds the total, not each item; a read
  of a missing item still costs the minimum;
- an item's size is its attribute names plus values: strings and binaries by length (UTF-8), numbers
  about (significant digits / 2) + 1 bytes, booleans and nulls 1 byte, lists and maps 3 bytes plus 1 per
  element plus their elements.

Prices come from ``aws_prices`` (one module, so an update is one edit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import aws_prices as prices

KB = 1024
READ_BLOCK = 4 * KB


def write_units(item_bytes: int, *, transactional: bool = False) -> int:
    """Write request units of one item write (at least one unit, even for a missing item)."""
    units = max(1, math.ceil(item_bytes / KB))
    return 2 * units if transactional else units


def read_units(item_bytes: int, *, consistent: bool = True, transactional: bool = False) -> float:
    """Read request units of reading ``item_bytes`` (one item, or a Query's total)."""
    blocks = max(1, math.ceil(item_bytes / READ_BLOCK))
    if transactional:
        return 2.0 * blocks
    return float(blocks) if consistent else blocks / 2


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one DynamoDB AttributeValue (``{"S": "..."}``, ``{"M": {...}}``, ...), without its name."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "B":
        return len(data if isinstance(data, (bytes, bytearray)) else str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """Bytes DynamoDB counts for an item in low-level form (0 for a missing item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def lambda_compute(billed_ms: float, memory_mb: int) -> float:
    """Dollars of arm64 duration for one invocation (billed per 1 ms, rounded up)."""
    return math.ceil(billed_ms) / 1000 * memory_mb / 1024 * prices.LAMBDA_ARM64_GB_SECOND


@dataclass(frozen=True)
class RequestProfile:
    """What one request uses: the invocation's billed duration and the AWS calls it made."""

    label: str
    billed_ms: float
    write_units: float
    read_units: float
    front_door: str  # "http_api" | "function_url"
    s3_calls: Mapping[str, float] = field(default_factory=dict)  # per request (reload checks)
    response_bytes: int = 2_000


def per_million(profile: RequestProfile, memory_mb: int) -> dict[str, float]:
    """Dollars per million requests of ``profile`` at ``memory_mb``, by service, and the total."""
    million = 1_000_000
    front = 0.0
    if profile.front_door == "http_api":
        front = math.ceil(max(1, profile.response_bytes) / prices.HTTP_API_METERING_BYTES) * prices.HTTP_API_PER_REQUEST
    elif profile.front_door != "function_url":
        raise ValueError(f"unknown front door {profile.front_door!r}")
    beyond = max(0, profile.response_bytes - 6 * 2**20) if profile.front_door == "function_url" else 0
    out = {
        "lambda_duration": lambda_compute(profile.billed_ms, memory_mb) * million,
        "lambda_requests": prices.LAMBDA_PER_REQUEST * million,
        "front_door": front * million + beyond / 2**30 * prices.LAMBDA_STREAM_PER_GB_BEYOND_6MB * million,
        "dynamodb": (profile.write_units * prices.DYNAMODB_PER_WRITE_UNIT
                     + profile.read_units * prices.DYNAMODB_PER_READ_UNIT) * million,
        "s3": sum(prices.S3_PRICE_BY_OPERATION.get(op, prices.S3_PER_LIST) * n for op, n in profile.s3_calls.items()) * million,
    }
    out["total"] = sum(out.values())
    return out


def reload_checks_per_request(interval_s: float, requests_per_second: float) -> float:
    """Hot-reload checks per request of one warm execution environment: one check per interval at
    most, and only on a request (``gateway.reload.CheckSchedule``); so never more than one per request."""
    if interval_s <= 0 or requests_per_second <= 0:
        return 1.0
    return min(1.0, 1.0 / (interval_s * requests_per_second))
