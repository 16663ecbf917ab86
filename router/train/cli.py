"""``python -m router train|eval|calibrate``.

train      fit a linear (ridge) or knn model on routing data and write an artifact directory
eval       honest evaluation: nested alpha selection inside every training fold; cheap-vs-strong data
           gets APGR / CPT(50%) / CPT(80%) vs random and oracle on 5 random-row folds and on folds
           that hold out whole groups (subjects); multi-model data with --test gets quality at the best
           single model's cost and the cost to match it, plus PNG plots. --artifact evaluates an
           existing artifact through the serving code path instead of training. --leave-one-family-out
           trains on all task families but one and scores the held-out one, for every family.
calibrate  turn a target share of strong calls into a threshold (on the artifact's calibration sample
           or on your own prompts) and optionally store the new calibration sample in the artifact;
           --from-spend-logs: on a deployed router's logged decisions, published to S3 for hot reload
sign       HMAC-sign an artifact (key from $ROUTER_ARTIFACT_HMAC_KEY); verify: check one

Models: --weak-model NAME --strong-model NAME (threshold) or --models A,B,C (multi-model); without
them a CSV's two score columns get their roles from column order (refused when the "strong" one
scores lower), and other columns are ignored with a warning. Bad input: exit 2 and one line on
stderr naming the file, row and column (router/README.md, "Training and evaluation").
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import HMAC_ENV, MANIFEST, load_artifact, resign_artifact, write_npz
from ..errors import RouterError
from ..features import SPEC_VERSIONS, FeatureSpec
from ..predictors import make_predictor
from . import fit, metrics
from .data import (ROLES_ARTIFACT, ROLES_COLUMN_ORDER, ROLES_NAMED, DataError, ModelChoice, RoutingData, load_data,
                   load_prices, load_prompts)

# Below this many rows each of 5 CV folds scores fewer than 100 prompts, so the reported APGR /
# quality is mostly noise, and the n-gram model has seen too few prompts to generalise: warned, not refused.
MIN_ROWS_ADVISED = 500
FEATURE_VERSION = 1  # default --feature-version
DENSE_SCALE = 1.0  # default --dense-scale
MIN_ROWS_PER_FOLD = 2  # below this a fold (and the inner alpha CV) has nothing to score


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def _choice(a: argparse.Namespace) -> ModelChoice:
    models = tuple(m.strip() for m in a.models.split(",") if m.strip()) if getattr(a, "models", None) else ()
    return ModelChoice(weak=a.weak_model, strong=a.strong_model, models=models)


def _load(path: str, choice: ModelChoice, what: str = "--data", roles_from: str | None = None) -> RoutingData:
    """Load routing data, print its warnings and which role each model got (and from what)."""
    d = load_data(path, choice)
    if roles_from and d.roles:
        d.roles_from = roles_from
    for w in d.warnings:
        _warn(w)
    if d.roles:
        how = {ROLES_COLUMN_ORDER: "from column order; set them with --weak-model/--strong-model",
               ROLES_ARTIFACT: f"from the {ROLES_ARTIFACT}", ROLES_NAMED: "as named"}.get(d.roles_from, d.roles_from)
        print(f"{what}: weak model {d.roles['weak']!r}, strong model {d.roles['strong']!r} ({how})")
    else:
        print(f"{what}: models {', '.join(map(repr, d.models))} (multi-model)")
    return d


def _check_rows(d: RoutingData, a: argparse.Namespace, path: str) -> None:
    need = MIN_ROWS_PER_FOLD * max(a.folds, 3)
    if len(d.prompts) < need:
        raise DataError(f"{path}: {len(d.prompts)} rows; {a.folds}-fold cross-validation needs at least {need}")
    if len(d.prompts) < MIN_ROWS_ADVISED:
        _warn(f"{path}: only {len(d.prompts)} rows; at least {MIN_ROWS_ADVISED} are advised: with fewer, each of the "
              f"{a.folds} CV folds scores only about {len(d.prompts) // a.folds} prompts, so the reported metrics are "
              f"mostly noise, and the model has seen too few prompts to generalise")


def _roles(d: RoutingData) -> tuple[int, int] | None:
    if d.roles.get("weak") and d.roles.get("strong"):
        return d.models.index(d.roles["weak"]), d.models.index(d.roles["strong"])
    return None


def _costs(d: RoutingData, prices_path: str | None) -> np.ndarray | None:
    if not prices_path:
        return None
    prices = load_prices(prices_path)
    missing = [m for m in d.models if m not in prices]
    if missing:
        raise DataError(f"{prices_path}: no price for model {', '.join(map(repr, missing))}")
    return np.array([prices[m]["input_price"] for m in d.models], float)


def _fitter(kind: str, spec: FeatureSpec, alpha: float, k: int):
    if kind == "knn":
        return lambda X, Y: fit.fit_knn(X, Y, spec, k=k)
    return lambda X, Y: fit.fit_linear(X, Y, spec, alpha)


def _fmt_cs(name: str, m: dict[str, float]) -> str:
    return (f"  {name:<8} APGR {m['apgr']:.4f}   CPT(50%) {m['cpt50'] * 100:5.1f}%   CPT(80%) {m['cpt80'] * 100:5.1f}%")


def _choose_lambda(pred: np.ndarray, Y: np.ndarray, cost: np.ndarray) -> tuple[float, dict[str, Any]]:
    """On training OOF predictions: the cheapest lambda whose quality reaches the best single model's."""
    rep = metrics.multi_model_report(pred, Y, cost, [str(i) for i in range(Y.shape[1])])
    ok = [p for p in rep["curve"] if p["quality"] >= rep["best_single_quality"]]
    if not ok:
        return 0.0, rep
    best = min(ok, key=lambda p: (p["cost"], -p["quality"]))
    return best["lambda"], rep


