"""Input parsing and validation and the output line shapes (no AWS). Uploads: ``test_uploads.py``."""
from __future__ import annotations

import json

import pytest

from gateway import errors
from gateway.batch import formats, jsonl
from gateway.batch.starter import plan


def _raw(text: str, index: int = 0, line_no: int = 1) -> jsonl.RawLine:
    return jsonl.RawLine(index, line_no, 0, len(text), text.encode())


def test_lines_skip_blanks_and_keep_offsets():
    data = b'{"a":1}\n\n  \n{"b":2}\r\n{"c":3}'
    lines = list(jsonl.iter_lines(data))
    assert [(r.index, r.line_no) for r in lines] == [(0, 1), (1, 4), (2, 5)]
    assert [data[r.start:r.end].rstrip(b"\r") for r in lines] == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    # a chunk's byte range split again gives the same lines with the same numbers
    again = list(jsonl.iter_lines(data[lines[1].start:lines[2].end], first_index=1, first_line_no=4, base=lines[1].start))
    assert again == lines[1:]


def test_plan_covers_every_line_once():
    data = b"".join(json.dumps({"custom_id": f"c{i % 7}", "url": "/v1/embeddings"}).encode() + b"\n\n" for i in range(23))
    scan = jsonl.scan(data, max_lines=100)
    assert scan.duplicates == set(range(7, 23)) and scan.endpoint == "/v1/embeddings"
    chunks = plan("batch_x", scan, chunk_lines=10)
    assert [(c.first, c.count) for c in chunks] == [(0, 10), (10, 10), (20, 3)]
    seen = []
    for c in chunks:
        seen += [r.index for r in jsonl.iter_lines(data[c.start:c.end], first_index=c.first, first_line_no=c.line_no)]
        assert set(c.dups) == {i for i in range(c.first, c.first + c.count) if i >= 7}
    assert seen == list(range(23))


@pytest.mark.parametrize("text, code", [
    ("not json", "invalid_json_line"),
    ("[1]", "invalid_json_line"),
    ('{"url": "/v1/chat/completions", "body": {}}', "missing_custom_id"),
    ('{"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {}}', "invalid_method"),
    ('{"custom_id": "a", "url": "/v1/images", "body": {}}', "invalid_url"),
    ('{"custom_id": "a", "url": "/v1/embeddings", "body": {}}', "mismatched_url"),
    ('{"custom_id": "a", "url": "/v1/chat/completions", "body": "x"}', "invalid_body"),
])
def test_bad_lines_are_named(text, code):
    parsed = jsonl.parse(_raw(text, line_no=3), endpoint="/v1/chat/completions")
    assert isinstance(parsed, jsonl.BadLine) and parsed.code == code and "3" in parsed.message


def test_good_line_and_body_validation():
    line = jsonl.parse(_raw('{"custom_id": "a", "url": "chat/completions", "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}'))
    assert isinstance(line, jsonl.InputLine) and line.url == "/v1/chat/completions" and line.kind == "chat"
    assert jsonl.validate_body(line, 10_000).model == "m"
    missing = jsonl.InputLine(0, 1, "b", "/v1/chat/completions", "chat", {"model": "m"})
    with pytest.raises(errors.GatewayError) as err:
        jsonl.validate_body(missing, 10_000)
    assert err.value.status_code == 400 and err.value.param == "messages"
    streaming = jsonl.InputLine(0, 1, "c", "/v1/completions", "completion", {"model": "m", "prompt": "x", "stream": True})
    with pytest.raises(errors.GatewayError):
        jsonl.validate_body(streaming, 10_000)


@pytest.mark.parametrize("data", [b"\xff\xfe\x00binary", b"", b"\n \n", b"a,b\n1,2\n", b'"just a string"\n'])
def test_files_that_are_not_jsonl(data):
    with pytest.raises(jsonl.NotJsonl):
        jsonl.scan(data, max_lines=10)


def test_too_many_lines():
    with pytest.raises(jsonl.NotJsonl, match="limit"):
        jsonl.scan(b'{"custom_id": "a"}\n' * 11, max_lines=10)


def test_output_shapes():
    ok = json.loads(formats.response_line("batch_req_1", "c1", 200, "batch_req_1", {"id": "x"}))
    assert ok == {"id": "batch_req_1", "custom_id": "c1", "error": None,
                  "response": {"status_code": 200, "request_id": "batch_req_1", "body": {"id": "x"}}}
    bad = json.loads(formats.error_line("batch_req_2", None, "invalid_json_line", "nope", 4))
    assert bad["response"] is None and bad["error"] == {"code": "invalid_json_line", "message": "nope", "line": 4}
    obj = formats.batch_object({"id": "batch_1", "status": "in_progress", "created_at": 5, "total": 3, "completed": 1})
    assert obj["request_counts"] == {"total": 3, "completed": 1, "failed": 0} and obj["errors"] is None
    assert obj["object"] == "batch" and obj["completion_window"] == "24h"
