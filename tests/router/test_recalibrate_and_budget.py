"""Recalibration from logged qualities (pure Python artifact writing) and the budget shift."""
from __future__ import annotations

import io
import shutil

import numpy as np
import pytest

from router import ArtifactError, RouteRequest, RouterConfigError, build_router, load_artifact
from router.artifacts import MANIFEST, sign_manifest
from router.npy import parse_npy
from router.recalibrate import npy_bytes, npz_bytes, recalibrate, same_weights

from .conftest import user
from .test_learned import EASY_Q, HARD_Q, threshold_settings


@pytest.fixture(scope="module")
def bart(binary_artifact):
    return load_artifact(binary_artifact)


def _qualities(n: int, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.5, 0.2, size=(n, 2)).round(6).tolist()


def test_npy_and_npz_bytes_read_back_by_numpy_and_by_the_serving_reader():
    values = [0.5, -1.25, 3.0, 1e-3, 7.0, 8.0]
    array = parse_npy(npy_bytes(values, (3, 2)))
    assert array.shape == (3, 2) and array.tolist() == pytest.approx(values)
    loaded = np.load(io.BytesIO(npz_bytes({"calib_pred": (values, (3, 2))})), allow_pickle=False)
    assert loaded["calib_pred"].dtype == np.float32 and loaded["calib_pred"].shape == (3, 2)
    assert loaded["calib_pred"].ravel().tolist() == pytest.approx(values)
    assert npz_bytes({"a": (values, (3, 2))}) == npz_bytes({"a": (values, (3, 2))})  # same numbers, same hash


def _write(result, source_dir, target_dir):
    shutil.copytree(source_dir, target_dir)
    for name in result.stale:
        (target_dir / name).unlink()
    for name, body in result.files.items():
        (target_dir / name).write_bytes(body)


def test_a_recalibrated_version_loads_and_hits_the_fraction_on_that_traffic(bart, binary_artifact, tmp_path):
    rows = _qualities(500)
    # columns in artifact order; the test artifact names them weak-model / strong-model
    si, wi = bart.model_names.index("strong-model"), bart.model_names.index("weak-model")
    result = recalibrate(bart, rows, strong=si, weak=wi, strong_fraction=0.3, source={"kind": "test"})
    assert result.version.startswith("test-binary+cal.") and result.stale == ("calibration.npz",)
    assert list(result.files)[-1] == MANIFEST  # the manifest is written last
    _write(result, binary_artifact, tmp_path / "art")
    art = load_artifact(tmp_path / "art")
    assert art.version == result.version and art.manifest["calibration"]["samples"] == 500
    assert same_weights(art, "test-binary") and same_weights(art, result.version) and not same_weights(art, "other")
    scores = sorted((r[si] - r[wi] for r in rows), reverse=True)
    router = build_router(threshold_settings(strong_fraction=0.3), art)
    assert router.threshold == pytest.approx(scores[149], abs=1e-6)  # float32 storage
    assert result.report["fraction_after"] == pytest.approx(0.3, abs=0.005)


def test_too_few_rows_and_rows_of_another_shape_are_refused(bart):
    with pytest.raises(ArtifactError, match="only 99 logged decisions"):
        recalibrate(bart, _qualities(99) + [[0.1, 0.2, 0.3]] * 50, strong=1, weak=0, strong_fraction=0.3, source={})


def test_a_signed_artifact_gets_a_signed_version_or_none(bart, binary_artifact, tmp_path):
    signed = dict(bart.manifest)
    signed["signature"] = sign_manifest(signed, "k1")
    art = type(bart)(bart.path, signed, bart.arrays, bart.documents, True)
    with pytest.raises(ArtifactError, match="signed"):
        recalibrate(art, _qualities(200), strong=1, weak=0, strong_fraction=0.3, source={})
    result = recalibrate(art, _qualities(200), strong=1, weak=0, strong_fraction=0.3, source={}, hmac_key="k1")
    _write(result, binary_artifact, tmp_path / "art")
    assert load_artifact(tmp_path / "art", "k1").signature_verified
    with pytest.raises(ArtifactError, match="signature"):
        load_artifact(tmp_path / "art", "another key")


def test_decisions_carry_numbers_through_rules_and_ab(bart):
    inner = threshold_settings(strong_fraction=0.5)
    for settings in (inner, {"strategy": "rules", "rules": [], "default": {"router": inner}},
                     {"strategy": "ab", "split": 0.5, "a": inner, "b": inner}):
        d = build_router(settings, bart).route(RouteRequest(messages=user(HARD_Q), key_id="k"))
        record = d.to_dict()
        strong, weak = (record["qualities"][bart.model_names.index(m)] for m in ("strong-model", "weak-model"))
        assert len(record["qualities"]) == 2 and record["score"] == pytest.approx(strong - weak, abs=1e-5)
        assert "budget_share" not in record


def test_threshold_budget_shift_lowers_the_strong_share_linearly(bart):
    router = build_router(threshold_settings(strong_fraction=0.5, budget={"below": 0.4}), bart)
    hard = lambda share: router.route(RouteRequest(messages=user(HARD_Q), budget_share=share))  # noqa: E731
    assert hard(None).model == hard(1.0).model == hard(0.4).model == "mock-strong"
    assert hard(0.4).budget_share is None and "budget" not in hard(0.4).reason
    spent = hard(0.0)
    assert spent.model == "mock" and spent.budget_share == 0.0 and "budget 0.0% left (< 40%)" in spent.reason
    assert "strong_fraction 0.000" in spent.reason
    assert "strong_fraction 0.250" in hard(0.2).reason  # 0.5 * 0.2 / 0.4


def test_cost_aware_budget_shift_moves_lambda_toward_max(multi_artifact):
    art = load_artifact(multi_artifact)
    models = {"tiny": "d-tiny", "mid": "d-mid", "huge": "d-huge"}
    router = build_router({"strategy": "cost-aware", "lambda": 0.0, "models": models,
                           "budget": {"below": 0.5, "max_lambda": 100.0}}, art)
    full = router.route(RouteRequest(messages=user(HARD_Q), budget_share=0.9))
    assert full.model == "d-huge" and full.budget_share is None
    low = router.route(RouteRequest(messages=user(HARD_Q), budget_share=0.01))
    assert low.model == "d-tiny" and low.budget_share == 0.01 and "budget 1.0% left" in low.reason
    assert len(low.qualities) == 3


@pytest.mark.parametrize("budget, needle", [
    ({"below": 1.5}, "below"), ({}, "below"), ({"below": 0.2, "max_lambda": 2}, "max_lambda"), ("half", "budget"),
])
def test_budget_settings_errors(bart, budget, needle):
    with pytest.raises(RouterConfigError, match=needle):
        build_router(threshold_settings(strong_fraction=0.5, budget=budget), bart)


def test_a_budget_shift_needs_a_strong_fraction(bart):
    with pytest.raises(RouterConfigError, match="strong_fraction"):
        build_router(threshold_settings(threshold=0.1, budget={"below": 0.3}), bart)


def test_easy_prompts_stay_weak_whatever_the_budget(bart):
    router = build_router(threshold_settings(strong_fraction=0.5, budget={"below": 0.4}), bart)
    assert {router.route(RouteRequest(messages=user(EASY_Q), budget_share=s)).model for s in (None, 1.0, 0.1)} == {"mock"}