# ----------------------------------------------------------------------------------------- train
def _check_out(a: argparse.Namespace) -> None:
    """Refuse to overwrite an existing artifact (or anything else) unless --force: checked before training."""
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not a.force:
        raise DataError(f"--out {out}: folder exists and is not empty; pass --force to overwrite it")


def _print_test(m: dict[str, Any], roles: tuple[int, int] | None, path: str, n: int) -> None:
    t = m["test"]
    if roles is not None:
        print(f"held-out test ({path}, {n} prompts):")
        for name in ("router", "random", "oracle"):
            print(_fmt_cs(name, t[name]))
    elif "cost_to_match_best_pct" in t:
        print(f"held-out test ({path}, {n} prompts): best single {t['best_single']} {t['best_single_quality']:.4f} at "
              f"{t['best_single_cost']:.3f}; router matches it at {t['cost_to_match_best_pct']:.1f}% of its cost; at the "
              f"train-chosen lambda: quality {t['at_chosen_lambda']['quality']:.4f} at "
              f"{t['at_chosen_lambda']['cost_pct_of_best']:.1f}% cost")
    else:
        print(f"held-out test ({path}, {n} prompts): router (best predicted quality) {t['router_quality']:.4f}; best "
              f"single {t['best_single']} {t['best_single_quality']:.4f}; oracle {t['oracle_quality']:.4f} "
              f"(no --prices: quality only)")


def _quality_report(pred: np.ndarray, Y: np.ndarray, models: list[str]) -> dict[str, Any]:
    """Without prices: the router picks the highest predicted quality; compare with the best single model."""
    best = int(Y.mean(0).argmax())
    return {"router_quality": float(Y[np.arange(len(Y)), pred.argmax(1)].mean()), "best_single": models[best],
            "best_single_quality": float(Y[:, best].mean()), "oracle_quality": float(Y.max(1).mean())}


def _load_sources(a: argparse.Namespace) -> RoutingData:
    """One --data source as before; several: each with its own weak/strong pair (``router.train.lofo``)."""
    if len(a.sources) == 1:
        return _load(a.data, _choice(a))
    from .lofo import load_sources

    d = load_sources(a.sources, a.weak_model, a.strong_model)
    for w in d.warnings:
        _warn(w)
    for src in d.source_models:  # type: ignore[attr-defined]
        print(f"--data {src['data']}: weak model {src['weak']!r}, strong model {src['strong']!r} (as named)")
    return d


def _spec(a: argparse.Namespace) -> FeatureSpec:
    """The feature spec the options ask for (``--dense-scale`` only exists from version 2 on)."""
    if a.feature_version == 1:
        return FeatureSpec(hash_bits=a.hash_bits, max_chars=a.max_chars, version=1)
    return FeatureSpec(hash_bits=a.hash_bits, max_chars=a.max_chars, version=a.feature_version,
                       dense_scale=a.dense_scale)


def fams_of(a: argparse.Namespace, d: RoutingData) -> list[str] | None:
    """Task families of the rows (several sources: already the groups), for family-wise inner CV."""
    from .families import families

    if len(a.sources) > 1:
        return list(d.groups or []) or None
    return families(d.groups, d.prompts, "json" if Path(a.data).suffix in (".json", ".jsonl") else "csv")


