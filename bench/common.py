"""Shared plumbing for the benchmarks: processes on loopback, percentiles, a table printer.

Every benchmark here compares against a baseline measured in the same run, on the same machine,
and prints numbers; nothing here asserts on time.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "gateway")]

BASE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "HF_HUB_OFFLINE": "1",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LITELLM_LOG": "ERROR",
}


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": pct(values, 50), "p99": pct(values, 99), "mean": statistics.fmean(values) if values else float("nan"),
            "n": len(values)}


def wait_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> float:
    """Poll until ``url`` answers 200; returns the time it first did (time.time())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=1) as resp:
                if resp.status == 200:
                    return time.time()
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def start_process(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    out = open(log, "w") if log else subprocess.DEVNULL
    return subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    rows = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |",
             "| " + " | ".join("-" * w for w in widths) + " |"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN: not measured
            return "-"
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


RESULTS = ROOT / "bench" / "results"


def _plain(value: object) -> object:
    """JSON-safe copy: NaN and infinities become null (strict JSON has neither)."""
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save_results(name: str, data: dict) -> Path:
    """Write one benchmark's results to bench/results/<name>.json (what the report and plot read)."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(_plain(data), indent=2, allow_nan=False) + "\n")
    return path
