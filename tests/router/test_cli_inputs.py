"""The training CLI as a new user runs it on their own files: roles, odd columns, bad rows, paths.

Every test writes small CSV/JSON files to tmp_path and runs ``python -m router ...`` (a subprocess
where the exit code and the absence of a traceback matter, else ``main(argv)``).
"""
from __future__ import annotations

import ast
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from router import RouteRequest, build_router, load_artifact
from router.artifacts import HMAC_ENV
from router.train.cli import MIN_ROWS_ADVISED, main

from .conftest import EASY, HARD, make_prompt, user

REPO = Path(__file__).resolve().parents[2]
FAST = ["--hash-bits", "12", "--folds", "3", "--alpha", "10", "--quiet", "--hmac-key-env", "ROUTER_TEST_NO_SUCH_ENV"]
HARD_PROMPT = "which theorem describes the integral derivative limit proof?\nA. integral\nB. proof\nC. none\nD. all\nAnswer:"
EASY_PROMPT = "which of the following is the capital river country ocean?\nA. capital\nB. river\nC. none\nD. all\nAnswer:"


def rows(n_per_topic: int = 40, seed: int = 0) -> list[dict]:
    """Hard topics: only the strong model is right; easy ones: both (the conftest's signal)."""
    rng = random.Random(seed)
    out = []
    for topic, words in {**HARD, **EASY}.items():
        hard = topic in HARD
        for _ in range(n_per_topic):
            out.append({"prompt": make_prompt(rng, words), "topic": topic,
                        "weak-model": (rng.random() < 0.25) if hard else (rng.random() < 0.9),
                        "strong-model": rng.random() < 0.9})
    return out