def cmd_train(a: argparse.Namespace) -> int:
    _check_out(a)
    d = _load_sources(a)
    _check_rows(d, a, a.data)
    spec = _spec(a)
    roles = _roles(d)
    cost = _costs(d, a.prices)
    show = not a.quiet
    t = _load(a.test, ModelChoice.of(d), "--test", "the same as --data") if a.test else None
    print(f"data: {len(d.prompts)} prompts, models {d.models}, dropped {d.dropped} contaminated, sha256 {d.sha256[:12]}")
    X = fit.featurize_raw(d.prompts, spec, show)
    target = d.quality
    if a.center_by_family and roles is not None:
        from .families import families
        from .lofo import center_by_group

        fams = d.groups if len(a.sources) > 1 else families(d.groups, d.prompts, "json" if Path(a.data).suffix in
                                                             (".json", ".jsonl") else "csv")
        target = center_by_group(d.quality, fams)
    alpha_scores: dict = {}
    if a.kind == "linear" and a.alpha == "auto" and a.inner_cv == "families" and roles is not None and fams_of(a, d):
        from .lofo import inner_cv

        alpha, _ = inner_cv(X, d.quality, spec, "auto", 1, a.alpha_grid, target=target, groups=fams_of(a, d))
        alpha_scores = {"chosen_by": "inner 3-fold CV over whole task families (mean per-family APGR)"}
    elif a.kind == "linear" and a.alpha == "auto":
        alpha, alpha_scores = fit.select_alpha(X, target, spec, roles, a.alpha_grid, show=show)
    else:
        alpha = float(a.alpha) if a.alpha != "auto" else 0.0
    folds = metrics.kfold_random(len(d.prompts), a.folds, a.seed)
    oof = fit.oof_predict(X, target, folds, _fitter(a.kind, spec, alpha, a.k), spec, show, "cv")
    m: dict[str, Any] = {"n_train": len(d.prompts), "alpha": alpha if a.kind == "linear" else None,
                         "alpha_inner_cv": {str(k): v for k, v in alpha_scores.items()},
                         "cv_note": f"{a.folds}-fold random-row CV (seed {a.seed}) on the training data; alpha chosen "
                                    f"by inner 3-fold CV on the same rows. For nested numbers use `eval`."}
    default_settings: dict[str, Any]
    if roles is not None:
        w, s = roles
        m["cv"] = metrics.cheap_strong_report(oof[:, s] - oof[:, w], d.quality[:, w], d.quality[:, s])
        print("cross-validated (training data):")
        for n in ("router", "random", "oracle"):
            print(_fmt_cs(n, m["cv"][n]))
        strategy = "threshold"
        default_settings = {"strategy": "threshold", "strong_model": d.models[s], "weak_model": d.models[w],
                            "strong_fraction": 0.3}
    else:
        strategy = "cost-aware"
        default_settings = {"strategy": "cost-aware", "lambda": 0.0}
        if cost is not None:
            lam, rep = _choose_lambda(oof, d.quality, cost)
            default_settings["lambda"] = lam
            ch = metrics.choose(oof, cost, lam)
            m["cv"] = {"lambda": lam, "quality": float(d.quality[np.arange(len(ch)), ch].mean()),
                       "cost": float(cost[ch].mean()), "best_single": d.models[int(rep["best_single"])],
                       "best_single_quality": rep["best_single_quality"], "best_single_cost": rep["best_single_cost"]}
            print(f"cross-validated: lambda {lam:.4g} -> quality {m['cv']['quality']:.4f} at cost {m['cv']['cost']:.4f} "
                  f"(best single {m['cv']['best_single']}: {rep['best_single_quality']:.4f} at {rep['best_single_cost']:.4f})")
        else:
            m["cv"] = _quality_report(oof, d.quality, d.models)
            print(f"cross-validated (no --prices, quality only): router {m['cv']['router_quality']:.4f}, best single "
                  f"{m['cv']['best_single']} {m['cv']['best_single_quality']:.4f}, oracle {m['cv']['oracle_quality']:.4f}")
    if a.kind == "knn":
        strategy = "knn"
        default_settings["strategy"] = "knn"
    final = _fitter(a.kind, spec, alpha, a.k)(X, target)
    if t is not None:
        pt = final.predict(fit.featurize_raw(t.prompts, spec, show), spec)  # type: ignore[attr-defined]
        if roles is not None:
            w, s = roles
            m["test"] = metrics.cheap_strong_report(pt[:, s] - pt[:, w], t.quality[:, w], t.quality[:, s])
        elif cost is not None:
            rep = metrics.multi_model_report(pt, t.quality, cost, d.models, default_settings["lambda"])
            rep.pop("curve")
            m["test"] = rep
        else:
            m["test"] = _quality_report(pt, t.quality, d.models)
        m["n_test"] = len(t.prompts)
        m["test_sha256"] = t.sha256
        _print_test(m, roles, a.test, len(t.prompts))
    # calibration sample: out-of-fold predictions (what a threshold will see on unseen prompts)
    rng = np.random.default_rng(a.seed)
    cal_idx = np.sort(rng.choice(len(oof), min(len(oof), a.calibration_rows), replace=False))
    models = []
    prices = load_prices(a.prices) if a.prices else {}
    for i, name in enumerate(d.models):
        info: dict[str, Any] = {"name": name}
        if roles is not None:
            info["role"] = "weak" if i == roles[0] else "strong"
        if name in prices:
            info.update(prices[name])
        models.append(info)
    arrays: dict[str, dict[str, np.ndarray]] = {"calibration.npz": {"calib_pred": oof[cal_idx].astype(np.float32)}}
    if a.kind == "linear":
        arrays["weights.npz"] = {"WT": np.ascontiguousarray(final.W.T), "bias": final.bias,  # type: ignore[attr-defined]
                                 "idf": final.idf}  # type: ignore[attr-defined]
    else:
        arrays["weights.npz"] = {"knn_X": final.X, "knn_Y": final.Y, "idf": final.idf}  # type: ignore[attr-defined]
    version = a.version or f"{Path(a.data).stem}-{a.kind}-{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S}"
    manifest = {"kind": a.kind, "strategy": strategy, "version": version, "training_data_sha256": d.sha256,
                "training_data": [Path(p).name for p in d.sources][:3] + (["..."] if len(d.sources) > 3 else []),
                "models": models, "features": spec.to_dict(), "metrics": _jsonable(m),
                "data_columns": {"roles_from": d.roles_from or None, "ignored": d.ignored_columns,
                                 **({"sources": d.source_models} if hasattr(d, "source_models") else {})},
                "default_settings": default_settings, "embedding": None}
    if a.kind == "knn":
        manifest["knn_k"] = a.k
    from ..artifacts import write_artifact

    key = os.environ.get(a.hmac_key_env) if a.hmac_key_env else None
    out = write_artifact(a.out, manifest, arrays, hmac_key=key)
    size = sum((Path(a.out) / f).stat().st_size for f in out["files"]) + (Path(a.out) / MANIFEST).stat().st_size
    print(f"wrote artifact {a.out} (version {version}, {size / 1e6:.2f} MB, {'signed' if key else 'unsigned'})")
    return 0


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return None if not np.isfinite(v) else round(v, 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


# ------------------------------------------------------------------------------------------ eval
def _nested_oof(X, Y, spec, folds, roles, kind: str, alpha_arg: str, k: int, show: bool, desc: str):
    """Per outer fold: pick alpha by inner CV on its training rows, fit, predict the held-out rows."""
    pred = np.zeros_like(Y, dtype=np.float64)
    alphas = []
    for f in fit.progress(folds, len(folds), desc, show):
        tr = np.setdiff1d(np.arange(X.n_rows), f)
        if kind == "linear" and alpha_arg == "auto":
            alpha, _ = fit.select_alpha(X.rows(tr), Y[tr], spec, roles, show=False)
        else:
            alpha = float(alpha_arg) if alpha_arg != "auto" else 0.0
        alphas.append(alpha)
        model = _fitter(kind, spec, alpha, k)(X.rows(tr), Y[tr])
        pred[f] = model.predict(X.rows(f), spec)  # type: ignore[attr-defined]
    return pred, alphas


def _eval_cheap_strong(d: RoutingData, X, spec, a, kinds, roles, out: dict, plot_dir: Path | None, show: bool) -> None:
    w, s = roles
    splits = [("random-rows", metrics.kfold_random(len(d.prompts), a.folds, a.seed))]
    if d.groups and len(set(d.groups)) >= a.folds:
        splits.append(("held-out-groups", metrics.kfold_groups(d.groups, a.folds, a.seed)))
    for split, folds in splits:
        out[split] = {}
        curves = {}
        for kind in kinds:
            pred, alphas = _nested_oof(X, d.quality, spec, folds, roles, kind, a.alpha, a.k, show, f"{split}/{kind}")
            score = pred[:, s] - pred[:, w]
            per_fold = [metrics.cheap_strong_metrics(score[f], d.quality[f, w], d.quality[f, s]) for f in folds]
            rnd = [metrics.cheap_strong_metrics(np.zeros(len(f)), d.quality[f, w], d.quality[f, s]) for f in folds]
            orc = [metrics.cheap_strong_metrics(d.quality[f, s] - d.quality[f, w], d.quality[f, w], d.quality[f, s])
                   for f in folds]

            def mean(rows, key):
                return float(np.mean([r[key] for r in rows]))

            res = {n: {k2: mean(rows, k2) for k2 in ("apgr", "cpt50", "cpt80")} for n, rows in
                   (("router", per_fold), ("random", rnd), ("oracle", orc))}
            res["router"]["apgr_per_fold"] = [r["apgr"] for r in per_fold]
            res["router"]["apgr_std"] = float(np.std([r["apgr"] for r in per_fold]))
            res["pooled_router"] = metrics.cheap_strong_metrics(score, d.quality[:, w], d.quality[:, s])
            res["alphas"] = alphas
            out[split][kind] = res
            print(f"{split} ({len(folds)} folds, seed {a.seed}), {kind}, mean over folds:")
            for n in ("router", "random", "oracle"):
                print(_fmt_cs(n, res[n]))
            print(f"  per-fold router APGR {', '.join(f'{v:.3f}' for v in res['router']['apgr_per_fold'])}"
                  + (f"; alphas {alphas}" if kind == "linear" else ""))
            curves[f"router ({kind})"] = metrics.strong_curve(score, d.quality[:, w], d.quality[:, s])
        if plot_dir:
            curves["random"] = metrics.strong_curve(np.zeros(len(d.prompts)), d.quality[:, w], d.quality[:, s])
            curves["oracle"] = metrics.strong_curve(d.quality[:, s] - d.quality[:, w], d.quality[:, w], d.quality[:, s])
            p = plot_dir / f"quality_vs_strong_{split}.png"
            from .plots import plot_strong_curves

            plot_strong_curves(p, f"{Path(a.data).name}: {split} out-of-fold", curves,
                               float(d.quality[:, w].mean()), float(d.quality[:, s].mean()))
            out[split]["plot"] = str(p)
            print(f"  plot: {p}")


def _eval_cheap_strong_test(d: RoutingData, t: RoutingData, X, spec, a, kinds, roles, out: dict,
                            plot_dir: Path | None, show: bool) -> None:
    """--test: fit on all of --data (alpha by inner CV on --data only), report on the held-out split."""
    w, s = roles
    Xt = fit.featurize_raw(t.prompts, spec, show)
    curves = {}
    out["test"] = {}
    for kind in kinds:
        if kind == "linear" and a.alpha == "auto":
            alpha, _ = fit.select_alpha(X, d.quality, spec, roles, show=show)
        else:
            alpha = float(a.alpha) if a.alpha != "auto" else 0.0
        pt = _fitter(kind, spec, alpha, a.k)(X, d.quality).predict(Xt, spec)  # type: ignore[attr-defined]
        score = pt[:, s] - pt[:, w]
        res = metrics.cheap_strong_report(score, t.quality[:, w], t.quality[:, s])
        res["alpha"] = alpha if kind == "linear" else None
        out["test"][kind] = res
        print(f"held-out test {a.test} ({len(t.prompts)} prompts), {kind}, trained on all of --data:")
        for n in ("router", "random", "oracle"):
            print(_fmt_cs(n, res[n]))
        curves[f"router ({kind})"] = metrics.strong_curve(score, t.quality[:, w], t.quality[:, s])
    if plot_dir:
        from .plots import plot_strong_curves

        curves["random"] = metrics.strong_curve(np.zeros(len(t.prompts)), t.quality[:, w], t.quality[:, s])
        curves["oracle"] = metrics.strong_curve(t.quality[:, s] - t.quality[:, w], t.quality[:, w], t.quality[:, s])
        p = plot_dir / "quality_vs_strong_test.png"
        plot_strong_curves(p, f"{Path(a.test).name}: held-out test", curves,
                           float(t.quality[:, w].mean()), float(t.quality[:, s].mean()))
        out["test"]["plot"] = str(p)
        print(f"  plot: {p}")


def _eval_multi(d: RoutingData, t: RoutingData, X, spec, a, kinds, cost, out: dict, plot_dir: Path | None,
                show: bool) -> None:
    Xt = fit.featurize_raw(t.prompts, spec, show)
    for kind in kinds:
        if kind == "linear" and a.alpha == "auto":
            alpha, _ = fit.select_alpha(X, d.quality, spec, None, show=show)
        else:
            alpha = float(a.alpha) if a.alpha != "auto" else 0.0
        folds = metrics.kfold_random(len(d.prompts), a.folds, a.seed)
        oof = fit.oof_predict(X, d.quality, folds, _fitter(kind, spec, alpha, a.k), spec, show, "train-cv")
        lam, _ = _choose_lambda(oof, d.quality, cost)
        model = _fitter(kind, spec, alpha, a.k)(X, d.quality)
        pt = model.predict(Xt, spec)  # type: ignore[attr-defined]
        rep = metrics.multi_model_report(pt, t.quality, cost, d.models, lam)
        rep["alpha"] = alpha if kind == "linear" else None
        print(f"{Path(a.test).name} ({len(t.prompts)} prompts), {kind}; alpha {rep['alpha']}, lambda {lam:.4g} chosen on train CV:")
        print(f"  best single model {rep['best_single']}: quality {rep['best_single_quality']:.4f} at price {rep['best_single_cost']:.3f}")
        print(f"  router quality at <= that cost: {rep['quality_at_best_cost']:.4f}")
        print(f"  router cost to match its quality: {rep['cost_to_match_best']:.4f} = {rep['cost_to_match_best_pct']:.1f}% of its cost")
        c = rep["at_chosen_lambda"]
        print(f"  at the train-chosen lambda: quality {c['quality']:.4f}, cost {c['cost']:.4f} = {c['cost_pct_of_best']:.1f}% of best single")
        print(f"  oracle: quality {rep['oracle_quality']:.4f} at cost {rep['oracle_cost']:.4f}")
        if plot_dir:
            from .plots import plot_cost_quality

            p = plot_dir / f"cost_quality_{kind}.png"
            plot_cost_quality(p, f"{Path(a.test).name}: cost vs quality ({kind})", rep["curve"], rep["singles"],
                              (rep["oracle_cost"], rep["oracle_quality"]), c)
            rep["plot"] = str(p)
            print(f"  plot: {p}")
        rep["curve"] = rep["curve"][::8]
        out[f"test/{kind}"] = rep


def _eval_artifact(a: argparse.Namespace, out: dict) -> int:
    art = load_artifact(a.artifact, os.environ.get(a.hmac_key_env) if a.hmac_key_env else None)
    pred = make_predictor(art)
    tags = {m.get("role"): m["name"] for m in art.manifest["models"] if m.get("role") in ("weak", "strong")}
    if _choice(a).names is not None:
        raise DataError("--artifact: the models and their roles come from the artifact's manifest; drop "
                        "--weak-model/--strong-model/--models")
    choice = (ModelChoice(weak=tags["weak"], strong=tags["strong"]) if len(tags) == 2
              else ModelChoice(models=tuple(art.model_names)))
    d = _load(a.data, choice, roles_from=ROLES_ARTIFACT)
    cols = [art.model_names.index(m) for m in d.models]  # the data's columns, found by name in the artifact
    P = np.stack([pred.predict(p) for p in fit.progress(d.prompts, len(d.prompts), "predict", not a.quiet)])[:, cols]
    roles = _roles(d)
    if roles is not None:
        w, s = roles
        rep = metrics.cheap_strong_report(P[:, s] - P[:, w], d.quality[:, w], d.quality[:, s])
        print(f"artifact {art.version} on {a.data}:")
        for n in ("router", "random", "oracle"):
            print(_fmt_cs(n, rep[n]))
        out["artifact_eval"] = rep
    else:
        cost = (_costs(d, a.prices) if a.prices
                else np.array([art.manifest["models"][c].get("input_price", 1.0) for c in cols]))
        lam = float(art.manifest.get("default_settings", {}).get("lambda", 0.0))
        rep = metrics.multi_model_report(P, d.quality, cost, d.models, lam)
        rep.pop("curve")
        print(f"artifact {art.version} on {a.data}: best single {rep['best_single']} {rep['best_single_quality']:.4f}; "
              f"cost to match {rep['cost_to_match_best_pct']:.1f}%; quality at its cost {rep['quality_at_best_cost']:.4f}; "
              f"at artifact lambda {lam:.4g}: quality {rep['at_chosen_lambda']['quality']:.4f} at "
              f"{rep['at_chosen_lambda']['cost_pct_of_best']:.1f}% cost")
        out["artifact_eval"] = rep
    return 0


def _eval_lofo(a: argparse.Namespace, out: dict, plot_dir: Path | None) -> int:
    from . import lofo

    if a.test or a.models or a.kind != "linear":
        raise DataError("--leave-one-family-out: a linear cheap-vs-strong evaluation; drop --test/--models/--kind")
    if a.weak_model is None or a.strong_model is None:
        raise DataError("--leave-one-family-out needs --weak-model and --strong-model (one name, or one per --data "
                        "source, comma-separated)")
    d = lofo.load_sources(a.sources, a.weak_model, a.strong_model)
    for w in d.warnings:
        _warn(w)
    _check_rows(d, a, ", ".join(a.sources))
    fams = sorted(set(d.groups or []))
    if len(fams) < 2:
        raise DataError("--leave-one-family-out: the data has fewer than two task families")
    spec = _spec(a)
    print(f"data: {len(d.prompts)} prompts in {len(fams)} families ({', '.join(fams)})")
    X = fit.featurize_raw(d.prompts, spec, not a.quiet)
    res = lofo.leave_one_family_out(d, X, spec, a.alpha, a.seed, a.strong_fraction, not a.quiet,
                                    center=a.center_by_family, inner_by_family=a.inner_cv == "families",
                                    grid=a.alpha_grid)
    res["sources"] = d.source_models  # type: ignore[attr-defined]
    res["features"] = spec.to_dict()
    print(lofo.format_table(res))
    print(f"router beats prompt length on {len(res['beats_prompt_length'])} of {res['n_families']} held-out families")
    if plot_dir:
        p = plot_dir / "lofo_apgr.png"
        lofo.plot(p, res)
        res["plot"] = str(p)
        print(f"plot: {p}")
    out["leave_one_family_out"] = res
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    out: dict[str, Any] = {}
    plot_dir = Path(a.plot_dir) if a.plot_dir else None
    if plot_dir:
        try:
            import matplotlib  # noqa: F401  (fail before the long part, not after it)
        except ImportError:
            raise DataError("--plot-dir needs matplotlib: pip install -e '.[router]'") from None
        plot_dir.mkdir(parents=True, exist_ok=True)
    if a.artifact:
        rc = _eval_artifact(a, out)
    elif a.leave_one_family_out:
        rc = _eval_lofo(a, out, plot_dir)
    else:
        d = _load_sources(a)
        _check_rows(d, a, a.data)
        spec = _spec(a)
        show = not a.quiet
        print(f"data: {len(d.prompts)} prompts, models {d.models}, dropped {d.dropped} contaminated")
        roles = _roles(d)
        cost = _costs(d, a.prices)
        if roles is None and cost is None:
            raise DataError("multi-model eval needs --prices (e.g. default_llm.json)")
        if roles is None and not a.test:
            raise DataError("multi-model eval needs --test (a held-out split) and --prices")
        t = _load(a.test, ModelChoice.of(d), "--test", "the same as --data") if a.test else None  # before the long part
        X = fit.featurize_raw(d.prompts, spec, show)
        kinds = ["linear", "knn"] if a.kind == "both" else [a.kind]
        if roles is not None:
            _eval_cheap_strong(d, X, spec, a, kinds, roles, out, plot_dir, show)
            if t is not None:
                _eval_cheap_strong_test(d, t, X, spec, a, kinds, roles, out, plot_dir, show)
        else:
            _eval_multi(d, t, X, spec, a, kinds, cost, out, plot_dir, show)  # type: ignore[arg-type]
        rc = 0
    if a.json:
        Path(a.json).write_text(json.dumps(_jsonable(out), indent=1))
        print(f"metrics written to {a.json}")
    return rc


# ------------------------------------------------------------------------------------- calibrate
def _prompts_from(path: str) -> list[str]:
    """Prompts from routing data, or JSONL lines with ``messages`` (OpenAI format) or ``prompt``."""
    p = Path(path)
    if p.suffix == ".jsonl":
        from ..features import prompt_text

        out = []
        if not p.is_file():
            raise DataError(f"{p}: no such file")
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}: line {i}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(r, dict):
                raise DataError(f"{p}: line {i}: expected an object with \"messages\" or \"prompt\"")
            if isinstance(r.get("messages"), list):
                out.append(prompt_text(r["messages"]))
            elif isinstance(r.get("body"), dict) and isinstance(r["body"].get("messages"), list):
                out.append(prompt_text(r["body"]["messages"]))
            else:
                out.append(str(r.get("prompt") or r.get("question") or ""))
        return out
    return load_prompts(p)


