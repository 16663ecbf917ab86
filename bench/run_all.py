"""`make bench`: every benchmark in turn, then the cost tables, the plot and the combined results.

Each script prints its tables (markdown) and saves bench/results/<name>.json; this runner then runs
cost_bench.py (dollars from gateway_bench's measurements), plot.py (bench/results/added_latency.png)
and writes bench/results/all.json, which ``scripts/bench_report.py`` turns into the README's and
docs/benchmarks.md's tables. router_bench.py prints text only: its output is kept as lines. Lines of
a web server's access log (moto's) are dropped from every script's output. None of this is in
`make test`.

Usage: python bench/run_all.py [--requests N] [--skip-proxy] [--skip-package] [--only gateway,keys,...]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, save_results  # noqa: E402

ACCESS_LOG = re.compile(r'^\S+ - - \[[^\]]+\] "(GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) ')
NAMES = ("gateway", "protocols", "router", "keys", "batch", "cache")


def script_args(name: str, requests: int | None, skip_proxy: bool, skip_package: bool = False) -> list[str]:
    """Command-line arguments for one script; ``requests`` scales each to a comparable size."""
    if name == "router":
        return ["--n", str(requests)] if requests else []
    if name == "batch":
        return ["--lines", str(max(50, requests)), "--virtual-lines", str(max(20, min(300, requests // 2)))] if requests else []
    args = ["--requests", str(requests)] if requests else []
    if name == "gateway" and skip_proxy:
        args.append("--skip-proxy")
    if name == "gateway" and skip_package:
        args.append("--skip-package")
    return args


def run(script: str, args: list[str]) -> tuple[int, list[str]]:
    """Run a script, echoing its output without access-log lines; returns (exit code, kept lines)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(HERE / script), *args], cwd=HERE.parent, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    kept, dropped = [], 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if ACCESS_LOG.match(line):
            dropped += 1
            continue
        kept.append(line.rstrip("\n"))
        print(line, end="", flush=True)
    code = proc.wait()
    if dropped:
        print(f"({dropped} access-log lines dropped from {script})")
    return code, kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=None, help="requests per measurement (default: each script's)")
    parser.add_argument("--skip-proxy", action="store_true", help="do not start LiteLLM's proxy")
    parser.add_argument("--skip-package", action="store_true", help="no deployment size (no `make build`)")
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated subset of " + ",".join(NAMES))
    args = parser.parse_args()
    selected = [n for n in args.only.split(",") if n]
    failed = []
    for name in (*selected, "cost"):  # never combine a stale file with this run's
        (RESULTS / f"{name}.json").unlink(missing_ok=True)
    for name in selected:
        print(f"\n# {name}_bench.py\n", flush=True)
        code, lines = run(f"{name}_bench.py", script_args(name, args.requests, args.skip_proxy, args.skip_package))
        if code:
            failed.append(name)
        elif name == "router":
            save_results("router", {"output": lines})
    for extra in ("cost_bench.py", "plot.py"):
        print(f"\n# {extra}\n", flush=True)
        if run(extra, [])[0]:
            failed.append(extra)
    combined = {name: json.loads((RESULTS / f"{name}.json").read_text())
                for name in (*NAMES, "cost") if (RESULTS / f"{name}.json").exists()}
    combined["failed"] = failed
    combined["machine"] = {"cpus": os.cpu_count()}
    save_results("all", combined)
    print("\nresults: bench/results/*.json, bench/results/all.json, bench/results/added_latency.png")
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
