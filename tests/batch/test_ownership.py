"""Who a dropped file or a queued request runs as (docs/batch.md): the master key's prefix
grant for S3 drops, the key token itself for stand-alone SQS requests; never what the writer names.
Real S3/SQS events (sam shapes) against moto's server and the fake upstream, the admin API over HTTP."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.batch.conftest import (MASTER_KEY, _aws, chat_line, deliver, drain, jsonl, put_input, receive,
                                  s3_event)
from tests.batch.test_events import LINE_COST, UPSTREAM_MODEL, _spend


def _drop(s3_handler, data: bytes, **kwargs) -> tuple[str, dict]:
    from gateway_dev.batch_worker import FakeContext

    key, etag = put_input(data, **kwargs)
    return key, s3_handler(s3_event(key, etag, len(data)), FakeContext())


def _items(prefix: str) -> list[dict]:
    """Every item of the test's (fresh) table whose pk starts with ``prefix``."""
    import os

    from gateway.dynamo.codec import plain_item

    pages = _aws("dynamodb").get_paginator("scan").paginate(TableName=os.environ["GATEWAY_TABLE"])
    items = [plain_item(i) for page in pages for i in page["Items"]]
    return [i for i in items if str(i["pk"]).startswith(prefix)]


def _admin(base: str, key: str, method: str, path: str, body: dict | bytes | None = None) -> httpx.Response:
    """A call of the admin API; ``body`` bytes are sent as they are (malformed JSON)."""
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    return httpx.request(method, base + path, content=content, timeout=20,
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


def _grant(prefix: str, key_id: str) -> None:
    from gateway.batch import prefixes

    prefixes.register(prefixes.PrefixGrant(prefix=prefix, key_id=key_id))


# ---------------------------------------------------------------- S3 drops
@pytest.mark.parametrize("case", ["top-level", "never-granted", "withdrawn", "capitals", "other-bucket"])
def test_a_drop_outside_a_granted_prefix_runs_nothing(case, batch_env, s3_handler, upstream, virtual_key):
    from gateway.batch import prefixes
    from gateway_dev import devstack
    from gateway_dev.batch_worker import FakeContext

    token, key_hash = virtual_key(key_alias=f"ungranted-{case}")
    _grant("team", key_hash)
    prefix = {"top-level": "", "never-granted": "nobody", "withdrawn": "team", "capitals": "TEAM",
              "other-bucket": "team"}[case]
    if case == "withdrawn":
        prefixes.unregister(prefixes.PrefixRef(prefix="team"))
    before = len(upstream.calls(UPSTREAM_MODEL))
    data = jsonl([chat_line("u0"), chat_line("u1")])
    key, etag = put_input(data, prefix=prefix, metadata={"gateway-key-id": key_hash})
    event = s3_event(key, etag, len(data))
    if case == "other-bucket":  # the same key in a bucket that is not the batch bucket
        devstack.create_bucket("not-the-batch-bucket", _aws("s3").meta.endpoint_url)
        _aws("s3").put_object(Bucket="not-the-batch-bucket", Key=key, Body=data)
        event["Records"][0]["s3"]["bucket"]["name"] = "not-the-batch-bucket"

    out = s3_handler(event, FakeContext())

    assert out == {"batches": [], "ignored": [{"key": key, "reason": "unregistered_prefix"}]}
    assert len(upstream.calls(UPSTREAM_MODEL)) == before
    assert _items("BATCH#") == [] and _items("FILE#") == []  # no batch, no copy of the input
    assert receive(batch_env["queue_url"]) == []
    assert _spend(key_hash) == 0


def test_a_drop_under_a_granted_prefix_runs_as_its_owner_and_bills_it(batch_env, batch_api, s3_handler, upstream,
                                                                      virtual_key):
    token, key_hash = virtual_key(key_alias="granted-owner")
    granted = _admin(batch_api, MASTER_KEY, "POST", "/batch/s3_prefix/new", {"prefix": "team-a", "key_id": key_hash})
    assert granted.status_code == 200, granted.text
    before = len(upstream.calls(UPSTREAM_MODEL))

    key, out = _drop(s3_handler, jsonl([chat_line(f"g{i}") for i in range(3)]), prefix="team-a", name="sub/dir/run")

    assert key == "batch/input/team-a/sub/dir/run.jsonl" and out["ignored"] == []
    from gateway.batch import store

    batch = store.get_batch(out["batches"][0]["batch_id"])
    assert batch["owner"] == key_hash and store.get_file(batch["input_file_id"])["owner"] == key_hash
    assert batch["status"] == "completed" and batch["completed"] == 3
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 3
    assert _spend(key_hash) == pytest.approx(3 * LINE_COST, rel=1e-6)
    listed = _admin(batch_api, token, "GET", "/v1/batches").json()["data"]  # the owner sees it as its own
    assert [b["id"] for b in listed] == [batch["id"]]


@pytest.mark.parametrize("claim", ["master", "other-hash", "other-token"])
def test_metadata_naming_another_owner_is_refused(claim, batch_env, s3_handler, upstream, virtual_key):
    from gateway.batch import store
    from gateway_dev.batch_worker import FakeContext

    token, key_hash = virtual_key(key_alias="prefix-owner")
    other_token, other_hash = virtual_key(key_alias="named-in-metadata")
    _grant("team-b", key_hash)
    named = {"master": "master", "other-hash": other_hash, "other-token": other_token}[claim]
    before = len(upstream.calls(UPSTREAM_MODEL))
    data = jsonl([chat_line(f"m{i}") for i in range(2)])
    key, etag = put_input(data, prefix="team-b", metadata={"gateway-key-id": named})

    for _ in range(2):  # a redelivered event must not run it either
        out = s3_handler(s3_event(key, etag, len(data)), FakeContext())
        batch = store.get_batch(out["batches"][0]["batch_id"])
        assert batch["status"] == "failed" and [e["code"] for e in batch["errors"]] == ["owner_mismatch"]
        assert batch["owner"] == key_hash  # shown to the prefix's owner, never to the one named

    assert len(upstream.calls(UPSTREAM_MODEL)) == before
    assert receive(batch_env["queue_url"]) == []
    assert _spend(key_hash) == 0 and _spend(other_hash) == 0


# ---------------------------------------------------------------- stand-alone SQS requests
def _send(queue_url: str, custom_id: str, attributes: dict[str, str]) -> None:
    body = json.dumps(chat_line(custom_id))
    _aws("sqs").send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes={
        name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()})


