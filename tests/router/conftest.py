"""Small synthetic routing data sets the router tests build themselves (no shared data needed).

Binary (cheap vs strong): prompts about "hard" topics are answered only by the strong model, "easy"
topics by both, with a little label noise; stored in RouteLLM's MMLU layout (one CSV per subject).
Multi-model: three priced models whose quality depends on the topic, in LLMRouter's JSON layout.
"""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from router.train.cli import main as cli_main

HARD = {"calculus": ["integral", "derivative", "limit", "theorem", "proof"],
        "physics": ["quantum", "entropy", "tensor", "relativity", "momentum"],
        "logic": ["syllogism", "predicate", "tautology", "modal", "axiom"]}
EASY = {"geography": ["capital", "river", "mountain", "country", "ocean"],
        "colors": ["red", "blue", "green", "yellow", "purple"],
        "animals": ["dog", "cat", "horse", "bird", "fish"]}
FILLER = ["which", "of", "the", "following", "is", "about", "a", "an", "best", "describes", "what", "how"]


def make_prompt(rng: random.Random, words: list[str]) -> str:
    body = " ".join(rng.choice(FILLER + words + words) for _ in range(rng.randint(8, 20)))
    return f"{body}?\nA. {rng.choice(words)}\nB. {rng.choice(words)}\nC. none\nD. all\nAnswer:"


def write_binary(root: Path, per_subject: int = 70, seed: int = 0) -> Path:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for subject, words in {**HARD, **EASY}.items():
        hard = subject in HARD
        with open(root / f"mmlu_{subject}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["prompt", "weak-model", "strong-model"])
            for _ in range(per_subject):
                weak = (rng.random() < 0.25) if hard else (rng.random() < 0.9)
                strong = (rng.random() < 0.9)
                w.writerow([make_prompt(rng, words), weak, strong])
    (root / "contaminated_prompts.jsonl").write_text(json.dumps({"train_prompt": "x", "eval_prompt": "never matches"}) + "\n")
    return root


MULTI_MODELS = {"tiny": 0.1, "mid": 0.5, "huge": 1.0}


def write_multi(path: Path, n: int = 300, seed: int = 0) -> tuple[Path, Path]:
    rng = random.Random(seed)
    recs = []
    topics = list({**HARD, **EASY}.items())
    for i in range(n):
        subject, words = topics[i % len(topics)]
        hard = subject in HARD
        p = {"tiny": 0.2 if hard else 0.9, "mid": 0.5 if hard else 0.9, "huge": 0.9}
        recs.append({"question": make_prompt(rng, words), "cluster_id": subject,
                     "scores": {m: float(rng.random() < p[m]) for m in MULTI_MODELS}})
    path.write_text(json.dumps(recs))
    prices = path.parent / "prices.json"
    prices.write_text(json.dumps({m: {"input_price": c, "output_price": c} for m, c in MULTI_MODELS.items()}))
    return path, prices


@pytest.fixture(scope="session")
def binary_dir(tmp_path_factory) -> Path:
    return write_binary(tmp_path_factory.mktemp("mmlu"))


@pytest.fixture(scope="session")
def multi_data(tmp_path_factory) -> tuple[Path, Path]:
    return write_multi(tmp_path_factory.mktemp("multi") / "train.json")


@pytest.fixture(scope="session")
def binary_artifact(binary_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("art") / "binary"
    assert cli_main(["train", "--data", str(binary_dir), "--out", str(out), "--hash-bits", "12", "--quiet",
                     "--folds", "3", "--version", "test-binary", "--hmac-key-env", "ROUTER_TEST_NO_SUCH_ENV"]) == 0
    return out


@pytest.fixture(scope="session")
def multi_artifact(multi_data, tmp_path_factory) -> Path:
    data, prices = multi_data
    out = tmp_path_factory.mktemp("art") / "multi"
    assert cli_main(["train", "--data", str(data), "--prices", str(prices), "--out", str(out), "--hash-bits", "12",
                     "--quiet", "--folds", "3", "--version", "test-multi", "--hmac-key-env", "ROUTER_TEST_NO_SUCH_ENV"]) == 0
    return out


@pytest.fixture(scope="session")
def knn_artifact(binary_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("art") / "knn"
    assert cli_main(["train", "--data", str(binary_dir), "--out", str(out), "--hash-bits", "12", "--quiet", "--kind",
                     "knn", "--k", "10", "--folds", "3", "--version", "test-knn",
                     "--hmac-key-env", "ROUTER_TEST_NO_SUCH_ENV"]) == 0
    return out


def user(text: str) -> tuple[dict, ...]:
    return ({"role": "user", "content": text},)
