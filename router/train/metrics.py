"""Routing metrics, as RouteLLM (cheap vs strong) and LLMRouter (multi-model with prices) define them.

Cheap vs strong: route the top-k scores to the strong model for every k; quality(k) is the mean
correctness of the chosen answers. Ties in the score are resolved *in expectation* (linear
interpolation across a tie group), so a router that outputs constants scores exactly like random.
PGR(k) = (quality(k) - weak) / (strong - weak); APGR is the area under PGR against the strong-call
fraction; CPT(x) is the smallest strong-call fraction whose PGR reaches x.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def strong_curve(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (fractions, quality) for k = 0..N strong calls, highest scores first."""
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    gain = (strong - weak)[order].astype(float)
    cum = np.concatenate([[0.0], np.cumsum(gain)])
    # group boundaries: positions where a tie group ends
    ends = np.concatenate([np.flatnonzero(s_sorted[1:] != s_sorted[:-1]) + 1, [n]])
    starts = np.concatenate([[0], ends[:-1]])
    k = np.arange(n + 1)
    # for each k, find its group; interpolate linearly between cum[start] and cum[end]
    g = np.searchsorted(ends, k, side="left")
    g = np.minimum(g, len(ends) - 1)
    s0, e0 = starts[g], ends[g]
    frac = np.where(e0 > s0, (k - s0) / np.maximum(e0 - s0, 1), 0.0)
    cum_i = cum[s0] + frac * (cum[e0] - cum[s0])
    quality = (weak.sum() + cum_i) / n
    return k / n, quality


def cheap_strong_metrics(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, float]:
    weak = np.asarray(weak, float)
    strong = np.asarray(strong, float)
    qw, qs = weak.mean(), strong.mean()
    frac, q = strong_curve(np.asarray(scores, float), weak, strong)
    gap = qs - qw
    pgr = (q - qw) / gap if gap != 0 else np.zeros_like(q)

    def cpt(x: float) -> float:
        hit = np.flatnonzero(pgr >= x - 1e-12)
        return float(frac[hit[0]]) if len(hit) else float("nan")

    return {"apgr": float(np.trapezoid(pgr, frac)), "cpt50": cpt(0.5), "cpt80": cpt(0.8),
            "weak_quality": float(qw), "strong_quality": float(qs), "n": int(len(scores))}


def cheap_strong_report(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, dict[str, float]]:
    """Router vs random (constant scores) vs oracle (score = strong - weak)."""
    weak = np.asarray(weak, float)
    strong = np.asarray(strong, float)
    return {"router": cheap_strong_metrics(scores, weak, strong),
            "random": cheap_strong_metrics(np.zeros(len(weak)), weak, strong),
            "oracle": cheap_strong_metrics(strong - weak, weak, strong)}


def lambda_grid(n: int = 241) -> np.ndarray:
    return np.concatenate([[0.0], np.logspace(-4, 2, n - 1)])


def choose(pred: np.ndarray, cost: np.ndarray, lam: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """argmax over models of predicted quality - lam * normalised cost; ties -> cheaper, then lower index."""
    c = cost / cost.max()
    util = pred - lam * c[None, :] - 1e-9 * c[None, :]
    if allowed is not None:
        util = np.where(allowed[None, :], util, -np.inf)
    return np.argmax(util, axis=1)


def cost_quality_curve(pred: np.ndarray, truth: np.ndarray, cost: np.ndarray,
                       lams: Sequence[float] | None = None) -> list[dict[str, float]]:
    rows = np.arange(len(truth))
    out = []
    for lam in (lambda_grid() if lams is None else lams):
        ch = choose(pred, cost, float(lam))
        out.append({"lambda": float(lam), "quality": float(truth[rows, ch].mean()), "cost": float(cost[ch].mean())})
    return out


def multi_model_report(pred: np.ndarray, truth: np.ndarray, cost: np.ndarray, names: Sequence[str],
                       chosen_lambda: float | None = None) -> dict[str, Any]:
    """Quality at the best single model's cost, and cost to match its quality (step, no interpolation)."""
    singles = {n: {"quality": float(truth[:, j].mean()), "cost": float(cost[j])} for j, n in enumerate(names)}
    best = max(singles, key=lambda n: (singles[n]["quality"], -singles[n]["cost"]))
    bq, bc = singles[best]["quality"], singles[best]["cost"]
    curve = cost_quality_curve(pred, truth, cost)
    under = [p["quality"] for p in curve if p["cost"] <= bc + 1e-12]
    match = [p["cost"] for p in curve if p["quality"] >= bq - 1e-12]
    oracle_ch = np.argmax(truth - 1e-9 * cost[None, :] / cost.max(), axis=1)
    rep: dict[str, Any] = {
        "best_single": best, "best_single_quality": bq, "best_single_cost": bc,
        "quality_at_best_cost": max(under) if under else float("nan"),
        "cost_to_match_best": min(match) if match else float("nan"),
        "cost_to_match_best_pct": (min(match) / bc * 100) if match else float("nan"),
        "oracle_quality": float(truth[np.arange(len(truth)), oracle_ch].mean()),
        "oracle_cost": float(cost[oracle_ch].mean()),
        "singles": singles, "curve": curve,
    }
    if chosen_lambda is not None:
        ch = choose(pred, cost, chosen_lambda)
        rep["at_chosen_lambda"] = {"lambda": chosen_lambda, "quality": float(truth[np.arange(len(truth)), ch].mean()),
                                   "cost": float(cost[ch].mean()), "cost_pct_of_best": float(cost[ch].mean() / bc * 100)}
    return rep


def kfold_random(n: int, k: int, seed: int) -> list[np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(f) for f in np.array_split(perm, k)]


def kfold_groups(groups: Sequence[str], k: int, seed: int) -> list[np.ndarray]:
    """Folds that keep whole groups (subjects / task clusters) together."""
    g = np.asarray(groups)
    uniq = np.array(sorted(set(g.tolist())))
    perm = np.random.default_rng(seed).permutation(len(uniq))
    folds = []
    for part in np.array_split(uniq[perm], k):
        folds.append(np.flatnonzero(np.isin(g, part)))
    return folds
