"""PNG plots for the eval command (matplotlib is a dev dependency, imported lazily, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_strong_curves(path: Path, title: str, curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                       weak: float, strong: float) -> None:
    """Quality against % strong calls for each named curve (router, random, oracle)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=110)
    for name, (x, y) in curves.items():
        ax.plot(x * 100, y, label=name, lw=1.6 if name != "random" else 1.0, ls="--" if name == "random" else "-")
    ax.axhline(weak, color="grey", lw=0.7, ls=":")
    ax.axhline(strong, color="grey", lw=0.7, ls=":")
    ax.set_xlabel("% calls to strong model")
    ax.set_ylabel("quality (accuracy)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_cost_quality(path: Path, title: str, curve: Sequence[Mapping[str, float]],
                      singles: Mapping[str, Mapping[str, float]], oracle: tuple[float, float],
                      chosen: Mapping[str, Any] | None = None) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=110)
    pts = sorted({(p["cost"], p["quality"]) for p in curve})
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=2, lw=1.2, label="router (lambda sweep)")
    for name, s in singles.items():
        ax.scatter([s["cost"]], [s["quality"]], s=18)
        ax.annotate(name, (s["cost"], s["quality"]), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.scatter([oracle[0]], [oracle[1]], marker="*", s=80, color="k", label="oracle")
    if chosen:
        ax.scatter([chosen["cost"]], [chosen["quality"]], marker="D", s=40, color="red",
                   label=f"lambda chosen on train ({chosen['lambda']:.3g})")
    ax.set_xlabel("mean price per call (USD per 1M tokens, equal tokens per call)")
    ax.set_ylabel("mean quality")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
