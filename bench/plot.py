"""One PNG of the latency the gateway adds per path, next to the baselines of the same run.

Reads bench/results/gateway.json and protocols.json (whichever exist) and draws the added p50 of each
path as a bar with its added p99 as a tick, in milliseconds over the direct call to the fake upstream
(the zero line); litellm's Router alone is drawn as a baseline bar. Writes
bench/results/added_latency.png.
"""
from __future__ import annotations

import json
import sys

from common import RESULTS

GATEWAY_ROWS = (  # (row id in gateway.json, label)
    ("litellm-router-alone---c1", "baseline: litellm Router alone"),
    ("attribution-virtual-c1", "gateway's own share (provider answered at once)"),
    ("mangum-no-table-master-c1", "chat, Mangum, master key, no table"),
    ("uvicorn-no-table-master-c1", "chat, uvicorn, master key, no table"),
    ("mangum-ext-master-c1", "chat, Mangum + extension, master key"),
    ("mangum-ext-virtual-c1", "chat, Mangum + extension, virtual key"),
    ("mangum-inline-virtual-c1", "chat, Mangum settled inline, virtual key"),
    ("uvicorn-master-c1", "chat, uvicorn, master key"),
    ("uvicorn-virtual-c1", "chat, uvicorn, virtual key"),
    ("litellm-proxy-master-c1", "LiteLLM proxy, master key"),
)


def bars() -> list[tuple[str, float, float, bool]]:
    """(label, added p50, added p99, is a baseline) in drawing order."""
    out: list[tuple[str, float, float, bool]] = []
    gateway_file, protocols_file = RESULTS / "gateway.json", RESULTS / "protocols.json"
    if gateway_file.exists():
        gateway = json.loads(gateway_file.read_text())
        rows = {r["id"]: r for r in gateway["warm"]}
        for row_id, label in GATEWAY_ROWS:
            if row_id in rows:
                r = rows[row_id]
                out.append((label, r["added_p50"], r["added_p99"], label.startswith("baseline") or "LiteLLM" in label))
        ttfb = gateway["ttfb_ms"]
        out.append(("streaming TTFB, uvicorn, master key", ttfb["gateway_uvicorn"]["p50"] - ttfb["direct"]["p50"],
                    ttfb["gateway_uvicorn"]["p99"] - ttfb["direct"]["p99"], False))
    if protocols_file.exists():
        protocols = json.loads(protocols_file.read_text())
        for r in protocols["added"]:
            if isinstance(r["added_p50"], (int, float)) and r["path"].startswith("gateway: "):
                name = r["path"].removeprefix("gateway: ")
                out.append((f"{name}, uvicorn, {r['key']} key (protocols run)", r["added_p50"], r["added_p99"], False))
    return out


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = bars()
    if not data:
        print("plot: no results to draw (run gateway_bench.py or protocols_bench.py first)")
        return 1
    labels = [d[0] for d in data]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(data) + 1.5))
    y = range(len(data))
    ax.barh(y, [d[1] for d in data], color=["#9e9e9e" if d[3] else "#1f77b4" for d in data], label="added p50")
    ax.scatter([d[2] for d in data], y, marker="|", s=200, color="black", label="added p99", zorder=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms added over a direct call to the fake upstream (same run); grey: baselines")
    ax.set_title("Latency added per path, c=1")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out = RESULTS / "added_latency.png"
    fig.savefig(out, dpi=110)
    print(f"plot: bench/results/{out.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
