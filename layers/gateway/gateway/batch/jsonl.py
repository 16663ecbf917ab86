"""Input lines of an OpenAI Batch file: split, parse and validate, with no AWS in sight.

A file is split on ``\\n``; blank lines are skipped and not counted. Line ``index`` (0-based, the
order of the output) counts non-blank lines; ``line_no`` (1-based) is the physical line, for error
messages. The starter and the workers split the same bytes with the same function, so a byte range
plus the index of its first line is enough to name a chunk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from gateway import errors
from gateway.schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, parse_body

ENDPOINTS: dict[str, tuple[str, type]] = {
    "/v1/chat/completions": ("chat", ChatCompletionRequest),
    "/v1/completions": ("completion", CompletionRequest),
    "/v1/embeddings": ("embedding", EmbeddingRequest),
}
MAX_CUSTOM_ID = 512


class NotJsonl(ValueError):
    """The file as a whole is not an OpenAI Batch JSONL file: the batch fails (no line runs)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def normalize_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    url = url.split("?", 1)[0].rstrip("/")
    if not url.startswith("/v1/"):
        url = "/v1" + (url if url.startswith("/") else "/" + url)
    return url if url in ENDPOINTS else None


@dataclass(frozen=True)
class RawLine:
    index: int
    line_no: int
    start: int  # byte offset of the line in the file
    end: int    # byte offset just past it (without the newline)
    text: bytes


def iter_lines(data: bytes, *, first_index: int = 0, first_line_no: int = 1, base: int = 0) -> Iterator[RawLine]:
    index, line_no, pos = first_index, first_line_no, 0
    size = len(data)
    while pos < size:
        nl = data.find(b"\n", pos)
        end = size if nl < 0 else nl
        text = data[pos:end]
        if text.strip():
            yield RawLine(index, line_no, base + pos, base + end, text.rstrip(b"\r"))
            index += 1
        line_no += 1
        pos = end + 1


@dataclass(frozen=True)
class InputLine:
    """A line that parsed: what to run."""

    index: int
    line_no: int
    custom_id: str
    url: str
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True)
class BadLine:
    """A line that cannot run; becomes an entry of the error file. ``status`` set = an HTTP-style
    error (reported as ``response``), else a line-level ``error`` (as OpenAI does for both)."""

    index: int
    line_no: int
    custom_id: str | None
    code: str
    message: str
    status: int | None = None
    param: str | None = None


def parse(raw: RawLine, *, endpoint: str | None = None, duplicate: bool = False) -> InputLine | BadLine:
    """One line -> InputLine, or BadLine naming what is wrong (JSON, custom_id, method, url)."""
    try:
        data = json.loads(raw.text)
    except (ValueError, UnicodeDecodeError) as err:
        return BadLine(raw.index, raw.line_no, None, "invalid_json_line",
                       f"Line {raw.line_no} is not valid JSON: {err}.")
    if not isinstance(data, dict):
        return BadLine(raw.index, raw.line_no, None, "invalid_json_line",
                       f"Line {raw.line_no} must be a JSON object.")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return BadLine(raw.index, raw.line_no, None, "missing_custom_id",
                       f"Line {raw.line_no} has no 'custom_id' (a non-empty string).")
    if len(custom_id) > MAX_CUSTOM_ID:
        return BadLine(raw.index, raw.line_no, custom_id[:64], "invalid_custom_id",
                       f"Line {raw.line_no}: 'custom_id' is longer than {MAX_CUSTOM_ID} characters.")
    if duplicate:
        return BadLine(raw.index, raw.line_no, custom_id, "duplicate_custom_id",
                       f"Line {raw.line_no}: custom_id '{custom_id}' appears on an earlier line; custom_ids must be unique.")
    method = data.get("method", "POST")
    if not isinstance(method, str) or method.upper() != "POST":
        return BadLine(raw.index, raw.line_no, custom_id, "invalid_method",
                       f"Line {raw.line_no}: method must be 'POST'.")
    url = normalize_url(data.get("url"))
    if url is None:
        return BadLine(raw.index, raw.line_no, custom_id, "invalid_url",
                       f"Line {raw.line_no}: url {data.get('url')!r} is not one of {', '.join(ENDPOINTS)}.")
    if endpoint is not None and url != endpoint:
        return BadLine(raw.index, raw.line_no, custom_id, "mismatched_url",
                       f"Line {raw.line_no}: url '{url}' differs from the batch endpoint '{endpoint}'.")
    body = data.get("body")
    if not isinstance(body, dict):
        return BadLine(raw.index, raw.line_no, custom_id, "invalid_body",
                       f"Line {raw.line_no}: 'body' must be a JSON object.", status=400, param="body")
    return InputLine(raw.index, raw.line_no, custom_id, url, ENDPOINTS[url][0], body)


def validate_body(line: InputLine, max_bytes: int) -> Any:
    """The typed request for ``line``, or the same 400 GatewayError the HTTP API would return."""
    model_cls = ENDPOINTS[line.url][1]
    request = parse_body(json.dumps(line.body).encode(), model_cls, max_bytes)
    if getattr(request, "stream", False):
        raise errors.bad_request("Streaming is not supported in a batch; remove 'stream'.", param="stream",
                                 code="invalid_value")
    return request


@dataclass
class Scan:
    """What the starter learns from a whole file before fanning it out."""

    lines: list[RawLine]
    duplicates: set[int]
    endpoint: str | None  # url of the first line that parsed (S3 batches take it as theirs)


def scan(data: bytes, *, max_lines: int) -> Scan:
    """Split and pre-parse the whole file; raise ``NotJsonl`` if it is not JSONL at all.

    Not JSONL at all: not UTF-8, empty, too many lines, or not a single line is a JSON object. A few
    bad lines in an otherwise good file are not fatal: they become error-file entries.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise NotJsonl(f"The input file is not UTF-8 text (byte {err.start}); expected JSONL.") from None
    lines = list(iter_lines(data))
    if not lines:
        raise NotJsonl("The input file is empty; expected one JSON request per line.")
    if len(lines) > max_lines:
        raise NotJsonl(f"The input file has {len(lines)} lines; the limit is {max_lines}.")
    seen: set[str] = set()
    duplicates: set[int] = set()
    objects = 0
    endpoint = None
    for raw in lines:
        try:
            data_ = json.loads(raw.text)
        except ValueError:
            continue
        if not isinstance(data_, dict):
            continue
        objects += 1
        cid = data_.get("custom_id")
        if isinstance(cid, str) and cid:
            if cid in seen:
                duplicates.add(raw.index)
            seen.add(cid)
        if endpoint is None:
            endpoint = normalize_url(data_.get("url"))
    if objects == 0:
        raise NotJsonl("The input file is not JSONL: no line is a JSON object "
                       "(expected lines like {\"custom_id\", \"method\", \"url\", \"body\"}).", line=lines[0].line_no)
    return Scan(lines=lines, duplicates=duplicates, endpoint=endpoint)
