"""Router micro-benchmark: decision latency, artifact load time and size, runtime footprint.

Prints numbers next to a baseline measured in the same run; asserts nothing about timings.
Runs pinned to one CPU when the OS allows it (Lambda's smallest sizes have about one vCPU).

    .venv/bin/python bench/router_bench.py [--artifact router/artifacts/default] [--n 2000]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("the of and to in is that for it as with was on be by this are or at from which but not have an they "
         "integral derivative function theorem prove matrix eigenvalue court statute plaintiff contract patient "
         "diagnosis symptom enzyme protein cell market price demand supply inflation policy war treaty empire "
         "select from where join table query python def return class import sql error stack trace").split()
PUNCT = [",", ".", "?", ":", ";", "(", ")", "=", "+", "-", "'", '"']


def make_prompt(n_tokens: int, rng: random.Random) -> str:
    from router.features import estimate_tokens

    parts: list[str] = []
    while True:
        parts.append(rng.choice(WORDS))
        if rng.random() < 0.15:
            parts.append(rng.choice(PUNCT))
        if len(parts) % 50 == 0 and estimate_tokens(" ".join(parts)) >= n_tokens:
            break
        if len(parts) > 5 * n_tokens + 50:
            break
    text = " ".join(parts)
    while estimate_tokens(text) > n_tokens and " " in text:
        text = text.rsplit(" ", 1)[0]
    return text


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def timeit_us(fn, n: int, cpu: list[float] | None = None) -> tuple[float, float]:
    """Wall-clock p50/p99 in microseconds; per-call thread CPU time is appended to ``cpu`` if given
    (CPU time is what the code costs; wall time also shows preemption by other processes)."""
    for _ in range(min(50, n)):
        fn()
    samples = []
    pc, tt = time.perf_counter_ns, time.thread_time_ns
    for _ in range(n):
        c = tt()
        t = pc()
        fn()
        samples.append((pc() - t) / 1000)
        if cpu is not None:
            cpu.append((tt() - c) / 1000)
    return pct(samples, 50), pct(samples, 99)


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def subproc_ms(code: str, n: int = 5) -> float:
    """Median wall time of a fresh interpreter running ``code`` (import costs, cold-ish)."""
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        xs.append((time.perf_counter() - t) * 1000)
    return pct(xs, 50)


def rss_mb(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code + "\nprint([l for l in open('/proc/self/status') "
                          "if l.startswith('VmRSS')][0].split()[1])"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.strip()
    return int(out) / 1024


def bench_artifact(art_dir: Path, n: int, rng: random.Random) -> None:
    from router import Decision, RouteRequest, ScoredCandidate, build_router, load_artifact
    from router.train.row_layout import RowLayoutPredictor

    files = [p for p in art_dir.iterdir() if p.is_file()]
    loads, raws = [], []
    for _ in range(20):
        t = time.perf_counter()
        art = load_artifact(art_dir)
        loads.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        for p in files:
            p.read_bytes()
        raws.append((time.perf_counter() - t) * 1000)
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"\n== artifact {art.version} (kind {art.kind}, {len(art.model_names)} models, {art_dir})")
    print(f"load + verify: p50 {pct(loads, 50):.2f} ms, max {max(loads):.2f} ms   "
          f"| baseline: raw read of the same files p50 {pct(raws, 50):.2f} ms   (target <= 100 ms)")
    print(f"size: {size_mb:.2f} MB on disk ({len(files)} files)   (target <= 10 MB)")

    if len(art.model_names) == 2:
        settings = {"strategy": "threshold", "weak_model": "mock", "strong_model": "mock-strong", "strong_fraction": 0.3}
    else:
        cheap = {m["name"] for m in art.manifest["models"] if m.get("input_price", 1) <= 0.3}
        settings = {"strategy": "cost-aware", "lambda": art.manifest["default_settings"].get("lambda", 0.1),
                    "models": {m: ("mock" if m in cheap else "mock-strong") for m in art.model_names}}
    t = time.perf_counter()
    router = build_router(settings, art)
    build_ms = (time.perf_counter() - t) * 1000
    print(f"build_router (first router on this artifact: builds the per-bucket record table): {build_ms:.1f} ms")
    # Baseline: the same router scoring with the previous per-model-row layout.
    rows_router = build_router(settings, art)
    rows_router.pred = RowLayoutPredictor(art)
    # Baseline: the same artifact read without its feature window (every character scored).
    wide = dataclasses.replace(art, manifest={**art.manifest, "features": {**art.manifest["features"],
                                                                             "max_chars": 1 << 30}})
    unclipped = build_router(settings, wide)
    rules = build_router({"strategy": "rules", "rules": [{"if": {"regex": r"(?i)\bsql\b"}, "model": "coder"},
                                                         {"if": {"min_tokens": 5000}, "model": "big"}],
                          "default": "mock"})

    class NoOp:
        name = "noop"
        _d = Decision("mock", (ScoredCandidate("mock", 1.0),), "noop", None, "noop")

        def route(self, request):
            return self._d

    noop = NoOp()
    rx = re.compile(r"(?i)\bsql\b")
    print(f"decision latency ({settings['strategy']}), {n} decisions per length, microseconds p50 / p99; "
          f"target p50 <= 1000, p99 <= 3000")
    print(f"{'tokens':>7} | {'learned route()':>17} | {'(its CPU time)':>17} | {'build req + route':>17} | "
          f"{'per-model rows':>17} | {'no feature window':>17} | {'rules route()':>15} | {'baseline no-op':>15} | "
          f"{'baseline regex':>15}")
    for n_tok in (16, 128, 512, 1024, 2000):
        text = make_prompt(n_tok, rng)
        msgs = ({"role": "system", "content": "You are helpful."}, {"role": "user", "content": text})
        req = RouteRequest(messages=msgs, candidates=("mock", "mock-strong"), key_id="k1")
        cpu: list[float] = []
        learned = timeit_us(lambda: router.route(req), n, cpu)
        full = timeit_us(lambda: router.route(RouteRequest(messages=msgs, candidates=("mock", "mock-strong"),
                                                           key_id="k1")), n)
        rows = timeit_us(lambda: rows_router.route(req), n)
        pp = timeit_us(lambda: unclipped.route(req), n)
        rl = timeit_us(lambda: rules.route(req), n)
        nop = timeit_us(lambda: noop.route(req), n)
        rex = timeit_us(lambda: rx.search(text), n)
        print(f"{req.tokens:>7} | {learned[0]:>7.1f} / {learned[1]:>7.1f} | {pct(cpu, 50):>7.1f} / {pct(cpu, 99):>7.1f} | "
              f"{full[0]:>7.1f} / {full[1]:>7.1f} | {rows[0]:>7.1f} / {rows[1]:>7.1f} | "
              f"{pp[0]:>7.1f} / {pp[1]:>7.1f} | "
              f"{rl[0]:>6.1f} / {rl[1]:>6.1f} | {nop[0]:>6.2f} / {nop[1]:>6.2f} | {rex[0]:>6.1f} / {rex[1]:>6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", action="append", help="artifact dir(s); default: every dir in router/artifacts/")
    ap.add_argument("--n", type=int, default=2000, help="decisions per prompt length")
    a = ap.parse_args()
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        pinned = "pinned to 1 CPU"
    except (AttributeError, OSError):
        pinned = "not pinned"
    arts = [Path(p) for p in a.artifact] if a.artifact else sorted(p for p in (REPO / "router" / "artifacts").iterdir()
                                                                    if (p / "manifest.json").exists())
    print(f"router bench ({pinned}; python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs -- other processes inflate wall-clock p99)")
    t_base = subproc_ms("pass")
    t_router = subproc_ms("import router")
    t_np = subproc_ms("import numpy")
    print(f"fresh interpreter + import router: {t_router:.0f} ms   | baseline bare interpreter {t_base:.0f} ms "
          f"(import numpy, not needed for serving: {t_np:.0f} ms)")
    rng = random.Random(0)
    for art_dir in arts:
        bench_artifact(art_dir, a.n, rng)

    # --- footprint: what the router adds to a deployment (serving needs the standard library only)
    router_dir = REPO / "router"
    code_mb = sum(p.stat().st_size for p in router_dir.rglob("*.py")) / 1e6
    pyc_mb = sum(p.stat().st_size for p in router_dir.rglob("*.pyc")) / 1e6
    art_mb = dir_mb(router_dir / "artifacts") if (router_dir / "artifacts").exists() else 0.0
    serving_py = sum(p.stat().st_size for p in router_dir.rglob("*.py") if "train" not in p.parts) / 1e6
    print(f"\nfootprint: router/ source {code_mb:.2f} MB (+ .pyc {pyc_mb:.2f} MB; serving modules alone "
          f"{serving_py:.2f} MB) + shipped artifacts {art_mb:.2f} MB = {code_mb + pyc_mb + art_mb:.2f} MB   "
          f"(target <= 30 MB)")
    d = str(arts[0]) if arts else ""
    probe = subprocess.run([sys.executable, "-c", (
        "import sys; from router import load_artifact, build_router, RouteRequest\n"
        f"a = load_artifact({d!r}); r = build_router(a.manifest['default_settings'], a)\n"
        "r.route(RouteRequest(messages=({'role': 'user', 'content': 'hi'},)))\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'sklearn', 'torch') if m in sys.modules))")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    print(f"  third-party modules imported by load + route: {probe.stdout.strip() or probe.stderr.strip()[-200:]} "
          f"(serving is standard library only; numpy is needed for training and the knn baseline)")
    r_rss = rss_mb(f"from router import load_artifact, build_router; a = load_artifact({d!r})")
    b_rss = rss_mb("import json, zipfile, hashlib")
    print(f"RSS after import + load of {Path(d).name}: {r_rss:.1f} MB   | baseline interpreter with json/zipfile/hashlib "
          f"{b_rss:.1f} MB")
    for art_dir in arts:
        built = rss_mb(f"from router import load_artifact, build_router; a = load_artifact({str(art_dir)!r}); "
                       "r = build_router(a.manifest['default_settings'], a)")
        print(f"RSS after import + load + build_router of {art_dir.name}: {built:.1f} MB (the record table is built "
              f"once per artifact)")


if __name__ == "__main__":
    main()
