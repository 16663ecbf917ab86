import numpy as np

from router import Decision, RouteRequest, ScoredCandidate
from router.features import FeatureSpec, estimate_tokens, featurize


def test_featurize_is_deterministic_and_sparse():
    spec = FeatureSpec(hash_bits=12)
    a = featurize("Solve the integral of x^2 dx, then prove it.", spec)
    b = featurize("Solve the integral of x^2 dx, then prove it.", spec)
    assert a == b
    assert len(set(a[0])) == len(a[0]) and max(a[0]) < spec.dim and min(a[0]) >= 0
    hashed = np.array([v for i, v in zip(*a) if i < spec.n_hash])
    assert abs(float(hashed @ hashed) - 1.0) < 1e-9  # L2-normalised n-gram block
    c = featurize("What is the capital of France?", spec)
    assert sorted(a[0]) != sorted(c[0])


def test_bigram_hash_matches_numpy_uint64_arithmetic():
    """The pure-Python bigram hash must equal wrapping uint64 maths (what a numpy port would do)."""
    import zlib

    from router.features import _BIGRAM_MUL

    h1, h2 = zlib.crc32(b"integral"), zlib.crc32(b"of")
    with np.errstate(over="ignore"):
        ref = int((np.uint64(h1) * np.uint64(_BIGRAM_MUL) + np.uint64(h2)) & np.uint64((1 << 18) - 1))
    assert (h1 * _BIGRAM_MUL + h2) & ((1 << 18) - 1) == ref


def test_empty_and_huge_text_are_bounded():
    spec = FeatureSpec(hash_bits=10, max_chars=2000)
    idx, val = featurize("", spec)
    assert len(idx) >= 1 and np.all(np.isfinite(val))
    idx, val = featurize("word " * 100000, spec)
    assert np.all(np.isfinite(val)) and len(idx) < 100


def test_token_estimate_is_in_the_right_range():
    text = "The quick brown fox jumps over the lazy dog. " * 20
    est = estimate_tokens(text)
    assert 180 <= est <= 240  # tiktoken cl100k_base counts 200 tokens for this text
    assert estimate_tokens("") == 0


def test_request_derives_prompt_tools_images():
    msgs = [{"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "describe"},
                                         {"type": "image_url", "image_url": {"url": "data:..."}}]}]
    r = RouteRequest(messages=msgs, model="auto", candidates=["a", {"name": "b", "input_price": 1.0}])
    assert r.prompt == "describe" and r.has_images and not r.has_tools
    assert r.allowed("a") and r.allowed("b") and not r.allowed("c")
    assert r.candidate("b").input_price == 1.0
    r2 = RouteRequest.from_openai({"model": "auto", "messages": [{"role": "user", "content": "hi"}],
                                   "tools": [{"type": "function", "function": {"name": "f"}}]}, key_id="k")
    assert r2.has_tools and r2.key_id == "k" and r2.allowed("anything")
    assert "describe" not in repr(r)  # prompt text stays out of repr()/logs
    r3 = RouteRequest(messages=[{"role": "tool", "content": "42", "tool_call_id": "1"}])
    assert r3.has_tools and r3.prompt == ""


def test_decision_to_dict():
    d = Decision("m", (ScoredCandidate("m", 0.5),), "threshold", "v1", "why")
    assert d.to_dict() == {"model": "m", "candidates": [{"name": "m", "score": 0.5}], "strategy": "threshold",
                           "artifact_version": "v1", "reason": "why"}