def write_csv(path: Path, columns: list[str], data: list[dict], extra=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for i, r in enumerate(data):
            full = {**r, **(extra(i, r) if extra else {})}
            w.writerow([full[c] for c in columns])
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(HMAC_ENV, None)
    return subprocess.run([sys.executable, "-m", "router", *args], capture_output=True, text=True, env=env, timeout=300,
                          check=False)


def one_line_error(r_or_err, code: int | None = 2) -> str:
    """The CLI's failure shape: exit 2, exactly one 'error:' line, no traceback."""
    err = r_or_err if isinstance(r_or_err, str) else r_or_err.stderr
    if not isinstance(r_or_err, str):
        assert r_or_err.returncode == code, (r_or_err.returncode, r_or_err.stdout, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def route(art_dir: Path, prompt: str) -> str:
    """A decision through the serving code path; deployments named after the roles."""
    art = load_artifact(art_dir)
    r = build_router({"strategy": "threshold", "weak_model": "cheap", "strong_model": "big",
                          "strong_fraction": 0.5}, art)  # half the training prompts are hard
    return r.route(RouteRequest(messages=user(prompt))).model


# --------------------------------------------------------------------------------------- 1. roles
def test_swapped_columns_are_refused_without_roles(tmp_path):
    data = write_csv(tmp_path / "swapped.csv", ["prompt", "strong-model", "weak-model"], rows())
    r = run("train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST)
    line = one_line_error(r)
    assert "swapped.csv" in line and "--weak-model" in line and "'weak-model' scores lower" in line
    assert not (tmp_path / "art").exists()


def test_swapped_columns_train_the_right_router_with_named_roles(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    data = write_csv(tmp_path / "swapped.csv", ["prompt", "strong-model", "weak-model"], rows())
    right, inverted = tmp_path / "right", tmp_path / "inverted"
    assert main(["train", "--data", str(data), "--weak-model", "weak-model", "--strong-model", "strong-model",
                 "--out", str(right), *FAST]) == 0
    out = capsys.readouterr()
    assert "weak model 'weak-model', strong model 'strong-model' (as named)" in out.out
    # the same file with the roles named the other way round: allowed (the user said so), but warned
    assert main(["train", "--data", str(data), "--weak-model", "strong-model", "--strong-model", "weak-model",
                 "--out", str(inverted), *FAST]) == 0
    assert "scores lower on average" in capsys.readouterr().err

    m = json.loads((right / "manifest.json").read_text())
    assert {x["name"]: x["role"] for x in m["models"]} == {"weak-model": "weak", "strong-model": "strong"}
    assert m["default_settings"]["weak_model"] == "weak-model" and m["data_columns"]["roles_from"] == "named"
    inv = json.loads((inverted / "manifest.json").read_text())
    assert m["metrics"]["cv"]["router"]["apgr"] > 0.6 > inv["metrics"]["cv"]["router"]["apgr"]
    # decisions: the right router sends the hard prompt to the strong model and the easy one to the cheap one
    assert (route(right, HARD_PROMPT), route(right, EASY_PROMPT)) == ("big", "cheap")
    assert (route(inverted, HARD_PROMPT), route(inverted, EASY_PROMPT)) == ("cheap", "big")


def test_column_order_roles_are_printed_and_recorded(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", ["prompt", "weak-model", "strong-model"], rows())
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST]) == 0
    assert "weak model 'weak-model', strong model 'strong-model' (from column order" in capsys.readouterr().out
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["data_columns"]["roles_from"] == "column order" and m["strategy"] == "threshold"


def test_role_options_are_checked(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", ["prompt", "weak-model", "strong-model"], rows(5))
    cases = [(["--weak-model", "weak-model"], "both --weak-model and --strong-model"),
             (["--weak-model", "weak-model", "--strong-model", "gpt-5"], "no column 'gpt-5'"),
             (["--weak-model", "weak-model", "--strong-model", "weak-model"], "are both 'weak-model'"),
             (["--models", "weak-model"], "at least two")]
    for extra, expected in cases:
        assert main(["train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST, *extra]) == 2
        assert expected in one_line_error(capsys.readouterr().err)


def test_three_score_columns_need_models(tmp_path, capsys):
    data = write_csv(tmp_path / "three.csv", ["prompt", "weak-model", "mid", "strong-model"], rows(),
                     extra=lambda i, r: {"mid": r["strong-model"] if i % 2 else r["weak-model"]})
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "a"), *FAST]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "3 score columns" in line and "--models" in line
    assert main(["train", "--data", str(data), "--models", "weak-model,mid,strong-model", "--out", str(tmp_path / "m"),
                 *FAST]) == 0
    m = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert m["strategy"] == "cost-aware" and [x["name"] for x in m["models"]] == ["weak-model", "mid", "strong-model"]
    assert "router" not in m["metrics"]["cv"] and "router_quality" in m["metrics"]["cv"]  # printed as quality only
    # or pick two of them as a threshold router
    assert main(["train", "--data", str(data), "--weak-model", "mid", "--strong-model", "strong-model",
                 "--out", str(tmp_path / "t"), *FAST]) == 0
    t = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert t["strategy"] == "threshold" and t["data_columns"]["ignored"] == ["weak-model"]


def test_jsonl_with_named_roles_trains_a_threshold_router(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    data = tmp_path / "scores.jsonl"
    data.write_text("".join(json.dumps({"prompt": r["prompt"], "scores": {"big": float(r["strong-model"]), "mid": 0.5,
                                                                          "small": float(r["weak-model"])}}) + "\n"
                            for r in rows()))
    assert main(["train", "--data", str(data), "--weak-model", "small", "--strong-model", "big",
                 "--out", str(tmp_path / "art"), *FAST]) == 0
    assert "ignoring scores of 'mid' (not named in --models)" in capsys.readouterr().err
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["strategy"] == "threshold" and {x["name"]: x["role"] for x in m["models"]} == {"small": "weak", "big": "strong"}
    assert (route(tmp_path / "art", HARD_PROMPT), route(tmp_path / "art", EASY_PROMPT)) == ("big", "cheap")


def test_identical_scores_are_warned(tmp_path, capsys):
    data = write_csv(tmp_path / "same.csv", ["prompt", "weak-model", "strong-model"], rows(),
                     extra=lambda i, r: {"strong-model": r["weak-model"]})
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST]) == 0
    assert "score the same on every row: there is nothing to route on" in capsys.readouterr().err


# ------------------------------------------------------------------------------ 2. other columns
def test_id_and_text_columns_are_ignored_with_a_warning(tmp_path, capsys):
    data = write_csv(tmp_path / "extra.csv", ["id", "prompt", "weak-model", "answer", "strong-model", "topic"], rows(),
                     extra=lambda i, r: {"id": 1000 + i, "answer": f'The answer is "{i % 4}", because, well, yes'})
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST]) == 0
    err = capsys.readouterr().err
    assert re.search(r"warning: .*extra\.csv: ignoring columns 'id' \(an id column\); 'answer' \(not scores, e\.g\. "
                     r"row 1 \(line 2\) has .*\); 'topic'", err), err
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["strategy"] == "threshold" and [x["name"] for x in m["models"]] == ["weak-model", "strong-model"]
    assert m["data_columns"]["ignored"] == ["answer", "id", "topic"]


def test_bad_score_cell_names_file_row_and_column(tmp_path):
    data = write_csv(tmp_path / "bad.csv", ["prompt", "weak-model", "strong-model"], rows(),
                     extra=lambda i, r: {"strong-model": "maybe"} if i == 4 else {})
    r = run("train", "--data", str(data), "--out", str(tmp_path / "art"), *FAST)
    line = one_line_error(r)
    assert re.search(r"bad\.csv: row 5 \(line \d+\), column 'strong-model': 'maybe' is not a score", line), line
    # a named model column that holds model output text: the first row says where
    texty = write_csv(tmp_path / "texty.csv", ["prompt", "weak-model", "strong-model", "output"], rows(),
                      extra=lambda i, r: {"output": "Paris is the capital"})
    r = run("train", "--data", str(texty), "--weak-model", "weak-model", "--strong-model", "output",
            "--out", str(tmp_path / "art"), *FAST)
    assert "texty.csv: row 1 (line 2), column 'output': 'Paris is the capital' is not a score" in one_line_error(r)


def test_empty_cells_short_rows_and_missing_prompt_column(tmp_path, capsys):
    base = rows(5)
    cases = {
        "empty.csv": (["prompt", "weak-model", "strong-model"], lambda i, r: {"weak-model": ""} if i == 2 else {},
                      "row 3 (line 14), column 'weak-model': empty score"),  # each prompt is 6 lines
        "noprompt.csv": (["question_text", "weak-model", "strong-model"], lambda i, r: {"question_text": r["prompt"]},
                         "line 1: no prompt column"),
        "blankprompt.csv": (["prompt", "weak-model", "strong-model"], lambda i, r: {"prompt": " "} if i == 1 else {},
                            "row 2 (line 8), column 'prompt': empty prompt"),
    }
    for name, (cols, extra, expected) in cases.items():
        data = write_csv(tmp_path / name, cols, base, extra)
        assert main(["eval", "--data", str(data), *FAST]) == 2
        line = one_line_error(capsys.readouterr().err)
        assert name in line and expected in line, line
    short = tmp_path / "short.csv"
    short.write_text("prompt,weak-model,strong-model\nwhat is up,True,False\nhow now,True\n")
    assert main(["eval", "--data", str(short), *FAST]) == 2
    assert "short.csv: row 2 (line 3): 2 fields, the header has 3" in one_line_error(capsys.readouterr().err)


# --------------------------------------------------------------------------------- 3. folder input
def test_folder_of_any_csv_names_without_contamination_list(tmp_path, capsys):
    folder = tmp_path / "mydata"
    data = rows()
    for topic in {*HARD, *EASY}:
        write_csv(folder / f"{topic}-questions.csv", ["prompt", "weak-model", "strong-model"],
                  [r for r in data if r["topic"] == topic])
    (folder / "notes.txt").write_text("not data")
    assert main(["eval", "--data", str(folder), *FAST]) == 0
    out = capsys.readouterr().out
    assert "random-rows" in out and "held-out-groups" in out  # each file is a group
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "art"), *FAST]) == 0
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["metrics"]["n_train"] == len(data) and m["training_data"][0].endswith("-questions.csv")
    # the optional decontamination list still drops rows
    (folder / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": data[0]["prompt"]}) + "\n")
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "art2"), *FAST]) == 0
    assert "dropped 1 contaminated" in capsys.readouterr().out
    (folder / "contaminated_prompts.jsonl").write_text("{oops\n")
    assert main(["train", "--data", str(folder), "--out", str(tmp_path / "art3"), *FAST]) == 2
    assert "contaminated_prompts.jsonl: line 1: not valid JSON" in one_line_error(capsys.readouterr().err)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", "--data", str(empty), *FAST]) == 2
    assert "folder has no *.csv files" in one_line_error(capsys.readouterr().err)


