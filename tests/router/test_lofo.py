"""``python -m router eval --leave-one-family-out`` on small synthetic data (no shared data needed),
the task-family rules, and multi-source training."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from router import RouteRequest, build_router, load_artifact
from router.train.cli import main as cli_main
from router.train.families import MMLU_CATEGORY, family_of, llmrouter_family
from router.train.lofo import center_by_group, threshold_for

FAMILIES = {
    # family: (words, how often weak is right, how often strong is right); long prompts are harder
    "alpha": (["integral", "derivative", "limit", "proof"], 0.35, 0.85),
    "beta": (["court", "statute", "plaintiff", "contract"], 0.5, 0.8),
    "gamma": (["capital", "river", "mountain", "ocean"], 0.6, 0.8),
}


def write_families(path: Path, per_family: int = 120, seed: int = 0) -> Path:
    """A CSV with a group column: 3 families; in every family longer prompts favour the strong model."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "group", "weak", "strong"])
        for fam, (words, pw, ps) in FAMILIES.items():
            for _ in range(per_family):
                hard = rng.random() < 0.5
                n = rng.randint(25, 40) if hard else rng.randint(4, 10)
                text = " ".join(rng.choice(words + ["the", "of", "which", "is"]) for _ in range(n)) + "?"
                w.writerow([text, fam, rng.random() < (pw - 0.25 if hard else pw + 0.25), rng.random() < ps])
    return path


def test_lofo_prints_a_row_per_family_and_writes_json(tmp_path, capsys):
    data = write_families(tmp_path / "fam.csv")
    out = tmp_path / "lofo.json"
    rc = cli_main(["eval", "--leave-one-family-out", "--data", str(data), "--weak-model", "weak", "--strong-model",
                   "strong", "--hash-bits", "10", "--alpha", "10", "--quiet", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    for fam in FAMILIES:
        assert f"| {fam} | 120 |" in printed
    res = json.loads(out.read_text())["leave_one_family_out"]
    assert set(res["families"]) == set(FAMILIES)
    for row in res["families"].values():
        assert row["random"]["apgr"] == pytest.approx(0.5)
        assert 0.0 <= row["strong_share"] <= 1.0 and 0.0 <= row["router"]["cpt50"] <= 1.0
        assert row["strong_share_train_oof"] == pytest.approx(0.3, abs=0.02)
        # length carries the signal in every family, so both the baseline and the router find it
        assert row["prompt_length"]["apgr"] > 0.55
        assert row["router"]["apgr"] > 0.5
    assert res["n_families"] == 3 and res["mean_apgr"]["random"] == pytest.approx(0.5)


def test_lofo_refuses_one_family_and_missing_roles(tmp_path, capsys):
    data = tmp_path / "one.csv"
    data.write_text("prompt,group,weak,strong\n" + "".join(f"q {i} x,only,{i % 2},1\n" for i in range(40)))
    assert cli_main(["eval", "--leave-one-family-out", "--data", str(data), "--weak-model", "weak",
                     "--strong-model", "strong", "--quiet"]) == 2
    assert "fewer than two task families" in capsys.readouterr().err
    assert cli_main(["eval", "--leave-one-family-out", "--data", str(data), "--quiet"]) == 2
    assert "needs --weak-model and --strong-model" in capsys.readouterr().err


def test_two_sources_train_one_weak_strong_artifact(tmp_path, capsys, monkeypatch):
    """Each source names its own pair; the artifact's models are "weak"/"strong" with role tags."""
    monkeypatch.delenv("ROUTER_ARTIFACT_HMAC_KEY", raising=False)
    a = write_families(tmp_path / "a.csv", per_family=60)
    recs = [{"question": f"Write a python function to sort {i} items" if i % 2 else f"who wrote book {i}",
             "scores": {"small": float(i % 3 == 0), "big": float(i % 5 != 0), "other": 0.5}, "cluster_id": 0}
            for i in range(120)]
    b = tmp_path / "b.json"
    b.write_text(json.dumps(recs))
    out = tmp_path / "art"
    assert cli_main(["train", "--data", str(a), str(b), "--weak-model", "weak,small", "--strong-model", "strong,big",
                     "--hash-bits", "10", "--alpha", "10", "--folds", "3", "--quiet", "--center-by-family",
                     "--out", str(out), "--version", "t-multi"]) == 0
    art = load_artifact(out)
    assert [(m["name"], m["role"]) for m in art.manifest["models"]] == [("weak", "weak"), ("strong", "strong")]
    assert art.manifest["data_columns"]["sources"][1] == {"data": "b.json", "weak": "small", "strong": "big"}
    r = build_router({"strategy": "threshold", "weak_model": "mock", "strong_model": "mock-strong",
                      "strong_fraction": 0.3}, art)
    assert r.route(RouteRequest(messages=({"role": "user", "content": "hi"},))).model in ("mock", "mock-strong")
    assert cli_main(["train", "--data", str(a), str(b), "--weak-model", "weak,small,x", "--strong-model", "strong",
                     "--quiet", "--out", str(tmp_path / "bad")]) == 2
    assert "one per --data source" in capsys.readouterr().err


def test_family_rules():
    assert len(MMLU_CATEGORY) == 57 and set(MMLU_CATEGORY.values()) == {"stem", "humanities", "social_sciences", "other"}
    assert family_of("college_physics", "x", "csv") == "mmlu-stem"
    assert family_of("mmlu_professional_law", "x", "csv") == "mmlu-humanities"
    assert family_of("calculus", "x", "csv") == "calculus"  # unknown groups are their own family
    assert family_of("2", "Write a function to sort a list.", "json") == "llmrouter-code"
    assert llmrouter_family("\ndef f(x):\n    \"\"\"doc\"\"\"\n") == "code"
    assert llmrouter_family("If $f(x) = 5x-4$, what is $f(f(2))$?") == "math"
    assert llmrouter_family("Q: There are 3 houses in a row, numbered 1 on the left") == "puzzles"
    assert llmrouter_family("target, pineapple, park, helmet, music, white, thread") == "puzzles"
    assert llmrouter_family("A passage. " * 100 + "What is the main idea?") == "reading"
    assert llmrouter_family("who sang the wreck of the edmund fitzgerald") == "qa"
    assert llmrouter_family("Carlos rents a canoe for $30 an hour and a raft for $18 an hour. How many dollars "
                            "more does Carlos pay for 3 hours than Benji does for 2?") == "math"


def test_centering_and_threshold_rule():
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    c = center_by_group(Y, ["a", "a", "b", "b"])
    assert np.allclose(c.mean(0), Y.mean(0))
    assert np.allclose(c[0], c[1]) and np.allclose(c[:2].mean(0), Y.mean(0))
    s = np.arange(10.0)
    assert threshold_for(s, 0.3) == 7.0 and (s >= threshold_for(s, 0.3)).mean() == 0.3
