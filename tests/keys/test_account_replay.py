"""A settle that failed (DynamoDB unreachable) keeps the user's and the customer's share: its
``spend_settle_failed`` line replays into all four counters once, however often it is replayed."""
from __future__ import annotations

import json
import logging
from decimal import Decimal

from gateway import aws, settings
from gateway.keys import account_admin, enforce, resolve, spend
from gateway.keys.account_schemas import NewCustomerRequest, NewUserRequest
from tests.keys.test_enforce import PRICE, make_key, settle


def test_a_failed_settle_replays_into_the_user_and_the_customer(store, caplog, monkeypatch):
    account_admin.new_user(NewUserRequest(user_id="ada", max_budget=1.0, auto_create_key=False))
    account_admin.new_customer(NewCustomerRequest(user_id="acme", max_budget=1.0))
    principal = resolve.resolve_token(make_key(user_id="ada"))
    adm = enforce.admit(principal, request_id="lost", model="mock", prompt_tokens=10, max_tokens=10,
                        end_user="acme", **PRICE)
    assert store.get_usage("user", "ada").reserved > 0 and store.get_usage("customer", "acme").reserved > 0

    good = aws.client("dynamodb").meta.endpoint_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # DynamoDB unreachable
    monkeypatch.setenv("SETTLE_MAX_ATTEMPTS", "1")
    aws.reset()
    settings.reset()
    with caplog.at_level(logging.ERROR, logger="gateway.keys.spend"):
        settle(adm, cost=0.25)
    monkeypatch.setenv("AWS_ENDPOINT_URL", good)
    aws.reset()
    spend._pending.clear()  # the instance died: only the log line is left
    [line] = [json.loads(r.getMessage()) for r in caplog.records if "spend_settle_failed" in r.getMessage()]

    for expected in ("recorded", "already_recorded"):
        assert spend.replay(store, spend.settlement_from_record(json.loads(json.dumps(line["settlement"])))) == expected
    for kind, ident in (("key", principal.key_hash), ("user", "ada"), ("customer", "acme")):
        usage = store.get_usage(kind, ident)
        assert (usage.spend, usage.reserved, usage.parallel) == (Decimal("0.25"), 0, 0), kind