def test_sqs_request_must_carry_the_key_itself(batch_env, sqs_handler, upstream, virtual_key):
    from gateway.batch import blobs

    token, key_hash = virtual_key(key_alias="sqs-owner")
    blocked_token, _ = virtual_key(key_alias="sqs-blocked", blocked=True)
    queue = batch_env["queue_url"]
    before = len(upstream.calls(UPSTREAM_MODEL))
    refused = {
        "names-master": {"gateway-key-id": "master"},
        "names-a-hash": {"gateway-key-id": key_hash},
        "unknown-token": {"gateway-key": "sk-not-a-key-of-this-gateway"},
        "blocked-key": {"gateway-key": blocked_token},
        "master-key": {"gateway-key": MASTER_KEY},  # BATCH_SQS_ALLOW_MASTER is off
    }
    for custom_id, attributes in refused.items():
        _send(queue, custom_id, attributes)
    _send(queue, "proved", {"gateway-key": token})

    records, failed = deliver(queue, sqs_handler)
    assert records == 6 and len(failed) == 5
    drain(queue, sqs_handler)
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 1
    assert sorted(json.loads(m["Body"])["custom_id"] for m in receive(batch_env["dlq_url"])) == sorted(refused)
    result = json.loads(blobs.get(f"batch/output/sqs/{key_hash}/proved.jsonl"))
    assert result["custom_id"] == "proved" and result["response"]["status_code"] == 200
    assert _spend(key_hash) == pytest.approx(LINE_COST, rel=1e-6)
    assert [i["pk"] for i in _items("SQSREQ#")] == [f"SQSREQ#{key_hash}"]
    assert token not in json.dumps(_items(""), default=str)  # the token is used, never stored


def test_sqs_request_with_the_master_key_needs_the_admin_opt_in(batch_env, sqs_handler, upstream, monkeypatch):
    from gateway.batch import blobs

    monkeypatch.setenv("BATCH_SQS_ALLOW_MASTER", "true")
    before = len(upstream.calls(UPSTREAM_MODEL))
    _send(batch_env["queue_url"], "as-master", {"gateway-key": MASTER_KEY})
    _send(batch_env["queue_url"], "named-master", {"gateway-key-id": "master"})  # naming it still proves nothing
    records, failed = deliver(batch_env["queue_url"], sqs_handler)
    assert records == 2 and len(failed) == 1
    assert len(upstream.calls(UPSTREAM_MODEL)) - before == 1
    assert json.loads(blobs.get("batch/output/sqs/master/as-master.jsonl"))["custom_id"] == "as-master"


