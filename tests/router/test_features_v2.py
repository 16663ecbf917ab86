"""Feature spec version 2 (the layout block) and that version-1 artifacts score exactly as before.

The pinned numbers were computed by the serving code before version 2 existed (same prompts, the
shipped ``llmrouter-cost-aware`` artifact, which stays on version 1), so any change to the version-1
features or their scoring shows up here as a mismatch.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from router import load_artifact
from router.features import N_DENSE, N_LAYOUT, PUNCT, FeatureSpec, featurize, layout_features, split_words
from router.predictors import LinearPredictor

REPO = Path(__file__).resolve().parents[2]
V1_ARTIFACT = REPO / "router" / "artifacts" / "llmrouter-cost-aware"

PROMPTS = ["", "What is the capital of France?", "def add(a, b):\n    return a + b\n# fix this", "Let $x^2 = 4$. Find \\frac{x}{2}.", "Which of the following is true?\nA. one\nB. two\nC. three\nD. four\nAnswer:", "naïve café 東京 " * 400]
V1_SCORES = [[0.4565800912678242, 0.7819354891777038, 0.7570768043398857, 0.7990011602640152, 0.7582687348127365, 0.26838099807500837, 0.40039487555623055, 0.6906197115778923, 0.8500161245465279], [0.2985907924622524, 0.27352720814940656, 0.26034645884232904, 0.410044053211157, 0.4847383110182087, 0.19393672759046515, 0.17750436383730317, 0.3398514643262711, 0.3563770336963751], [0.4070518526541745, 0.3869495533123496, 0.6128019657224717, 0.7030133072407772, 0.5330504299745413, 0.22576257557341256, 0.36569946666379904, 0.4844355065586706, 0.7131891725739947], [0.3291171727013088, 0.5704129099738172, 0.5384959605326943, 0.5949547010005048, 0.7681036837918392, 0.15222443752717393, 0.08425172111158591, 0.24929138028234804, 0.5624247119594629], [0.2876227727653202, 0.5103702668874104, 0.5503439118165725, 0.6168619959469861, 0.5277569706962307, 0.11408758779355097, 0.17137023281849761, 0.5272470712254579, 0.7035813027948391], [0.17834745599774798, 0.26875461078088525, 0.4111266594756006, 0.3905593886414046, 0.3273236479890322, 0.33140166478974664, 0.15647015063591166, 0.2258675109701293, 0.32629708421937936]]

MC = "Which of the following is NOT true?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
CODE = "def f(x):\n    return x  # $\\frac{1}{2}$"
MC_V1 = "Which of the following is true?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
V1_FEATURES = {MC_V1: ([1423, 506, 3558, 3555, 663, 3213, 3651, 1777, 4089, 2662, 3951, 2293, 2764, 1661, 2597, 2741, 3944, 2497, 2614, 1776, 468, 1648, 3518, 1491, 461, 272, 741, 2361, 3686, 4109, 4111, 4116, 4128, 4129, 4130, 4131, 4132, 4133], [0.18569533817705186]*29 + [0.40235947810852507, 0.17328679513998632, 0.17328679513998632, 0.39139211382002426, 0.0, 0.44793986730701374, 0.42666666666666664, 0.0, 1.0]), CODE: ([353, 3040, 1667, 3855, 505, 4023, 3597, 1237, 4067, 3022, 1726, 3768, 1316, 3088, 4098, 4099, 4103, 4104, 4111, 4119, 4124, 4126, 4128, 4129, 4130, 4131, 4132, 4133], [0.25104758413041756, 0.25104758413041756, 0.42506050925680217] + [0.25104758413041756]*11 + [0.17328679513998632, 0.2746530721670274, 0.17328679513998632, 0.17328679513998632, 0.17328679513998632, 0.17328679513998632, 0.2746530721670274, 0.2746530721670274, 0.3725773294679929, 0.05128205128205128, 0.17328679513998632, 0.35, 0.0, 1.0])}


def layout(text: str) -> dict[int, float]:
    spec = FeatureSpec(hash_bits=10, version=2)
    t, b, words = split_words(text, spec)
    return dict(enumerate(layout_features(t, b, words)))


def test_version1_artifact_scores_are_unchanged():
    art = load_artifact(V1_ARTIFACT)
    assert art.feature_spec.version == 1
    pred = LinearPredictor(art)
    for text, want in zip(PROMPTS, V1_SCORES):
        assert pred.predict(text) == want


def test_version1_features_are_unchanged():
    spec = FeatureSpec(hash_bits=12)
    assert spec.version == 1 and spec.dim == 4096 + len(PUNCT) + N_DENSE
    for text, (idx, vals) in V1_FEATURES.items():
        assert featurize(text, spec) == (idx, vals)
    assert "dense_scale" not in spec.to_dict()  # version-1 manifests are written as before


def test_version2_appends_the_layout_block_after_the_version1_features():
    v1, v2 = FeatureSpec(hash_bits=12), FeatureSpec(hash_bits=12, version=2, dense_scale=3.0)
    assert v2.dim == v1.dim + N_LAYOUT
    for text in (MC, CODE, "", "x" * 9000):
        i1, x1 = featurize(text, v1)
        i2, x2 = featurize(text, v2)
        assert (i2[:len(i1)], x2[:len(x1)]) == (i1, x1)
        assert i2[len(i1):] == list(range(v1.dim, v2.dim))
        block = layout(text)
        assert x2[len(x1):] == [3.0 * block[k] for k in range(N_LAYOUT)]
        assert all(math.isfinite(v) and -1e-9 <= v <= 12 for v in x2[len(x1):])


def test_layout_features_tell_prompt_forms_apart():
    mc, code = layout(MC), layout(CODE)
    qa = layout("who plays the main character in jeepers creepers 3")
    maths = layout("Let $x^2 = 4$. Find \\frac{x}{2} and \\sqrt{x}.")
    passage = layout("The river flooded the town in spring. " * 30 + "\nWhy did the town flood?")
    is_mc, which_of, negation, latex, code_words, wh_first, long_then_question = 14, 17, 18, 7, 11, 23, 22
    assert mc[is_mc] == 1.0 and qa[is_mc] == code[is_mc] == 0.0
    assert mc[which_of] == 1.0 and mc[negation] == 1.0 and qa[which_of] == 0.0
    assert maths[latex] == 1.0 and qa[latex] == 0.0
    assert code[code_words] > 0 and qa[code_words] == 0.0
    assert qa[wh_first] == 1.0 and code[wh_first] == 0.0
    assert passage[long_then_question] == 1.0 and qa[long_then_question] == 0.0
    assert passage[0] > qa[0]  # log length


@pytest.mark.parametrize("bad", [{"version": 3}, {"version": 1, "dense_scale": 2.0},
                                 {"version": 2, "dense_scale": 0}, {"version": 2, "dense_scale": "x"}])
def test_unknown_or_inconsistent_specs_are_refused(bad):
    with pytest.raises(ValueError):
        FeatureSpec.from_dict({"hash_bits": 12, **bad})


def test_spec_round_trips_through_the_manifest_dict():
    for spec in (FeatureSpec(hash_bits=12), FeatureSpec(hash_bits=15, version=2, dense_scale=4.0)):
        assert FeatureSpec.from_dict(spec.to_dict()) == spec


def test_layout_block_is_cheap_at_the_feature_window():
    spec = FeatureSpec(hash_bits=12, version=2)
    t, b, words = split_words("Solve x + 1 = 2; then explain why.\n" * 400, spec)
    start = time.perf_counter()
    for _ in range(50):
        layout_features(t, b, words)
    assert (time.perf_counter() - start) / 50 < 0.002  # measured ~0.18 ms; generous for a loaded CI box


def test_cli_trains_a_version2_artifact_that_serves(binary_dir, tmp_path):
    from router import RouteRequest, build_router
    from router.train.cli import main as cli_main

    out = tmp_path / "v2"
    assert cli_main(["train", "--data", str(binary_dir), "--out", str(out), "--hash-bits", "12", "--quiet",
                     "--folds", "3", "--feature-version", "2", "--dense-scale", "5", "--inner-cv", "families",
                     "--alpha-grid", "3,30", "--hmac-key-env", "ROUTER_TEST_NO_SUCH_ENV"]) == 0
    art = load_artifact(out)
    assert art.manifest["features"]["version"] == 2 and art.manifest["features"]["dense_scale"] == 5.0
    assert art.manifest["metrics"]["alpha"] in (3.0, 30.0)
    pred = LinearPredictor(art)
    idx, vals = featurize(MC, art.feature_spec, pred.idf)
    WT = art.arrays["WT"]
    for j, score in enumerate(pred.predict(MC)):  # the fast path equals the plain dot product
        dot = sum(float(WT.row(j)[i]) * v for i, v in zip(idx, vals)) + float(art.arrays["bias"].tolist()[j])
        assert abs(score - dot) < 1e-5
    router = build_router(dict(art.manifest["default_settings"]), art)
    assert router.route(RouteRequest(messages=[{"role": "user", "content": MC}])).model in art.model_names


@pytest.mark.parametrize("args", [["--feature-version", "3"], ["--dense-scale", "0"], ["--alpha-grid", "x"],
                                  ["--inner-cv", "groups"]])
def test_cli_refuses_bad_feature_options(binary_dir, tmp_path, args, capsys):
    from router.train.cli import main as cli_main

    with pytest.raises(SystemExit) as exc:
        cli_main(["train", "--data", str(binary_dir), "--out", str(tmp_path / "x"), *args])
    assert exc.value.code == 2
