import json
import os
import subprocess
import sys
import time
from pathlib import Path

from router import RouteRequest, build_router, load_artifact
from router.artifacts import HMAC_ENV
from router.train.cli import main as cli_main

from .conftest import user

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "router" / "artifacts" / "default"


def test_cli_train_eval_calibrate_subprocess(binary_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(HMAC_ENV, None)
    out = tmp_path / "art"
    r = subprocess.run([sys.executable, "-m", "router", "train", "--data", str(binary_dir), "--out", str(out),
                        "--hash-bits", "12", "--folds", "3", "--alpha", "10"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "APGR" in r.stdout and "wrote artifact" in r.stdout
    art = load_artifact(out)
    assert art.manifest["metrics"]["cv"]["router"]["apgr"] > 0.6  # the fixture has a strong, learnable signal
    r = subprocess.run([sys.executable, "-m", "router", "eval", "--data", str(binary_dir), "--hash-bits", "12",
                        "--folds", "3", "--plot-dir", str(tmp_path / "plots"), "--json", str(tmp_path / "m.json"),
                        "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "random-rows" in r.stdout and "held-out-groups" in r.stdout and "CPT(50%)" in r.stdout
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["random-rows"]["linear"]["router"]["apgr"] > m["random-rows"]["linear"]["random"]["apgr"]
    assert (tmp_path / "plots" / "quality_vs_strong_random-rows.png").stat().st_size > 1000


def test_cli_multi_eval_and_calibrate(multi_data, multi_artifact, binary_artifact, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    data, prices = multi_data
    assert cli_main(["eval", "--data", str(data), "--test", str(data), "--prices", str(prices), "--hash-bits", "12",
                     "--folds", "3", "--alpha", "10", "--quiet", "--plot-dir", str(tmp_path)]) == 0
    outp = capsys.readouterr().out
    assert "best single model huge" in outp and "cost to match" in outp
    assert (tmp_path / "cost_quality_linear.png").exists()
    # calibrate: new sample from prompts, written back, artifact still verifies (and is re-signed)
    import shutil

    art = tmp_path / "cal"
    shutil.copytree(binary_artifact, art)
    prompts = tmp_path / "traffic.jsonl"
    prompts.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"capital river {i}"}]})
                                 for i in range(30)))
    monkeypatch.setenv("CAL_KEY", "abc")
    assert cli_main(["calibrate", "--artifact", str(art), "--data", str(prompts), "--strong-fraction", "0.2",
                     "--write", "--quiet", "--hmac-key-env", "CAL_KEY"]) == 0
    assert "realised" in capsys.readouterr().out
    loaded = load_artifact(art, hmac_key="abc")
    assert loaded.arrays["calib_pred"].shape[0] == 30 and loaded.signature_verified


def test_shipped_default_artifact_loads_and_routes(monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    t = time.perf_counter()
    art = load_artifact(DEFAULT)
    assert time.perf_counter() - t < 2.0  # generous here; bench/router_bench.py measures it properly
    size = sum(p.stat().st_size for p in DEFAULT.iterdir())
    assert size <= 10 * 1024 * 1024
    settings = art.manifest["default_settings"]
    assert settings["strategy"] == "threshold"
    r = build_router(settings, art)
    d = r.route(RouteRequest(messages=user("What is the capital of France?")))
    assert d.model in art.model_names and d.artifact_version == art.version
    assert art.manifest["metrics"]["cv"]["router"]["apgr"] > 0.62
    local = build_router({"strategy": "threshold", "weak_model": "mock", "strong_model": "mock-strong",
                          "strong_fraction": 0.3}, art)
    picks = {local.route(RouteRequest(messages=user(q), candidates=["mock", "mock-strong"])).model for q in (
        "What is the capital of France?\nA. Paris\nB. Rome\nAnswer:",
        "For which of these two scenarios does the main character do something clearly morally wrong?",
        "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer:",
        "Which of the following is a renewable resource?\nA. coal\nB. wind\nAnswer:")}
    assert picks <= {"mock", "mock-strong"}


def test_shipped_cost_aware_artifact_maps_to_local_models(monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)
    path = REPO / "router" / "artifacts" / "llmrouter-cost-aware"
    art = load_artifact(path)
    assert len(art.model_names) == 9 and all("input_price" in m for m in art.manifest["models"])
    cheap = [m["name"] for m in art.manifest["models"] if m["input_price"] <= 0.3]
    models = {m: ("mock" if m in cheap else "mock-strong") for m in art.model_names}
    r = build_router({"strategy": "cost-aware", "lambda": art.manifest["default_settings"]["lambda"],
                      "models": models}, art)
    d = r.route(RouteRequest(messages=user("who wrote the boys from brazil"), candidates=["mock", "mock-strong"]))
    assert d.model in ("mock", "mock-strong") and len(d.candidates) == 2


def test_router_imports_nothing_heavy():
    code = ("import sys, router; from router import build_router, load_artifact;"
            "bad = [m for m in ('boto3', 'botocore', 'fastapi', 'litellm', 'httpx', 'tqdm', 'matplotlib', 'scipy',"
            " 'sklearn', 'torch', 'pydantic') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stdout + r.stderr


def test_serving_path_works_without_numpy(tmp_path):
    """Serving (load, verify, build, route with rules/threshold/cost-aware) needs only the standard library."""
    block = tmp_path / "sitecustomize.py"
    block.write_text("import sys\nsys.modules['numpy'] = None  # any 'import numpy' now raises ImportError\n")
    code = ("import router; from router import *;"
            f"a = load_artifact({str(DEFAULT)!r});"
            "r = build_router({'strategy': 'threshold', 'weak_model': 'mock', 'strong_model': 'mock-strong',"
            " 'strong_fraction': 0.3}, a);"
            "d = r.route(RouteRequest(messages=[{'role': 'user', 'content': 'What is 2+2?'}]));"
            f"b = load_artifact({str(REPO / 'router' / 'artifacts' / 'llmrouter-cost-aware')!r});"
            "c = build_router({'strategy': 'cost-aware', 'lambda': 0.1}, b).route(RouteRequest(messages=[{'role': 'user', 'content': 'hi'}]));"
            "print(d.model, c.model)")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}"}
    env.pop(HMAC_ENV, None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] in ("mock", "mock-strong")