def cmd_calibrate_from_spend_logs(a: argparse.Namespace) -> int:
    """The deployment's own traffic: the gateway's spend logs (DynamoDB) and artifacts (S3), found
    through the gateway's environment (GATEWAY_TABLE, LLMROUTER_MODEL_S3_*, the config source).
    The gateway's code path (``gateway.learned_routing.calibration``), imported only here."""
    if not a.router:
        raise DataError("--from-spend-logs needs --router <virtual model name> (a key of router_settings.llm_routers)")
    if a.artifact or a.data or a.write:
        raise DataError("--from-spend-logs reads the serving artifact from S3; leave out --artifact, --data and --write")
    if a.strong_fraction is not None and len(a.strong_fraction) != 1:
        raise DataError("--from-spend-logs takes one --strong-fraction")
    try:
        from gateway.errors import GatewayError
        from gateway.learned_routing.calibration import CalibrationRequest, calibrate
        from gateway.runtime import get_runtime
    except ImportError as exc:
        raise DataError(f"--from-spend-logs needs the gateway package (install the project, not only the router "
                        f"extra): {exc}") from None
    request = CalibrationRequest(router=a.router, since=a.since, dry_run=a.dry_run,
                                 strong_fraction=a.strong_fraction[0] if a.strong_fraction else None)
    try:
        report = calibrate(get_runtime(), request)
    except GatewayError as exc:
        raise DataError(exc.message) from None
    print(f"router {report['router']}: {report['samples']} logged decisions of {report['previous_version']}; "
          f"strong share {report['fraction_before'] * 100:.1f}% -> {report['fraction_after'] * 100:.1f}% "
          f"(target {report['strong_fraction'] * 100:.1f}%)")
    print(f"  threshold {report['threshold_before']:.6f} -> {report['threshold_after']:.6f}; "
          + (f"version {report['version']} written to {report['location']}" if report["written"] else "dry run: nothing written"))
    return 0


