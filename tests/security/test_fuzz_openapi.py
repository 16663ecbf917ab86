"""Schemathesis over the app's own ``/openapi.json``: whatever an admin sends, no response is a 5xx.

Every operation of the running app (uvicorn on loopback, the ``http_server`` fixture) is run through
schemathesis' engine, the one its CLI uses (coverage and fuzzing phases; the schema has no
examples, the stateful phase is off), with the master key, a fixed seed, derandomized generation
and a bounded number of examples per operation: the same ~3,800 requests every run, about two
minutes on 2 cores. (``schemathesis.pytest``'s lazy fixture loader fails under pytest 9, and a
schema loaded at import time would need the stack before the fixtures start it.)

The only check is ``not_a_server_error``: the response models in the schema are approximations of
LiteLLM's, so conformance checks would only add noise; the property guarded here is 0 × 5xx.

Isolation: the fuzz creates, changes, blocks and deletes keys and teams at random. For the length
of this module the app uses a table and a batch bucket of its own, so it cannot reach what other
tests created, and the environment is restored afterwards: tests that run later in the same
session find the shared table as they left it. The config is only read (no operation writes it).
"""
from __future__ import annotations

import collections
import time
from typing import Iterator

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from tests.conftest import MASTER_KEY

SEED = 20240611
#: fuzzed examples per operation (the coverage phase adds its own, finite, cases)
MAX_EXAMPLES = 25
#: the admin API stores what it is sent, so later reads see earlier inputs: it gets more examples
#: (at 100 the run finds the pre-fix 500s of /team/list and /team/update; at 50 it did not)
ADMIN_MAX_EXAMPLES = 100
FUZZ_TABLE = "gateway-fuzz-table"
FUZZ_BUCKET = "gateway-fuzz-bucket"


@pytest.fixture(scope="module")
def own_table(stack, moto_server) -> Iterator[None]:
    """Point the running app at a table and batch bucket of its own; restore the shared ones after."""
    from gateway import settings
    from gateway_dev import devstack
    from gateway.keys import resolve

    devstack.create_table(FUZZ_TABLE, moto_server.endpoint)
    devstack.create_bucket(FUZZ_BUCKET, moto_server.endpoint)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAY_TABLE", FUZZ_TABLE)
        patch.setenv("BATCH_S3_BUCKET", FUZZ_BUCKET)
        settings.reset()
        resolve.invalidate()
        yield
    settings.reset()
    resolve.invalidate()


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {MASTER_KEY}"},
        "request-timeout": 30,
        "continue-on-failure": True,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "operations": [{"include-tag": "admin", "generation": {"max-examples": ADMIN_MAX_EXAMPLES}}],
        "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
    })


Tally = collections.Counter[tuple[str, str, int]]


def _responses(http_server: str) -> Tally:
    """Run the engine: (phase, operation, status) -> number of responses. An engine crash fails the test."""
    schema = schemathesis.openapi.from_url(f"{http_server}/openapi.json", config=_config())
    tally: Tally = collections.Counter()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    tally[(event.phase.value, event.recorder.label, interaction.response.status_code)] += 1
    return tally


def test_no_operation_answers_5xx(http_server: str, own_table: None) -> None:
    started = time.monotonic()
    tally = _responses(http_server)
    per_phase: collections.Counter[str] = collections.Counter()
    for (phase, _, _), n in tally.items():
        per_phase[phase] += n
    server_errors = {f"{phase}: {label} -> {status}": n for (phase, label, status), n in tally.items() if status >= 500}
    print(f"\nfuzz: {len({label for _, label, _ in tally})} operations, {sum(tally.values())} cases "
          f"{dict(per_phase)}, {sum(server_errors.values())} x 5xx, {time.monotonic() - started:.0f}s")
    assert per_phase["fuzzing"] > 0
    assert server_errors == {}
