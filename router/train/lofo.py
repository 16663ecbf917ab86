"""Several cheap-vs-strong sources as one data set, and leave-one-family-out evaluation.

Why: a router trained on MMLU alone transfers badly to task kinds it never saw. Each source names
its own weak and strong model (RouteLLM MMLU: Mixtral vs GPT-4; LLMRouter: a 9B vs a 51B model);
the target is the same everywhere (strong correct minus weak correct), so rows from all sources
train one threshold router whose models are simply "weak" and "strong". Leave-one-family-out
trains on every family but one (``router.train.families``) and scores the held-out family, next to
a prompt-length baseline (longer prompt -> strong) and random (APGR 0.5); the threshold for
``strong_fraction`` is calibrated on out-of-fold scores of the training families only, so the
realised strong share on the held-out family shows how well a calibration carries over.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..features import FeatureSpec
from . import fit, metrics, sparse
from .data import ROLES_NAMED, DataError, ModelChoice, RoutingData, load_data
from .families import families


def _names(spec: str | None, n: int, option: str) -> list[str]:
    parts = [p.strip() for p in (spec or "").split(",") if p.strip()]
    if len(parts) == 1:
        return parts * n
    if len(parts) != n:
        raise DataError(f"{option}: give one name, or one per --data source ({n}), comma-separated; got {len(parts)}")
    return parts


def load_sources(paths: Sequence[str], weak: str | None, strong: str | None) -> RoutingData:
    """Load every source with its own weak/strong pair; rows keep their task family as the group."""
    if weak is None or strong is None:
        raise DataError("several --data sources need --weak-model and --strong-model (one name each, or one per "
                        "source, comma-separated)")
    ws, ss = _names(weak, len(paths), "--weak-model"), _names(strong, len(paths), "--strong-model")
    prompts: list[str] = []
    qual: list[np.ndarray] = []
    groups: list[str] = []
    sources: list[str] = []
    warnings: list[str] = []
    dropped = 0
    import hashlib

    h = hashlib.sha256()
    for path, w, s in zip(paths, ws, ss):
        d = load_data(path, ModelChoice(weak=w, strong=s))
        wi, si = d.models.index(d.roles["weak"]), d.models.index(d.roles["strong"])
        kind = "json" if Path(path).suffix in (".json", ".jsonl") else "csv"
        prompts += d.prompts
        qual.append(d.quality[:, [wi, si]])
        groups += families(d.groups, d.prompts, kind)
        sources += d.sources
        warnings += d.warnings
        dropped += d.dropped
        h.update(f"{Path(path).name}:{w}:{s}:{d.sha256}\n".encode())
    out = RoutingData(prompts, np.concatenate(qual), ["weak", "strong"], groups, h.hexdigest(), sources,
                      roles={"weak": "weak", "strong": "strong"}, dropped=dropped, roles_from=ROLES_NAMED,
                      warnings=warnings)
    out.source_models = [{"data": Path(p).name, "weak": w, "strong": s} for p, w, s in zip(paths, ws, ss)]  # type: ignore[attr-defined]
    return out


def center_by_group(Y: np.ndarray, groups: Sequence[str] | None) -> np.ndarray:
    """Targets with each family's mean replaced by the overall mean.

    Why: families differ a lot in how much the strong model helps on average (MMLU humanities +0.18,
    LLMRouter puzzles +0.04); hashed n-grams learn "which family is this" to predict that, which is
    useless on a family never seen. Centering per family makes the model learn what separates hard
    from easy prompts *within* a family, the part that can carry over. The overall mean (the bias)
    is kept, so scores stay on the same scale."""
    if groups is None:
        return Y
    g = np.asarray(groups)
    out = Y.astype(np.float64).copy()
    mu = Y.mean(0)
    for name in set(g.tolist()):
        sel = g == name
        out[sel] += mu - Y[sel].mean(0)
    return out


def threshold_for(scores: np.ndarray, fraction: float) -> float:
    """Same rule as serving (``router.strategies.learned.calibrated_threshold``)."""
    s = np.sort(np.asarray(scores, float))[::-1]
    k = int(round(fraction * len(s)))
    return float(np.nextafter(s[0], np.inf)) if k <= 0 else float(s[k - 1])


def inner_cv(X: sparse.CSR, Y: np.ndarray, spec: FeatureSpec, alpha_arg: str, seed: int,
             grid: Sequence[float] = fit.ALPHA_GRID, target: np.ndarray | None = None,
             groups: Sequence[str] | None = None) -> tuple[float, np.ndarray]:
    """Alpha by inner 3-fold CV on these rows (fitted on ``target``, default ``Y``; scored on ``Y``);
    returns it and the out-of-fold score (strong - weak).

    With ``groups`` the folds keep whole families together and an alpha is judged by the mean APGR
    over families, each scored by a model that never saw it: the alpha that transfers to a new
    family, not the one that best memorises the families it was trained on (random-row folds
    reward the hashed n-grams' topic memory)."""
    T = Y if target is None else target
    alphas = list(grid) if alpha_arg == "auto" else [float(alpha_arg)]
    if groups is not None and len(set(groups)) >= 3:
        inner = metrics.kfold_groups(groups, 3, seed)
        g = np.asarray(groups)
    else:
        inner, g = metrics.kfold_random(X.n_rows, 3, seed), None
    best: tuple[float, float, np.ndarray] | None = None
    for alpha in alphas:
        pred = np.zeros_like(Y)
        for f in inner:
            tr = np.setdiff1d(np.arange(X.n_rows), f)
            pred[f] = fit.fit_linear(X.rows(tr), T[tr], spec, alpha).predict(X.rows(f), spec)
        score = pred[:, 1] - pred[:, 0]
        if g is None:
            apgr = metrics.cheap_strong_metrics(score, Y[:, 0], Y[:, 1])["apgr"]
        else:
            apgr = float(np.mean([metrics.cheap_strong_metrics(score[g == n], Y[g == n, 0], Y[g == n, 1])["apgr"]
                                  for n in sorted(set(g.tolist()))]))
        if best is None or apgr > best[0]:
            best = (apgr, alpha, score)
    assert best is not None
    return best[1], best[2]


def _cs(score: np.ndarray, w: np.ndarray, s: np.ndarray) -> dict[str, float]:
    m = metrics.cheap_strong_metrics(score, w, s)
    return {"apgr": m["apgr"], "cpt50": m["cpt50"]}


def leave_one_family_out(d: RoutingData, X: sparse.CSR, spec: FeatureSpec, alpha_arg: str = "auto", seed: int = 0,
                         strong_fraction: float = 0.3, show: bool = True, center: bool = True,
                         inner_by_family: bool = False, grid: Sequence[float] = fit.ALPHA_GRID) -> dict[str, Any]:
    """Per family: train on the others (alpha and threshold from their inner CV), score this one."""
    fam = np.asarray(d.groups)
    Y = d.quality
    lengths = np.array([len(p) for p in d.prompts], float)
    rows: dict[str, Any] = {}
    for name in fit.progress(sorted(set(fam.tolist())), None, "families", show):
        te = np.flatnonzero(fam == name)
        tr = np.flatnonzero(fam != name)
        T = center_by_group(Y[tr], fam[tr].tolist()) if center else Y[tr]
        alpha, oof = inner_cv(X.rows(tr), Y[tr], spec, alpha_arg, seed, grid, target=T,
                              groups=fam[tr].tolist() if inner_by_family else None)
        thr = threshold_for(oof, strong_fraction)
        model = fit.fit_linear(X.rows(tr), T, spec, alpha)
        p = model.predict(X.rows(te), spec)
        score = p[:, 1] - p[:, 0]
        w, s = Y[te, 0], Y[te, 1]
        rows[name] = {"n": int(len(te)), "weak_quality": float(w.mean()), "strong_quality": float(s.mean()),
                      "router": _cs(score, w, s), "prompt_length": _cs(lengths[te], w, s),
                      "random": _cs(np.zeros(len(te)), w, s), "oracle": _cs(s - w, w, s),
                      "alpha": alpha, "threshold": thr,
                      "strong_share": float((score >= thr).mean()),
                      "strong_share_train_oof": float((oof >= thr).mean())}
    names = list(rows)
    summary = {k: float(np.mean([rows[n][k]["apgr"] for n in names])) for k in ("router", "prompt_length", "random")}
    return {"families": rows, "mean_apgr": summary, "strong_fraction": strong_fraction, "center_by_family": center,
            "inner_cv": "families" if inner_by_family else "rows", "alpha_grid": list(grid),
            "beats_prompt_length": [n for n in names if rows[n]["router"]["apgr"] > rows[n]["prompt_length"]["apgr"]],
            "n_families": len(names)}


def format_table(res: dict[str, Any]) -> str:
    f = res["strong_fraction"]
    lines = [f"| held-out family | n | router APGR | CPT(50%) | strong share at {f:g} | prompt length APGR | "
             f"prompt length CPT(50%) | random APGR |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in res["families"].items():
        lines.append(f"| {name} | {r['n']} | {r['router']['apgr']:.3f} | {r['router']['cpt50'] * 100:.1f}% | "
                     f"{r['strong_share'] * 100:.1f}% | {r['prompt_length']['apgr']:.3f} | "
                     f"{r['prompt_length']['cpt50'] * 100:.1f}% | {r['random']['apgr']:.3f} |")
    m = res["mean_apgr"]
    lines.append(f"| **mean** | | **{m['router']:.3f}** | | | {m['prompt_length']:.3f} | | {m['random']:.3f} |")
    return "\n".join(lines)


def plot(path: Path, res: dict[str, Any]) -> None:
    from .plots import _plt

    plt = _plt()
    names = list(res["families"])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax.bar(x - 0.2, [res["families"][n]["router"]["apgr"] for n in names], 0.4, label="router")
    ax.bar(x + 0.2, [res["families"][n]["prompt_length"]["apgr"] for n in names], 0.4, label="prompt length")
    ax.axhline(0.5, color="grey", ls="--", lw=1, label="random (0.5)")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("APGR on the held-out family")
    ax.set_title("leave-one-family-out: trained on all other families", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
