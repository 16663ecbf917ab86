"""SnapStart restore refreshes per-environment state."""
from __future__ import annotations

import random
import sys
import types

from gateway import aws, snapstart


def test_after_restore_refreshes_clients_random_and_checks(stack):
    client = aws.client("s3")
    stack.config._last_check = 123.0
    stack.artifacts._last_check = 123.0
    random.seed(1)
    expected_if_not_reseeded = random.random()
    random.seed(1)
    snapstart.after_restore()
    assert aws.client("s3") is not client
    assert stack.config._last_check is None and stack.artifacts._last_check is None
    assert random.random() != expected_if_not_reseeded


def test_register_uses_the_runtime_hook_when_present(monkeypatch):
    registered = []
    fake = types.ModuleType("snapshot_restore_python")
    fake.register_after_restore = registered.append
    monkeypatch.setitem(sys.modules, "snapshot_restore_python", fake)
    assert snapstart.register() is True
    assert registered == [snapstart.after_restore]


def test_register_is_a_noop_outside_snapstart(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_python", None)
    assert snapstart.register() is False
