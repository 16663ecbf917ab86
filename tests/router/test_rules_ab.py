import pytest

from router import NoCandidateError, RouteRequest, RouterConfigError, ab_bucket, build_router

from .conftest import user

RULES = {
    "strategy": "rules",
    "rules": [
        {"if": {"key_ids": ["vip"]}, "model": "big"},
        {"if": {"team_ids": ["data"], "regex": "(?i)\\bsql\\b"}, "model": "coder"},
        {"if": {"regex": "(?i)\\bsql\\b"}, "model": "coder-small"},
        {"if": {"keywords": ["refund", "invoice"]}, "model": "cheap"},
        {"if": {"has_tools": True}, "model": "tools"},
        {"if": {"has_images": True}, "model": "vision"},
        {"if": {"metadata": {"tier": ["free", "trial"]}}, "model": "mock"},
        {"if": {"min_tokens": 1000}, "model": "long"},
        {"if": {"max_tokens": 3}, "model": "short"},
        {"if": {"requested_model": ["auto-coder"]}, "model": "coder"},
    ],
    "default": "default-model",
}


@pytest.fixture(scope="module")
def rules():
    return build_router(RULES)


@pytest.mark.parametrize("kwargs,expected", [
    ({"messages": user("hello there, how are you today my friend"), "key_id": "vip"}, "big"),
    ({"messages": user("write SQL for the sales table please now"), "team_id": "data"}, "coder"),
    ({"messages": user("write SQL for the sales table please now"), "team_id": "other"}, "coder-small"),
    ({"messages": user("mysqlite is not a keyword match at all here")}, "default-model"),
    ({"messages": user("Where is my REFUND for last month, friend?")}, "cheap"),
    ({"messages": user("refunds are a different word entirely here ok")}, "default-model"),
    ({"messages": user("call the weather function for me please now"), "tools": [{"type": "function"}]}, "tools"),
    ({"messages": ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}},
                                                {"type": "text", "text": "what is in this picture"}]},)}, "vision"),
    ({"messages": user("a normal question about nothing in particular"), "metadata": {"tier": "trial"}}, "mock"),
    ({"messages": user("a normal question about nothing in particular"), "metadata": {"tier": "pro"}}, "default-model"),
    ({"messages": user("lorem ipsum dolor " * 400)}, "long"),
    ({"messages": user("hi")}, "short"),
    ({"messages": user("a normal question about nothing in particular"), "model": "auto-coder"}, "coder"),
])
def test_rule_conditions(rules, kwargs, expected):
    d = rules.route(RouteRequest(**kwargs))
    assert d.model == expected
    assert d.strategy == "rules" and d.artifact_version is None
    assert "SQL" not in d.reason and "REFUND" not in d.reason  # never prompt text


def test_rules_skip_targets_the_key_may_not_use(rules):
    req = RouteRequest(messages=user("write SQL for the sales table please now"), candidates=["coder-small", "x"])
    assert rules.route(req).model == "coder-small"
    req = RouteRequest(messages=user("write SQL for the sales table please now"), candidates=["default-model"])
    d = rules.route(req)
    assert d.model == "default-model" and "not allowed" in d.reason
    with pytest.raises(NoCandidateError):
        rules.route(RouteRequest(messages=user("write SQL please for me now"), candidates=["nothing-matches"]))


def test_rules_are_deterministic(rules):
    req = RouteRequest(messages=user("Where is my invoice?"))
    assert len({rules.route(req) for _ in range(20)}) == 1


@pytest.mark.parametrize("settings,needle", [
    ({"strategy": "rulez"}, "unknown strategy"),
    ({}, "strategy: is required"),
    ({"strategy": "rules"}, "at least one rule"),
    ({"strategy": "rules", "rules": [{"if": {"regex": "("}, "model": "a"}]}, "rules[0].if.regex"),
    ({"strategy": "rules", "rules": [{"if": {"min_tokens": -1}, "model": "a"}]}, "min_tokens"),
    ({"strategy": "rules", "rules": [{"if": {"min_tokens": 10, "max_tokens": 5}, "model": "a"}]}, "never match"),
    ({"strategy": "rules", "rules": [{"if": {"colour": "red"}, "model": "a"}]}, "unknown setting"),
    ({"strategy": "rules", "rules": [{"if": {"has_tools": "yes"}, "model": "a"}]}, "true or false"),
    ({"strategy": "rules", "rules": [{"if": {}}]}, "exactly one of 'model'"),
    ({"strategy": "threshold", "strong_model": "a", "weak_model": "b", "strong_fraction": 0.3}, "needs a router artifact"),
    ({"strategy": "ab", "split": 1.5, "a": {}, "b": {}}, "split"),
    ({"ab": {"split": 0.5, "a": {"strategy": "rules", "default": "x"}}}, "ab.b"),
])
def test_settings_errors_are_clear(settings, needle):
    with pytest.raises(RouterConfigError) as ei:
        build_router(settings, None)
    assert needle in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_litellm_router_keys_are_tolerated():
    r = build_router({"strategy": "rules", "default": "mock", "routing_strategy": "simple-shuffle", "num_retries": 2})
    assert r.route(RouteRequest(messages=user("x"))).model == "mock"


def test_nested_router_target():
    r = build_router({"strategy": "rules", "rules": [{"if": {"key_ids": ["k"]},
                                                      "router": {"strategy": "rules", "default": "inner"}}],
                      "default": "outer"})
    d = r.route(RouteRequest(messages=user("x"), key_id="k"))
    assert d.model == "inner" and d.strategy == "rules>rules"
    assert r.route(RouteRequest(messages=user("x"), key_id="z")).model == "outer"


def test_ab_split_is_deterministic_and_proportional():
    settings = {"ab": {"split": 0.3, "salt": "exp1", "a": {"strategy": "rules", "default": "A"},
                       "b": {"strategy": "rules", "default": "B"}}}
    r1, r2 = build_router(settings), build_router(settings)
    picks = [r1.route(RouteRequest(messages=user("x"), key_id=f"key-{i}")).model for i in range(2000)]
    again = [r2.route(RouteRequest(messages=user("x"), key_id=f"key-{i}")).model for i in range(2000)]
    assert picks == again
    share = picks.count("A") / len(picks)
    assert 0.26 < share < 0.34
    d = r1.route(RouteRequest(messages=user("x"), key_id="key-1"))
    assert d.strategy.startswith("ab:") and "ab arm" in d.reason
    assert ab_bucket("key-1", "exp1") == ab_bucket("key-1", "exp1") != ab_bucket("key-1", "exp2")
    # no key id: falls back to the team id, then a constant
    assert build_router(settings).route(RouteRequest(messages=user("x"))).model in ("A", "B")


def test_rule_names_and_describe():
    r = build_router({"strategy": "rules", "rules": [{"name": "sql", "if": {"regex": "(?i)sql"}, "model": "coder"}],
                      "default": "mock"})
    d = r.route(RouteRequest(messages=user("some SQL please")))
    assert d.reason == "rule 0 (sql) matched -> coder"
    assert r.describe() == {"strategy": "rules", "rules": [{"name": "sql", "target": "coder"}], "default": "mock"}


def test_odd_request_shapes_do_not_crash():
    r = build_router({"strategy": "rules", "rules": [{"if": {"metadata": {"tier": "free"}}, "model": "a"}],
                      "default": "b"})
    req = RouteRequest.from_openai({"messages": [{"role": "user", "content": None}, {"content": 5}, "junk"],
                                    "metadata": "not-a-dict"})
    assert r.route(req).model == "b" and req.tokens == 0
