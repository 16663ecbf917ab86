"""OpenAI shapes: batch output/error lines, and the File and Batch objects of the REST API.

Output line (success):  {"id", "custom_id", "response": {"status_code": 200, "request_id", "body"}, "error": null}
Error line (HTTP-style): same with the error status and the OpenAI error envelope as ``body``
Error line (line-level): {"id", "custom_id", "response": null, "error": {"code", "message", "line"?}}
"""
from __future__ import annotations

import json
from typing import Any

STATUSES = ("validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def response_line(line_id: str, custom_id: str | None, status: int, request_id: str, body: dict[str, Any]) -> str:
    return dumps({"id": line_id, "custom_id": custom_id,
                  "response": {"status_code": status, "request_id": request_id, "body": body}, "error": None})


def error_line(line_id: str, custom_id: str | None, code: str, message: str, line_no: int | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if line_no is not None:
        error["line"] = line_no
    return dumps({"id": line_id, "custom_id": custom_id, "response": None, "error": error})


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def file_object(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "object": "file",
        "bytes": int(item.get("bytes") or 0),
        "created_at": int(item["created_at"]),
        "expires_at": _int(item.get("expires_at")),
        "filename": item.get("filename") or item["id"],
        "purpose": item.get("purpose", "batch"),
        "status": item.get("status", "processed"),
        "status_details": None,
    }


_TIMES = ("in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
          "cancelling_at", "cancelled_at")


def batch_object(item: dict[str, Any]) -> dict[str, Any]:
    errors = item.get("errors") or []
    total = int(item.get("total") or 0)
    data = {
        "id": item["id"],
        "object": "batch",
        "endpoint": item.get("endpoint") or "/v1/chat/completions",
        "errors": {"object": "list", "data": errors} if errors else None,
        "input_file_id": item.get("input_file_id"),
        "completion_window": item.get("completion_window", "24h"),
        "status": item["status"],
        "output_file_id": item.get("output_file_id"),
        "error_file_id": item.get("error_file_id"),
        "created_at": int(item["created_at"]),
        "request_counts": {"total": total, "completed": int(item.get("completed") or 0),
                           "failed": int(item.get("failed") or 0)},
        "metadata": item.get("metadata") or None,
    }
    for name in _TIMES:
        data[name] = _int(item.get(name))
    return data