def cmd_calibrate(a: argparse.Namespace) -> int:
    if a.from_spend_logs:
        return cmd_calibrate_from_spend_logs(a)
    if not a.artifact:
        raise DataError("name the artifact with --artifact (or calibrate on production with --from-spend-logs)")
    if a.strong_fraction is None:
        a.strong_fraction = [0.1, 0.2, 0.3, 0.5]
    key = os.environ.get(a.hmac_key_env) if a.hmac_key_env else None
    signed = "signature" in json.loads((Path(a.artifact) / MANIFEST).read_text())
    # a signed artifact must verify with the key; an unsigned one is checked by hash and signed on --write
    art = load_artifact(a.artifact, key if signed else "")
    names = art.model_names
    strong = a.strong_model or next((m["name"] for m in art.manifest["models"] if m.get("role") == "strong"), None)
    weak = a.weak_model or next((m["name"] for m in art.manifest["models"] if m.get("role") == "weak"), None)
    if strong not in names or weak not in names:
        raise DataError(f"name --strong-model and --weak-model among the artifact's models: {', '.join(names)}")
    si, wi = names.index(strong), names.index(weak)
    if a.data:
        pred = make_predictor(art)
        prompts = _prompts_from(a.data)
        cal = np.stack([pred.predict(p) for p in fit.progress(prompts, len(prompts), "predict", not a.quiet)]).astype(np.float32)
        src = f"{len(prompts)} prompts from {a.data}"
    else:
        cal = np.asarray(art.arrays["calib_pred"]).astype(np.float32)
        src = f"the artifact's calibration sample ({len(cal)} prompts)"
    scores = cal[:, si].astype(np.float64) - cal[:, wi].astype(np.float64)
    from ..strategies.learned import calibrated_threshold
    from ..artifacts import Artifact

    probe = Artifact(art.path, art.manifest, {"calib_pred": cal})
    print(f"calibration on {src}; score = predicted quality({strong}) - quality({weak})")
    result = {}
    for f in a.strong_fraction:
        thr = calibrated_threshold(probe, si, wi, f)
        realised = float((scores >= thr).mean())
        result[str(f)] = {"threshold": thr, "realised_fraction": realised}
        print(f"  strong_fraction {f:.3f} -> threshold {thr:.6f} (realised {realised * 100:.1f}% strong)")
    if a.write:
        root = Path(art.path)
        write_npz(root / "calibration.npz", {"calib_pred": cal})
        manifest = json.loads((root / MANIFEST).read_text())
        manifest["files"].setdefault("calibration.npz", "")
        manifest.setdefault("metrics", {})["calibration"] = {"source": src, "thresholds": _jsonable(result)}
        (root / MANIFEST).write_text(json.dumps(manifest, sort_keys=True, indent=1))
        resign_artifact(root, key)
        load_artifact(root, key)
        print(f"calibration sample written to {root / 'calibration.npz'}; manifest re-hashed{' and re-signed' if key else ''}")
    return 0


