"""Invoke the Lambda handler from a built (slimmed) tree, the way the python3.12 runtime would.

Run as ``python3.12 -I -S lambda_runner.py SPEC.json``: isolated, without site-packages, so only the
directories named in the spec are importable (function dir, layer ``python`` dirs, and a stand-in
for the runtime's own boto3). Prints one JSON document with the responses and what was imported.
This file runs in that bare interpreter: standard library only.
"""
from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import sys
import sysconfig
import time
import uuid


class LambdaContext:
    """The attributes Powertools and Mangum read from Lambda's context object."""

    function_name = "llm-gateway-GatewayFunction"
    function_version = "1"
    memory_limit_in_mb = 1769
    log_group_name = "/aws/lambda/llm-gateway"
    log_stream_name = "2026/11/23/[1]0123456789abcdef"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:llm-gateway:live"
        self._deadline = time.monotonic() + 120

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _decode(response: dict) -> dict:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), ", ".join(values))
    return {"statusCode": response.get("statusCode"), "headers": headers, "body": body}


def _imported_files(allowed: list[str]) -> dict:
    """Modules loaded from the built tree without .pyc, and any loaded from outside the allowed dirs."""
    stdlib = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    allowed_real = [os.path.realpath(p) for p in allowed]
    missing_pyc, foreign = [], []
    count = 0
    for name, module in list(sys.modules.items()):
        if name in {"__main__", "__mp_main__"}:  # this runner
            continue
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py"):
            continue
        real = os.path.realpath(path)
        if any(real.startswith(p + os.sep) for p in stdlib):
            continue
        if not any(real.startswith(p + os.sep) for p in allowed_real):
            foreign.append(f"{name}: {path}")
            continue
        count += 1
        if not os.path.exists(importlib.util.cache_from_source(path)):
            missing_pyc.append(os.path.relpath(path, next(p for p in allowed_real if real.startswith(p + os.sep))))
    return {"count": count, "missing_pyc": sorted(missing_pyc), "foreign": sorted(foreign)}


def main(spec_path: str) -> int:
    with open(spec_path) as fh:
        spec = json.load(fh)
    sys.path[:0] = spec["sys_path"]
    sys.dont_write_bytecode = True  # like Lambda's read-only /opt and /var/task
    t0 = time.perf_counter()
    module = importlib.import_module(spec.get("module", "app"))
    import_seconds = time.perf_counter() - t0
    handler = getattr(module, spec.get("handler", "handler"))
    results = {}
    for name, event in spec["events"].items():
        t1 = time.perf_counter()
        response = handler(event, LambdaContext())
        results[name] = {**_decode(response), "seconds": round(time.perf_counter() - t1, 4)}
    out = {
        "import_seconds": round(import_seconds, 3),
        "results": results,
        "modules": _imported_files(spec["sys_path"]),
        "python": sys.version,
        "boto3": sys.modules["boto3"].__file__ if "boto3" in sys.modules else None,
    }
    print("@@RESULT@@" + json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
