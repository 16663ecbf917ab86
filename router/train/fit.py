"""Model fitting on top of ``router.features``: ridge (``linear``) and k-nearest-neighbours (``knn``).

Both predict one quality value per model. The cheap-vs-strong score is the difference of two
columns; because ridge is linear in its targets, that is exactly ridge regression of
``strong - weak`` (RouteLLM's "does the strong model win" signal, with ties counting zero).
Alpha is chosen by inner cross-validation on the training rows only (never the reported split).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..features import FeatureSpec, featurize
from ..predictors import fold
from . import metrics, sparse

ALPHA_GRID = (3.0, 10.0, 30.0, 100.0)


def progress(it, total: int | None = None, desc: str = "", enabled: bool = True):
    if not enabled:
        return it
    try:
        from tqdm import tqdm  # dev dependency, imported lazily
    except ImportError:  # pragma: no cover
        return it
    return tqdm(it, total=total, desc=desc, leave=False, mininterval=0.5)


def featurize_raw(prompts: Sequence[str], spec: FeatureSpec, show: bool = True) -> sparse.CSR:
    """Unnormalised features of every prompt (idf and normalisation are applied per fold)."""
    rows = (featurize(p, spec, None, normalize=False) for p in progress(prompts, len(prompts), "features", show))
    return sparse.from_rows(rows, spec.dim)


def compute_idf(X: sparse.CSR, spec: FeatureSpec) -> np.ndarray:
    hashed = X.indices[X.indices < spec.n_hash]
    df = np.bincount(hashed, minlength=spec.n_hash)
    return (np.log((1.0 + X.n_rows) / (1.0 + df)) + 1.0).astype(np.float32)


def apply_idf(X: sparse.CSR, idf: np.ndarray | None, spec: FeatureSpec) -> sparse.CSR:
    """Same as serving-time ``featurize(text, spec, idf)``: scale the hashed block, L2-normalise it."""
    hashed = X.indices < spec.n_hash
    data = X.data.copy()
    if idf is not None:
        data[hashed] *= idf[X.indices[hashed]].astype(np.float64)
    sq = np.where(hashed, data * data, 0.0)
    norms = np.sqrt(np.add.reduceat(sq, X.indptr[:-1]))
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 1.0)
    data = np.where(hashed, data * np.repeat(scale, np.diff(X.indptr)), data)
    return sparse.CSR(X.indptr, X.indices, data, X.n_cols)


@dataclass
class LinearModel:
    W: np.ndarray  # (F, M)
    bias: np.ndarray  # (M,)
    idf: np.ndarray | None
    alpha: float

    def predict(self, Xraw: sparse.CSR, spec: FeatureSpec) -> np.ndarray:
        return sparse.matmul(apply_idf(Xraw, self.idf, spec), self.W) + self.bias


def fit_linear(Xraw: sparse.CSR, Y: np.ndarray, spec: FeatureSpec, alpha: float, use_idf: bool = True) -> LinearModel:
    idf = compute_idf(Xraw, spec) if use_idf else None
    X = apply_idf(Xraw, idf, spec)
    mu = Y.mean(0)
    W = sparse.ridge(X, Y - mu, alpha, iters=150)
    return LinearModel(W.astype(np.float32), mu.astype(np.float32), idf, alpha)


@dataclass
class KnnModel:
    X: np.ndarray  # (N, d) unit rows, float16
    Y: np.ndarray  # (N, M) float16
    idf: np.ndarray | None
    k: int

    def predict(self, Xraw: sparse.CSR, spec: FeatureSpec) -> np.ndarray:
        Xq = dense_fold(apply_idf(Xraw, self.idf, spec), self.X.shape[1])
        Xt = self.X.astype(np.float32)
        Yt = self.Y.astype(np.float32)
        out = np.empty((Xq.shape[0], Yt.shape[1]), np.float32)
        k = min(self.k, Xt.shape[0])
        for s in range(0, Xq.shape[0], 512):
            sims = Xq[s:s + 512] @ Xt.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            w = np.maximum(np.take_along_axis(sims, top, 1), 0.0) + 1e-6
            out[s:s + 512] = np.einsum("nk,nkm->nm", w, Yt[top]) / w.sum(1, keepdims=True)
        return out


def dense_fold(X: sparse.CSR, dim: int) -> np.ndarray:
    out = np.zeros((X.n_rows, dim), np.float32)
    for i in range(X.n_rows):
        a, b = X.indptr[i], X.indptr[i + 1]
        out[i] = fold(X.indices[a:b], X.data[a:b], dim)
    return out


def fit_knn(Xraw: sparse.CSR, Y: np.ndarray, spec: FeatureSpec, k: int = 25, dim: int = 256,
            max_rows: int = 8000, seed: int = 0, use_idf: bool = True) -> KnnModel:
    idf = compute_idf(Xraw, spec) if use_idf else None
    sel = np.arange(Xraw.n_rows)
    if len(sel) > max_rows:  # bound artifact size: N x dim float16
        sel = np.sort(np.random.default_rng(seed).choice(sel, max_rows, replace=False))
    Xs = dense_fold(apply_idf(Xraw.rows(sel), idf, spec), dim)
    return KnnModel(Xs.astype(np.float16), Y[sel].astype(np.float16), idf, k)


Fitter = Callable[[sparse.CSR, np.ndarray], object]


def objective(pred: np.ndarray, Y: np.ndarray, roles: tuple[int, int] | None) -> float:
    """Higher is better. Cheap-vs-strong: APGR of the strong-minus-weak score; else -MSE."""
    if roles is not None:
        w, s = roles
        return metrics.cheap_strong_metrics(pred[:, s] - pred[:, w], Y[:, w], Y[:, s])["apgr"]
    return -float(((pred - Y) ** 2).mean())


def select_alpha(Xraw: sparse.CSR, Y: np.ndarray, spec: FeatureSpec, roles: tuple[int, int] | None,
                 grid: Sequence[float] = ALPHA_GRID, folds: int = 3, seed: int = 1, show: bool = True) -> tuple[float, dict]:
    """Alpha by inner k-fold CV on these rows only."""
    inner = metrics.kfold_random(Xraw.n_rows, folds, seed)
    scores = {}
    for alpha in progress(grid, len(grid), "alpha", show):
        pred = np.zeros_like(Y)
        for f in inner:
            tr = np.setdiff1d(np.arange(Xraw.n_rows), f)
            m = fit_linear(Xraw.rows(tr), Y[tr], spec, alpha)
            pred[f] = m.predict(Xraw.rows(f), spec)
        scores[alpha] = objective(pred, Y, roles)
    best = max(scores, key=lambda a: (scores[a], a))
    return best, scores


def oof_predict(Xraw: sparse.CSR, Y: np.ndarray, folds: list[np.ndarray],
                fit: Callable[[sparse.CSR, np.ndarray], object], spec: FeatureSpec, show: bool = True,
                desc: str = "folds") -> np.ndarray:
    pred = np.zeros_like(Y, dtype=np.float64)
    for f in progress(folds, len(folds), desc, show):
        tr = np.setdiff1d(np.arange(Xraw.n_rows), f)
        model = fit(Xraw.rows(tr), Y[tr])
        pred[f] = model.predict(Xraw.rows(f), spec)  # type: ignore[attr-defined]
    return pred