# ------------------------------------------------------------------------------------- sign/verify
def cmd_sign(a: argparse.Namespace) -> int:
    key = os.environ.get(a.hmac_key_env)
    if not key:
        raise DataError(f"set {a.hmac_key_env} to the HMAC key first")
    load_artifact(a.artifact, "")  # checksums must already hold: never sign a tampered directory
    resign_artifact(a.artifact, key)
    art = load_artifact(a.artifact, key)
    print(f"signed artifact {art.version} ({a.artifact})")
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    art = load_artifact(a.artifact, os.environ.get(a.hmac_key_env) or None)
    info = art.describe()
    print(json.dumps({k: info[k] for k in ("version", "strategy", "kind", "created_at", "signed", "signature_verified")}))
    return 0


# ------------------------------------------------------------------------------------------ main
def _int_in(lo: int, hi: int):
    def parse(v: str) -> int:
        try:
            n = int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{v!r} is not an integer") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"{n} is not between {lo} and {hi}")
        return n
    return parse


def _float_in(lo: float, hi: float):
    def parse(v: str) -> float:
        try:
            x = float(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{v!r} is not a number") from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"{x:g} is not between {lo:g} and {hi:g}")
        return x
    return parse


def _grid(v: str) -> tuple[float, ...]:
    try:
        g = tuple(float(x) for x in v.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a comma-separated list of numbers") from None
    if not g or len(g) > 20 or not all(0 < x <= 1e6 for x in g):
        raise argparse.ArgumentTypeError(f"{v!r}: give 1 to 20 alphas, each > 0 and <= 1e6")
    return g


def _alpha(v: str) -> str:
    if v != "auto":
        try:
            ok = float(v) > 0
        except ValueError:
            ok = False
        if not ok:
            raise argparse.ArgumentTypeError(f"{v!r} is neither 'auto' nor a positive number")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m router", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", required=True, nargs="+",
                        help="a folder of .csv files, a .csv, or LLMRouter .json/.jsonl; several sources: name the "
                             "weak/strong model of each with comma-separated --weak-model/--strong-model")
        sp.add_argument("--weak-model", metavar="NAME", help="the cheap model's column (CSV) or scores key (JSON)")
        sp.add_argument("--strong-model", metavar="NAME", help="the strong model's column / scores key")
        sp.add_argument("--models", metavar="A,B,C", help="multi-model: the model columns / scores keys to use")
        sp.add_argument("--prices", help="model prices JSON (LLMRouter default_llm.json format)")
        sp.add_argument("--kind", default="linear", choices=["linear", "knn"] + (["both"] if sp.prog.endswith("eval") else []))
        sp.add_argument("--alpha", default="auto", type=_alpha, help="ridge L2 strength, or 'auto' (inner 3-fold CV)")
        sp.add_argument("--k", type=_int_in(1, 10_000), default=25, help="neighbours for knn")
        sp.add_argument("--hash-bits", type=_int_in(8, 24), default=18)
        sp.add_argument("--max-chars", type=_int_in(100, 1_000_000), default=FeatureSpec.max_chars,
                        help="feature window: longer prompts are read as their first 3/4 + last 1/4")
        sp.add_argument("--feature-version", type=int, choices=SPEC_VERSIONS, default=FEATURE_VERSION,
                        help="feature spec: 1 = n-grams + punctuation + 6 dense; 2 adds the layout block "
                             "(structure, maths/code markers, multiple-choice layout, question kind)")
        sp.add_argument("--dense-scale", type=_float_in(0.01, 1000.0), default=DENSE_SCALE,
                        help="version 2: multiply the layout block by this (less ridge shrinkage than the n-grams)")
        sp.add_argument("--alpha-grid", type=_grid, default=fit.ALPHA_GRID, metavar="A,B,...",
                        help="alphas that --alpha auto chooses from (default %(default)s)")
        sp.add_argument("--inner-cv", choices=["rows", "families"], default="rows",
                        help="how --alpha auto is chosen: random-row folds, or folds of whole task families judged by "
                             "mean per-family APGR (cheap vs strong; picks the alpha that transfers to new families)")
        sp.add_argument("--folds", type=_int_in(2, 50), default=5)
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--test", help="held-out split (same format as --data)")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        sp.add_argument("--center-by-family", action="store_true",
                        help="cheap vs strong: fit each task family's targets around the overall mean, so the model "
                             "learns what is hard within a family rather than which family a prompt is from")
        sp.add_argument("--hmac-key-env", default=HMAC_ENV, help=f"env var holding the HMAC key (default {HMAC_ENV})")

    t = sub.add_parser("train", help="fit and write an artifact directory")
    common(t)
    t.add_argument("--out", required=True, help="artifact directory to write (refused if it is not empty)")
    t.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    t.add_argument("--version", help="artifact version string (default: derived from data name and time)")
    t.add_argument("--calibration-rows", type=_int_in(1, 1_000_000), default=4000)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="nested cross-validation / held-out evaluation, prints metrics")
    common(e)
    e.add_argument("--artifact", help="evaluate this artifact directory on --data instead of training")
    e.add_argument("--plot-dir", help="write PNG plots here")
    e.add_argument("--json", help="write all metrics as JSON here")
    e.add_argument("--leave-one-family-out", action="store_true",
                   help="train on all task families but one, score the held-out one, for every family (MMLU "
                        "categories, LLMRouter task types, else the group column)")
    e.add_argument("--strong-fraction", type=float, default=0.3,
                   help="with --leave-one-family-out: calibrate this share on the training families, report the "
                        "share it gives on the held-out one")
    e.set_defaults(func=cmd_eval)

    c = sub.add_parser("calibrate", help="strong fraction -> threshold; optionally store a new calibration sample")
    c.add_argument("--artifact")
    c.add_argument("--data", help="prompts: routing data, or JSONL with messages/prompt per line")
    c.add_argument("--strong-fraction", type=float, nargs="+", default=None,
                   help="default 0.1 0.2 0.3 0.5 (with --from-spend-logs: one value, default the router's own)")
    c.add_argument("--from-spend-logs", action="store_true",
                   help="calibrate a deployed threshold router on its logged decisions and publish the new version to S3")
    c.add_argument("--router", help="with --from-spend-logs: the virtual model (router_settings.llm_routers key)")
    c.add_argument("--since", default="7d", help="with --from-spend-logs: how far back (e.g. 12h, 7d; default 7d)")
    c.add_argument("--dry-run", action="store_true", help="with --from-spend-logs: report only, write nothing")
    c.add_argument("--strong-model")
    c.add_argument("--weak-model")
    c.add_argument("--write", action="store_true", help="store the sample as the artifact's calibration.npz")
    c.add_argument("--quiet", action="store_true")
    c.add_argument("--hmac-key-env", default=HMAC_ENV)
    c.set_defaults(func=cmd_calibrate)

    sg = sub.add_parser("sign", help="HMAC-sign an artifact directory (key from --hmac-key-env)")
    sg.add_argument("--artifact", required=True)
    sg.add_argument("--hmac-key-env", default=HMAC_ENV)
    sg.set_defaults(func=cmd_sign)
    v = sub.add_parser("verify", help="verify checksums (and the signature when the key env var is set)")
    v.add_argument("--artifact", required=True)
    v.add_argument("--hmac-key-env", default=HMAC_ENV)
    v.set_defaults(func=cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on success; 2 with one ``error:`` line on stderr (no traceback) for any bad input."""
    a = build_parser().parse_args(argv)
    if a.cmd in ("train", "eval"):
        a.sources, a.data = a.data, a.data[0]
    try:
        return int(a.func(a) or 0)
    except (DataError, RouterError) as exc:  # RouterError: unreadable/tampered artifact, bad settings
        msg = str(exc).replace("\n", " ")
    except OSError as exc:  # e.g. --out not writable, --json into a missing folder
        msg = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    print(f"error: {msg}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
