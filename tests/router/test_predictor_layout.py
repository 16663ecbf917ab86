"""The per-bucket record layout scores bit for bit like the per-model-row layout it replaced.

``RowLayoutPredictor`` (``router/train/row_layout.py``) is the previous serving code (one float32 row per model, one gather
per model), kept as the reference: the speed-up must not move a single decision. The shipped
artifacts are part of the repository, so these tests need no external data.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from router import RouteRequest, build_router, load_artifact
from router.artifacts import Artifact
from router.features import (PUNCT, _NOT_PUNCT, _PUNCT_TO_SPACE, estimate_tokens)
from router.npy import parse_npy
from router.predictors import LinearPredictor, make_predictor
from router.train.row_layout import RowLayoutPredictor

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "router" / "artifacts" / name for name in ("default", "llmrouter-cost-aware")]


def prompts(seed: int = 0, n: int = 150) -> list[str]:
    """Varied prompts: short and long (past the feature window), code, maths, unicode, repeats, empty."""
    rng = random.Random(seed)
    vocab = ("the of and a to integral derivative prove court plaintiff select from where def return "
             "x = y + 1 ; ( ) { } ** naïve café 東京 Ünïcödé \n \t ? ! 42 3.14").split(" ")
    out = ["", " ", "!!!", "a", "a a a a", "word " * 300, "é" * 50]
    for _ in range(n):
        out.append(" ".join(rng.choice(vocab) for _ in range(rng.choice((1, 5, 40, 300, 1500)))))
    return out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_record_layout_is_bit_identical_to_row_layout(path):
    art = load_artifact(path)
    new, old = LinearPredictor(art), RowLayoutPredictor(art)
    for text in prompts():
        assert new.predict(text) == old.predict(text)


def test_cost_aware_decisions_unchanged():
    art = load_artifact(SHIPPED[1])
    settings = {"strategy": "cost-aware", "lambda": art.manifest["default_settings"]["lambda"]}
    fast = build_router(settings, art)
    ref = build_router(settings, art)
    ref.pred = RowLayoutPredictor(art)
    for text in prompts(seed=1, n=80):
        req = RouteRequest(messages=({"role": "user", "content": text},))
        assert fast.route(req) == ref.route(req)


def _artifact_with(arrays: dict[str, np.ndarray], hash_bits: int = 8) -> Artifact:
    import io

    parsed = {}
    for k, v in arrays.items():
        buf = io.BytesIO()
        np.save(buf, v)
        parsed[k] = parse_npy(buf.getvalue(), k)
    manifest = {"version": "t", "kind": "linear", "models": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "features": {"hash_bits": hash_bits}}
    return Artifact("mem", manifest, parsed)


@pytest.mark.parametrize("dtype,with_idf", [(np.float32, True), (np.float64, True), (np.float32, False)])
def test_other_dtypes_and_no_idf_keep_exact_values(dtype, with_idf):
    rng = np.random.default_rng(0)
    dim = (1 << 8) + len(PUNCT) + 6
    arrays = {"WT": rng.normal(size=(3, dim)).astype(dtype), "bias": rng.normal(size=3).astype(np.float32)}
    if with_idf:
        arrays["idf"] = (1 + rng.random(1 << 8)).astype(np.float32)
    art = _artifact_with(arrays)
    new, old = LinearPredictor(art), RowLayoutPredictor(art)
    assert new.fmt == ("f" if dtype == np.float32 else "d")
    for text in prompts(seed=2, n=40):
        assert new.predict(text) == old.predict(text)


def test_predictor_is_built_once_per_artifact():
    art = load_artifact(SHIPPED[1])
    assert make_predictor(art) is make_predictor(art)
    assert make_predictor(load_artifact(SHIPPED[1])) is not make_predictor(art)  # a new load gets its own


def test_token_estimate_counts_words_like_split():
    """The word count without per-word objects equals ``len(translate(...).split())`` exactly,
    including bytes.split()'s ASCII-only idea of whitespace (\\x1c-\\x1f and U+0085 are not)."""
    def reference(text: str) -> int:
        if not text:
            return 0
        b = text.encode("utf-8", "replace")
        words = len(b.translate(_PUNCT_TO_SPACE).split())
        punct = len(b.translate(None, _NOT_PUNCT))
        return int(math.ceil(1.1 * words + 0.9 * punct + (len(b) - len(text)) / 2))

    rng = random.Random(3)
    alphabet = " \t\n\r\x0b\x0c\x1c\x1f\x85\u00a0\u2003ab.,!é東"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(3000)]
    texts += ["".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(0, 30))) for _ in range(1000)]
    texts += prompts(seed=4, n=30)
    for t in texts:
        assert estimate_tokens(t) == reference(t), repr(t)