# ------------------------------------------------------------------------------------ 4. --test
def test_eval_and_train_report_the_test_split(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    train = write_csv(tmp_path / "train.csv", ["prompt", "weak-model", "strong-model"], rows(seed=1))
    test_rows = rows(15, seed=2)
    test = write_csv(tmp_path / "test.csv", ["prompt", "weak-model", "strong-model"], test_rows)
    test_swapped = write_csv(tmp_path / "test_swapped.csv", ["strong-model", "prompt", "weak-model"], test_rows)
    reports = []
    for t in (test, test_swapped):  # the test split is read by column name, in any order
        assert main(["eval", "--data", str(train), "--test", str(t), "--json", str(tmp_path / "m.json"), *FAST]) == 0
        out = capsys.readouterr().out
        assert f"held-out test {t} ({len(test_rows)} prompts), linear" in out
        reports.append(json.loads((tmp_path / "m.json").read_text())["test"]["linear"])
    assert reports[0] == reports[1] and reports[0]["router"]["apgr"] > 0.6
    assert main(["train", "--data", str(train), "--test", str(test), "--out", str(tmp_path / "art"), *FAST]) == 0
    out = capsys.readouterr().out
    assert f"held-out test ({test}, {len(test_rows)} prompts):" in out and out.count("APGR") >= 6  # cv + test
    m = json.loads((tmp_path / "art" / "manifest.json").read_text())
    assert m["metrics"]["test"]["router"]["apgr"] == pytest.approx(reports[0]["router"]["apgr"], abs=1e-6)
    # the artifact evaluated through the serving path, on the swapped file: same roles, same numbers
    assert main(["eval", "--artifact", str(tmp_path / "art"), "--data", str(test_swapped), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "(from the artifact manifest)" in out
    assert f"APGR {reports[0]['router']['apgr']:.4f}" in out


def test_multi_model_train_prints_test_metrics(multi_data, tmp_path, capsys):
    data, prices = multi_data
    assert main(["train", "--data", str(data), "--test", str(data), "--prices", str(prices),
                 "--out", str(tmp_path / "art"), *FAST]) == 0
    out = capsys.readouterr().out
    assert "held-out test" in out and "matches it at" in out
    assert main(["train", "--data", str(data), "--test", str(data), "--out", str(tmp_path / "noprice"), *FAST]) == 0
    assert "(no --prices: quality only)" in capsys.readouterr().out


# ------------------------------------------------------------------------------- 5. few rows
def test_tiny_files_are_refused_or_warned(tmp_path, capsys):
    three = write_csv(tmp_path / "three.csv", ["prompt", "weak-model", "strong-model"], rows()[:3])
    r = run("train", "--data", str(three), "--out", str(tmp_path / "art"), *FAST)
    assert "three.csv: 3 rows; 3-fold cross-validation needs at least 6" in one_line_error(r)
    small = write_csv(tmp_path / "small.csv", ["prompt", "weak-model", "strong-model"], rows(7))
    assert main(["train", "--data", str(small), "--out", str(tmp_path / "art"), *FAST]) == 0
    err = capsys.readouterr().err
    assert f"warning: {small}: only 42 rows; at least {MIN_ROWS_ADVISED} are advised" in err and "noise" in err


# ----------------------------------------------------------------------------------- 6. --out
def test_out_is_not_overwritten_without_force(binary_artifact, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    art = tmp_path / "art"
    shutil.copytree(binary_artifact, art)
    before = (art / "manifest.json").read_bytes()
    data = write_csv(tmp_path / "d.csv", ["prompt", "weak-model", "strong-model"], rows())
    assert main(["train", "--data", str(data), "--out", str(art), *FAST]) == 2
    assert "folder exists and is not empty; pass --force" in one_line_error(capsys.readouterr().err)
    assert (art / "manifest.json").read_bytes() == before
    assert main(["train", "--data", str(data), "--out", str(art), "--force", "--version", "v-new", *FAST]) == 0
    assert load_artifact(art).version == "v-new"
    (tmp_path / "file").write_text("x")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "file"), "--force", *FAST]) == 2
    assert "is a file" in one_line_error(capsys.readouterr().err)


# ------------------------------------------------------------------------ 7. missing / wrong files
def test_missing_files_are_one_line_errors(tmp_path, binary_artifact):
    data = write_csv(tmp_path / "d.csv", ["prompt", "weak-model", "strong-model"], rows(5))
    for args, expected in [
        (["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "a")], "nope.csv: no such file"),
        (["eval", "--data", str(data), "--test", str(tmp_path / "gone.csv")], "gone.csv: no such file"),
        (["eval", "--data", str(data), "--prices", str(tmp_path / "p.json")], "p.json: no such file"),
        (["eval", "--artifact", str(tmp_path / "noart"), "--data", str(data)], "noart"),
        (["calibrate", "--artifact", str(binary_artifact), "--data", str(tmp_path / "t.jsonl")], "t.jsonl: no such file"),
        (["train", "--data", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "a")], "no such file"),
    ]:
        r = run(*args, *(FAST if args[0] != "calibrate" else ["--quiet"]))
        assert expected in one_line_error(r), (args, r.stderr)


def test_wrong_json_and_jsonl_are_one_line_errors(tmp_path, capsys):
    good = {"question": "what is a tensor", "scores": {"a": 1.0, "b": 0.0}}
    cases = {
        "bad.jsonl": (json.dumps(good) + "\n" + json.dumps(good) + "\n{not json\n", "bad.jsonl: line 3: not valid JSON"),
        "lines.json": (json.dumps(good) + "\n" + json.dumps(good) + "\n", "name the file .jsonl"),
        "noscores.jsonl": (json.dumps(good) + "\n" + json.dumps({"question": "x"}) + "\n",
                           "noscores.jsonl: line 2, field 'scores'"),
        "textscore.json": (json.dumps([good, {"question": "y", "scores": {"a": "great", "b": 1}}]),
                           "textscore.json: record 2, field 'scores.a': 'great' is not a score"),
        "missing.json": (json.dumps([good, {"question": "y", "scores": {"a": 1}}]),
                         "missing.json: record 2, field 'scores.b': missing"),
        "list.jsonl": ("[1, 2]\n", "list.jsonl: line 1: expected an object, got list"),
        "noprompt.jsonl": (json.dumps({"scores": {"a": 1, "b": 0}}) + "\n", "line 1, field 'prompt'"),
        "object.json": (json.dumps({"a": 1}), "object.json: record 1: expected an object, got int"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        assert main(["eval", "--data", str(tmp_path / name), *FAST]) == 2
        assert expected in one_line_error(capsys.readouterr().err), name
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"a": {"input_price": "cheap"}}))
    data = tmp_path / "ok.jsonl"
    data.write_text("".join(json.dumps({**good, "question": f"q {i}"}) + "\n" for i in range(20)))
    assert main(["eval", "--data", str(data), "--prices", str(prices), *FAST]) == 2
    assert "prices.json: model 'a': needs numeric" in one_line_error(capsys.readouterr().err)


def test_bad_numeric_options_are_usage_errors(tmp_path):
    data = write_csv(tmp_path / "d.csv", ["prompt", "weak-model", "strong-model"], rows(5))
    for opt, val in (("--folds", "1"), ("--hash-bits", "40"), ("--alpha", "-3"), ("--k", "zero")):
        r = run("eval", "--data", str(data), opt, val)
        assert r.returncode == 2 and "Traceback" not in r.stderr and opt in r.stderr, r.stderr


# ------------------------------------------------------------------------- 8./9. python, extras
def test_python_requirement_is_declared_and_explained():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.12"
    py311 = shutil.which("python3.11") or "/root/.pyenv/versions/3.11.7/bin/python"
    if not os.access(py311, os.X_OK):
        pytest.skip("no Python 3.11 here")
    r = subprocess.run([py311, "-B", "-c", "import router"], capture_output=True, text=True, check=False,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert r.returncode != 0 and "router needs Python 3.12 or newer (math.sumprod)" in r.stderr


def _third_party_imports(folder: Path) -> set[str]:
    stdlib = set(sys.stdlib_module_names)
    found = set()
    for f in folder.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            # this project's own packages; ``gateway`` only behind ``calibrate --from-spend-logs``
            found |= {n.split(".")[0] for n in names if n.split(".")[0] not in stdlib | {"router", "gateway"}}
    return found


def test_router_extra_is_what_training_imports():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    router_pins = dict(p.split("#")[0].strip().split("==") for p in extras["router"])
    dev_pins = dict(p.split("#")[0].strip().split("[")[0].split("==") for p in extras["dev"] if "[" not in p.split("==")[0])
    assert set(router_pins) == {"numpy", "tqdm", "matplotlib"} == _third_party_imports(REPO / "router" / "train")
    assert all(dev_pins[k] == v for k, v in router_pins.items())  # the dev extra still installs the same versions
