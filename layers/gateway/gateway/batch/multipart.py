"""A small ``multipart/form-data`` reader for ``POST /v1/files`` (Starlette's form parser needs the
optional python-multipart package; this keeps the Lambda layer free of it)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _params(header: str) -> dict[str, str]:
    out = {}
    for name, value in _PARAM.findall(header):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out[name.lower()] = value
    return out


def boundary_of(content_type: str) -> str | None:
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    return _params(content_type).get("boundary") or None


def parse(body: bytes, boundary: str) -> dict[str, Part]:
    """Field name -> Part (the last one wins). Raises ValueError on a body that is not multipart."""
    delimiter = b"--" + boundary.encode()
    if delimiter not in body:
        raise ValueError("multipart boundary not found in the body")
    parts: dict[str, Part] = {}
    for section in body.split(delimiter)[1:]:
        if section.startswith(b"--"):
            break
        section = section[2:] if section.startswith(b"\r\n") else section.lstrip(b"\n")
        head, sep, data = section.partition(b"\r\n\r\n")
        if not sep:
            head, sep, data = section.partition(b"\n\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        headers = {}
        for raw in head.decode("utf-8", "replace").splitlines():
            name, _, value = raw.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = _params(disposition)
        if "name" not in params:
            continue
        parts[params["name"]] = Part(params["name"], params.get("filename"), headers.get("content-type"), data)
    return parts
