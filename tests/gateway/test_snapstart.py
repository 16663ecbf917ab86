"""SnapStart: the hooks go into the real ``snapshot_restore_py`` registry, and running that registry
the way Lambda does after a restore refreshes clients, random state and the S3 checks."""
from __future__ import annotations

import json
import random
import secrets
import sys

import httpx
import pytest
import snapshot_restore_py

from gateway import aws, settings, snapstart
from tests.conftest import MASTER_KEY


def _run_after_restore_hooks() -> None:
    """What the managed runtime does on restore: every registered (func, args, kwargs), in order."""
    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)


def _registered() -> list:
    return [func for func, _, _ in snapshot_restore_py.get_after_restore() if func is snapstart.after_restore]


def test_register_puts_the_hook_in_the_runtime_registry_once():
    assert snapstart.register() is True
    assert snapstart.register() is True  # the handler module and tests may both call it
    assert _registered() == [snapstart.after_restore]


def test_restore_refreshes_clients_random_and_forces_s3_checks(stack, http_server):
    assert snapstart.register() is True
    stack.reloads.refresh()  # whatever was pending; with CONFIG_SYNC_INTERVAL=3600 nothing is due after this
    stack.config.refresh()
    assert not stack.reloads.due()
    old_client = aws.client("s3")
    random.seed(1)
    not_reseeded = random.random()
    random.seed(1)

    _run_after_restore_hooks()

    assert random.random() != not_reseeded
    new_client = aws.client("s3")
    assert new_client is not old_client
    assert stack.config.due() and stack.artifacts.due()
    calls: list[str] = []
    new_client.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    resp = httpx.get(http_server + "/v1/models", headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10)
    assert resp.status_code == 200
    assert "HeadObject" in calls and "ListObjectsV2" in calls  # config version and artifact listing
    assert not stack.reloads.due()


@pytest.fixture()
def master_secret(stack, moto_server, monkeypatch):
    """The master key in Secrets Manager (as template.yaml deploys it) instead of LITELLM_MASTER_KEY."""
    client = aws.client("secretsmanager")
    first = "sk-" + secrets.token_urlsafe(32)
    arn = client.create_secret(Name=f"master-{secrets.token_hex(4)}", SecretString=json.dumps({"master_key": first}))["ARN"]
    monkeypatch.delenv("LITELLM_MASTER_KEY")
    monkeypatch.setenv("MASTER_KEY_SECRET_ID", arn)
    settings.reset()
    assert settings.master_key() == first

    def rotate(value: str) -> None:
        aws.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps({"master_key": value}))

    yield rotate
    monkeypatch.undo()
    settings.reset()


def test_restore_rereads_a_rotated_master_key(master_secret):
    assert snapstart.register() is True
    rotated = "sk-" + secrets.token_urlsafe(32)
    master_secret(rotated)
    _run_after_restore_hooks()
    assert settings.master_key() == rotated


def test_restore_with_a_weak_rotated_key_fails(master_secret):
    assert snapstart.register() is True
    master_secret("sk-1234")
    with pytest.raises(settings.WeakMasterKey, match="Secrets Manager secret"):
        _run_after_restore_hooks()


def test_register_is_a_noop_without_the_runtime_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # a plain python, not Lambda's runtime
    assert snapstart.register() is False