# ---------------------------------------------------------------- the admin API
def test_prefix_grants_through_the_admin_api(batch_env, batch_api, virtual_key):
    _, key_hash = virtual_key(key_alias="grantee")
    _, other_hash = virtual_key(key_alias="other-grantee")
    new, delete, list_ = "/batch/s3_prefix/new", "/batch/s3_prefix/delete", "/batch/s3_prefix/list"

    created = _admin(batch_api, MASTER_KEY, "POST", new, {"prefix": "team-c", "key_id": key_hash})
    assert created.status_code == 200, created.text
    assert created.json() | {"created_at": 0} == {"prefix": "team-c", "key_id": key_hash, "created_at": 0,
                                                  "s3_prefix": "batch/input/team-c/"}
    again = _admin(batch_api, MASTER_KEY, "POST", new, {"prefix": "team-c", "key_id": key_hash})
    assert again.status_code == 200 and again.json() == created.json()  # the same grant: a no-op
    moved = _admin(batch_api, MASTER_KEY, "POST", new, {"prefix": "team-c", "key_id": other_hash})
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "prefix_exists"
    assert _admin(batch_api, MASTER_KEY, "POST", new, {"prefix": "ops", "key_id": "master"}).status_code == 200
    unknown = _admin(batch_api, MASTER_KEY, "POST", new, {"prefix": "ghost", "key_id": "0" * 64})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "key_not_found"

    listed = _admin(batch_api, MASTER_KEY, "GET", list_).json()["data"]
    assert [(g["prefix"], g["key_id"]) for g in listed] == [("ops", "master"), ("team-c", key_hash)]
    assert _admin(batch_api, MASTER_KEY, "POST", delete, {"prefix": "team-c"}).json()["deleted"]["key_id"] == key_hash
    gone = _admin(batch_api, MASTER_KEY, "POST", delete, {"prefix": "team-c"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "prefix_not_found"
    assert [g["prefix"] for g in _admin(batch_api, MASTER_KEY, "GET", list_).json()["data"]] == ["ops"]


def test_prefix_grants_are_master_only(batch_env, batch_api, virtual_key):
    user_token, user_hash = virtual_key(key_alias="plain-key")
    admin_token, _ = virtual_key(key_alias="admin-key", metadata={"role": "admin"})
    for token in (user_token, admin_token):  # an admin virtual key must not grant itself `master`
        for method, path, body in [("POST", "/batch/s3_prefix/new", {"prefix": "mine", "key_id": "master"}),
                                   ("POST", "/batch/s3_prefix/new", {"prefix": "../bad"}),
                                   ("POST", "/batch/s3_prefix/delete", {"prefix": "ops"}),
                                   ("GET", "/batch/s3_prefix/list", None)]:
            answer = _admin(batch_api, token, method, path, body)
            assert answer.status_code == 403, (token == admin_token, path, answer.text)
    assert _admin(batch_api, "sk-nobody", "GET", "/batch/s3_prefix/list").status_code == 401
    assert _admin(batch_api, MASTER_KEY, "GET", "/batch/s3_prefix/list").json()["data"] == []


@pytest.mark.parametrize("body", [
    {"prefix": "", "key_id": "master"},
    {"prefix": "a" * 64, "key_id": "master"},
    {"prefix": "../etc", "key_id": "master"},
    {"prefix": "a/b", "key_id": "master"},
    {"prefix": "Team", "key_id": "master"},
    {"prefix": "a b", "key_id": "master"},
    {"prefix": "ab\n", "key_id": "master"},
    {"prefix": "-lead", "key_id": "master"},
    {"prefix": 7, "key_id": "master"},
    {"prefix": "ok"},
    {"prefix": "ok", "key_id": "sk-a-raw-token"},
    {"prefix": "ok", "key_id": "A" * 64},
    {"prefix": "ok", "key_id": "master", "owner": "master"},
    b"not json",
    b'[{"prefix": "ok", "key_id": "master"}]',
])
def test_prefix_grant_input_is_bounded(body, batch_env, batch_api):
    answer = _admin(batch_api, MASTER_KEY, "POST", "/batch/s3_prefix/new", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert _admin(batch_api, MASTER_KEY, "GET", "/batch/s3_prefix/list").json()["data"] == []


# ---------------------------------------------------------------- the IAM model in template.yaml
def test_no_function_of_the_stack_writes_batch_input():
    """Uploaders own batch/input/<prefix>/; the functions only read it (and write files/ and output/,
    and responses/ for large stored Responses API bodies)."""
    import yaml

    from tests.sam.conftest import TEMPLATE, _CfnLoader

    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    resources = template["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert {"BatchWorkerFunction", "BatchStarterFunction"} <= set(functions)
    calibration = functions.pop("RouterCalibrationFunction")  # its own policy: it writes router/* only
    assert all(f["Properties"]["Policies"] == [{"Ref": "GatewayAccessPolicy"}] for f in functions.values())
    other_writes = [statement for policy in (calibration["Properties"]["Policies"][0],
                                             resources["RouterCalibrationWritePolicy"]["Properties"]["PolicyDocument"])
                    for statement in policy["Statement"] if "s3:PutObject" in statement["Action"]]
    assert [s["Resource"] for s in other_writes] == [{"Fn::Sub": "${ConfigBucket.Arn}/router/*"}] * 2
    writes = []
    for statement in resources["GatewayAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a in {"s3:PutObject", "s3:*"} for a in actions):
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            writes += [t["Fn::Sub"] for t in targets]
    assert sorted(writes) == ["${ConfigBucket.Arn}/batch/files/*", "${ConfigBucket.Arn}/batch/output/*",
                              "${ConfigBucket.Arn}/responses/*"]
