"""Users', customers' and tags' limits hold when many instances race, as keys' and teams' do
(``test_concurrency.py``): 6 spawned OS processes x 8 threads, 264 requests released by one barrier
against moto's server over HTTP. Requests come from two keys of one user (its ``max_budget`` and
``rpm_limit`` bind, the keys have none), each on behalf of one of two customers (``end_user``): one
with its own budget, one whose budget comes from a shared tier; half of them carry a spend tag
with a budget of its own. Then, exactly (Decimal):
- accepted requests per minute window <= the user's rpm; each customer's, the tag's and the user's
  spend <= its budget, and the user's and one customer's budget were reached (the tag's is checked
  after theirs, so a refusal names it only when they had room: that depends on the race);
- the user's spend == the sum of its keys' spend logs == the sum the callers settled, and each
  customer's and the tag's spend == the sum of the logs that name it;
- nothing is left reserved or in flight on any of the four counters.
"""
from __future__ import annotations

import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.keys.conftest import aws_env
from tests.keys.test_concurrency import PER_THREAD, PRICE_IN, PRICE_OUT, PROCESSES, THREADS, instances  # noqa: F401

USER_RPM = 150
USER_BUDGET = 0.8  # binds: about 66 requests' worth
#: the first binds (it gets about half of the user's requests), the second (through the tier "tier-gold") does not
CUSTOMER_BUDGETS = {"cust-own": 0.2, "cust-tier": 0.9}
TAG, TAG_BUDGET = "proj-x", 0.25  # on about half the requests: binds before the user's budget


def _worker(env: dict[str, str], tokens: list[str], wid: int, count: int, barrier) -> list[tuple]:
    os.environ.update(env)
    from gateway.errors import GatewayError
    from gateway.keys import enforce, resolve
    from tests.keys.conftest import reset_caches

    reset_caches()
    principals = [resolve.resolve_token(t) for t in tokens]
    rng = random.Random(wid)

    def one(i: int):
        rid = f"a{wid}-{i}"
        customer = rng.choice(sorted(CUSTOMER_BUDGETS))
        tags = (TAG,) if rng.random() < 0.5 else ()
        try:
            adm = enforce.admit(rng.choice(principals), request_id=rid, model="mock", prompt_tokens=10, max_tokens=10,
                                input_cost_per_token=PRICE_IN, output_cost_per_token=PRICE_OUT, end_user=customer,
                                request_tags=tags)
        except GatewayError as exc:
            return (rid, False, None, exc.type, None, customer, str(exc.body()["error"]["message"]).split(":")[0])
        window = int(adm.start_time // 60)
        time.sleep(rng.random() * 0.01)
        if rng.random() < 0.3:
            enforce.release(adm, status=502, error_code="upstream_error")
            return (rid, True, window, None, "0", customer)
        cost = round(rng.uniform(0.005, 0.03), 6)
        enforce.settle(adm, prompt_tokens=10, completion_tokens=rng.randint(1, 10), cost=cost, status=200,
                       deployment="mock-1", router=None, latency_ms=1.0)
        return (rid, True, window, None, str(cost), customer)

    barrier.wait()
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(count)))


def test_user_and_customer_limits_hold_across_processes(moto_server, table, store, instances):  # noqa: F811
    from gateway.keys import account_admin, admin
    from gateway.keys.account_schemas import NewBudgetRequest, NewCustomerRequest, NewTagRequest, NewUserRequest
    from gateway.keys.schemas import GenerateKeyRequest
    from gateway.keys.tokens import hash_token

    account_admin.new_user(NewUserRequest(user_id="ada", max_budget=USER_BUDGET, rpm_limit=USER_RPM, auto_create_key=False))
    account_admin.new_budget(NewBudgetRequest(budget_id="tier-gold", max_budget=CUSTOMER_BUDGETS["cust-tier"]))
    account_admin.new_customer(NewCustomerRequest(user_id="cust-own", max_budget=CUSTOMER_BUDGETS["cust-own"]))
    account_admin.new_customer(NewCustomerRequest(user_id="cust-tier", budget_id="tier-gold"))
    account_admin.new_tag(NewTagRequest(name=TAG, max_budget=TAG_BUDGET))
    tokens = [admin.generate_key(GenerateKeyRequest(user_id="ada"))["key"] for _ in range(2)]

    pool, manager = instances
    barrier = manager.Barrier(PROCESSES)
    per_proc = int(THREADS * PER_THREAD)
    env = aws_env(moto_server.url, table)
    futures = [pool.submit(_worker, env, tokens, w, per_proc, barrier) for w in range(PROCESSES)]
    rows = [row for f in futures for row in f.result(timeout=120)]

    accepted = [r for r in rows if r[1]]
    refused_by = Counter(r[6] for r in rows if not r[1])
    per_window = Counter(r[2] for r in accepted)
    print(f"\naccepted={len(accepted)} rejected={dict(refused_by)} windows={dict(per_window)}")
    assert len(rows) == PROCESSES * per_proc and accepted
    # both the user's and a customer's budget were reached. The tag's is checked after theirs, so whether
    # a refusal names it depends on the race; its spend stays within its budget either way (below)
    assert {"Budget exceeded for user ada", "Budget exceeded for end user cust-own"} <= set(refused_by), refused_by
    assert all(n <= USER_RPM for n in per_window.values())

    logs = [log for t in tokens
            for log in store.query_logs(key_hash=hash_token(t), start=0, end=time.time() + 60, limit=10_000)]
    assert sorted(log.request_id for log in logs) == sorted(r[0] for r in accepted)
    user = store.get_usage("user", "ada")
    assert user.spend <= Decimal(str(USER_BUDGET))
    assert sum((log.cost for log in logs), Decimal(0)) == user.spend == sum((Decimal(r[4]) for r in accepted), Decimal(0))
    for customer, budget in CUSTOMER_BUDGETS.items():
        usage = store.get_usage("customer", customer)
        assert usage.spend <= Decimal(str(budget)), customer
        assert usage.spend == sum((log.cost for log in logs if log.end_user == customer), Decimal(0)), customer
        assert (usage.reserved, usage.parallel, usage.committed) == (0, 0, usage.spend), customer
    tag = store.get_usage("tag", TAG)
    assert tag.spend <= Decimal(str(TAG_BUDGET))
    assert tag.spend == sum((log.cost for log in logs if TAG in log.request_tags), Decimal(0))
    assert (tag.reserved, tag.parallel, tag.committed) == (0, 0, tag.spend)
    assert (user.reserved, user.parallel, user.committed) == (0, 0, user.spend)
    for token in tokens:
        key = store.get_usage("key", hash_token(token))
        assert (key.reserved, key.parallel) == (0, 0)


@pytest.fixture(autouse=True)
def _no_leftover_accounts():
    yield
    from gateway.keys import accounts

    accounts.invalidate()
