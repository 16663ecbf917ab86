"""SnapStart: the hooks go into the real ``snapshot_restore_py`` registry, and running that registry
the way Lambda does after a restore refreshes clients, random state and the S3 checks."""
from __future__ import annotations

import random
import sys

import httpx
import snapshot_restore_py

from gateway import aws, snapstart
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
    stack.refresh()  # whatever was pending; with CONFIG_SYNC_INTERVAL=3600 nothing is due after this
    stack.config.refresh()
    assert not stack.refresh_due()
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
    assert not stack.refresh_due()


def test_register_is_a_noop_without_the_runtime_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # a plain python, not Lambda's runtime
    assert snapstart.register() is False
