"""``POST /v1/files`` over HTTP: the multipart body as sent, and every way an upload is refused
(an OpenAI-shaped 4xx, never a 5xx): not multipart, malformed, too large, a field missing."""
from __future__ import annotations

import io

import httpx
import openai
import pytest
from openai import OpenAI

from tests.batch.conftest import MASTER_KEY, chat_line, jsonl

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def _post(base: str, body: bytes, content_type: str, path: str = "/v1/files") -> httpx.Response:
    return httpx.post(base + path, headers={**AUTH, "content-type": content_type}, content=body, timeout=20)


def _error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert set(resp.json()) == {"error"} and "Traceback" not in resp.text
    return resp.json()["error"]


def _field(name: str, value: bytes, filename: str | None = None, boundary: str = "XyZ") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if filename is not None:
        head += "Content-Type: application/octet-stream\r\n"
    return head.encode() + b"\r\n" + value + b"\r\n"


def _form(*fields: bytes, boundary: str = "XyZ") -> bytes:
    return b"".join(fields) + f"--{boundary}--\r\n".encode()


def test_upload_keeps_the_bytes_and_the_filename_exactly(batch_api):
    payload = b'{"custom_id": "a"}\r\n{"custom_id": "b"}\n\x00\xff'
    body = _form(_field("purpose", b"batch"), _field("file", payload, filename="in put.jsonl"))
    for path in ("/v1/files", "/files"):  # with and without the /v1 prefix
        resp = _post(batch_api, body, 'multipart/form-data; boundary="XyZ"', path=path)
        assert resp.status_code == 200, resp.text
        uploaded = resp.json()
        assert uploaded["filename"] == "in put.jsonl" and uploaded["bytes"] == len(payload)
        assert uploaded["purpose"] == "batch"
        content = httpx.get(f"{batch_api}/v1/files/{uploaded['id']}/content", headers=AUTH, timeout=20)
        assert content.status_code == 200 and content.content == payload


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data"])
def test_upload_that_is_not_multipart_with_a_boundary(batch_api, content_type):
    err = _error(_post(batch_api, b'{"purpose": "batch"}', content_type), 400)
    assert err["code"] == "invalid_request"
    assert err["message"] == "Upload the file as multipart/form-data with fields 'file' and 'purpose'."


@pytest.mark.parametrize("body", [
    b"no parts here",
    b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--XyZ--\r\n",
], ids=["no-boundary-in-body", "part-without-name"])
def test_malformed_multipart_is_a_400(batch_api, body):
    err = _error(_post(batch_api, body, "multipart/form-data; boundary=XyZ"), 400)
    assert err["code"] == "invalid_request" and err["message"].startswith("Malformed multipart body: ")


def test_a_part_cut_off_before_its_delimiter_is_not_taken(batch_api):
    body = _field("purpose", b"batch") + _field("file", b'{"custom_id": "a"}', filename="a.jsonl")[:-2]
    err = _error(_post(batch_api, body, "multipart/form-data; boundary=XyZ"), 400)
    assert err["param"] == "file" and err["code"] == "missing_required_parameter"


def test_missing_purpose_and_missing_file(batch_api):
    data = jsonl([chat_line("a", model="mock")])
    no_purpose = _error(_post(batch_api, _form(_field("file", data, filename="a.jsonl")),
                              "multipart/form-data; boundary=XyZ"), 400)
    assert no_purpose["param"] == "purpose" and no_purpose["code"] == "missing_required_parameter"
    for fields in ([_field("purpose", b"batch")],
                   [_field("purpose", b"batch"), _field("file", data)]):  # a file part needs a filename
        no_file = _error(_post(batch_api, _form(*fields), "multipart/form-data; boundary=XyZ"), 400)
        assert no_file["param"] == "file" and no_file["code"] == "missing_required_parameter"


def test_purpose_other_than_batch_through_the_sdk(batch_api):
    client = OpenAI(base_url=batch_api + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.create(file=("x.jsonl", io.BytesIO(b"{}")), purpose="fine-tune")
    assert refused.value.body["param"] == "purpose" and refused.value.body["code"] == "invalid_value"


def test_upload_over_the_body_limit_is_a_413(batch_api):
    """The tests run with ``GATEWAY_MAX_BODY_BYTES`` = 256 KiB; the check is on Content-Length."""
    client = OpenAI(base_url=batch_api + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=20)
    with pytest.raises(openai.APIStatusError) as refused:
        client.files.create(file=("big.jsonl", io.BytesIO(b"x" * (300 * 1024))), purpose="batch")
    assert refused.value.status_code == 413 and refused.value.body["code"] == "request_too_large"
