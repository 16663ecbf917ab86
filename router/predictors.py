"""Quality predictors read from an artifact: per-model predicted quality for one prompt.

``linear``: ridge weights over the hashed features, stored transposed as ``WT`` (M, F) float32 so
each model's weights are one contiguous row; ``bias`` (M,); optional ``idf`` (n_hash,). Scoring
works in pure Python (``itemgetter(*indices)(row)`` gathers in C, ``sum(map(mul, ...))`` adds in C),
so serving needs no numpy; with numpy installed the same scores come from ``router.fastpath``. ``knn``: cosine k-nearest neighbours over a folded copy of the same
features (``knn_X`` (N, d) unit rows, ``knn_Y`` (N, M)); a baseline, and the only path that needs
numpy at serving time (imported lazily).
"""
from __future__ import annotations

from operator import itemgetter, mul
from typing import Any, Protocol, Sequence

from .artifacts import Artifact
from .errors import ArtifactError
from .fastpath import featurize_np, numpy_or_none
from .features import FeatureSpec, featurize


class Predictor(Protocol):
    models: list[str]

    def predict(self, text: str) -> list[float]: ...


def fold(idx: Sequence[int], val: Sequence[float], dim: int) -> Any:
    """Signed fold of a sparse vector into ``dim`` dense buckets (a random projection), L2-normalised."""
    import numpy as np

    i = np.asarray(idx, dtype=np.int64)
    sign = 1.0 - 2.0 * ((i // dim) & 1)
    v = np.bincount(i % dim, weights=np.asarray(val, dtype=np.float64) * sign, minlength=dim)
    n = float(np.sqrt(v @ v))
    return v / n if n > 0 else v


def _get(art: Artifact, name: str) -> Any:
    try:
        return art.arrays[name]
    except KeyError:
        raise ArtifactError(f"router artifact {art.version!r} ({art.kind}) lacks array {name!r}") from None


class LinearPredictor:
    """Ridge scores; numpy fast path when available (``router.fastpath``), else pure Python."""

    def __init__(self, artifact: Artifact):
        self.spec: FeatureSpec = artifact.feature_spec
        self.models = artifact.model_names
        WT, bias = _get(artifact, "WT"), _get(artifact, "bias")
        m = len(self.models)
        if tuple(WT.shape) != (m, self.spec.dim) or tuple(bias.shape) != (m,):
            raise ArtifactError(f"router artifact {artifact.version!r}: weight shape {tuple(WT.shape)} does not "
                                f"match models ({m}) x features ({self.spec.dim})")
        self.rows = [WT.row(j) for j in range(m)]
        self.bias = [float(b) for b in bias.tolist()]
        idf = artifact.arrays.get("idf")
        self.idf = idf.flat if idf is not None else None
        self.np = numpy_or_none()
        if self.np is not None:
            np = self.np
            self.W = np.ascontiguousarray(np.asarray(WT).T)  # (F, M): one row gather per feature
            self.idf_np = np.asarray(idf, dtype=np.float64) if idf is not None else None
            self.bias_np = np.asarray(self.bias, dtype=np.float64)

    def predict(self, text: str) -> list[float]:
        if self.np is not None:
            idx, val = featurize_np(self.np, text, self.spec, self.idf_np)
            return (val @ self.W[idx] + self.bias_np).tolist()
        return self.predict_pure(text)

    def predict_pure(self, text: str) -> list[float]:
        idx, val = featurize(text, self.spec, self.idf)
        get = itemgetter(*idx)  # idx always holds the dense features, so len(idx) > 1 and get() is a tuple
        return [sum(map(mul, get(row), val)) + b for row, b in zip(self.rows, self.bias)]


class KnnPredictor:
    def __init__(self, artifact: Artifact, k: int | None = None):
        import numpy as np

        self.np = np
        self.spec = artifact.feature_spec
        self.models = artifact.model_names
        self.X = np.asarray(_get(artifact, "knn_X"), dtype=np.float32)
        self.Y = np.asarray(_get(artifact, "knn_Y"), dtype=np.float32)
        idf = artifact.arrays.get("idf")
        self.idf = idf.flat if idf is not None else None
        self.k = int(k or artifact.manifest.get("knn_k", 25))
        if self.Y.shape != (self.X.shape[0], len(self.models)):
            raise ArtifactError(f"router artifact {artifact.version!r}: knn_Y shape {self.Y.shape} mismatch")

    def predict(self, text: str) -> list[float]:
        np = self.np
        idx, val = featurize(text, self.spec, self.idf)
        q = fold(idx, val, self.X.shape[1]).astype(np.float32)
        sims = self.X @ q
        k = min(self.k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        w = np.maximum(sims[top], 0.0) + 1e-6
        return ((w @ self.Y[top]) / w.sum()).tolist()


def make_predictor(artifact: Artifact, k: int | None = None) -> Predictor:
    if artifact.kind == "linear":
        return LinearPredictor(artifact)
    if artifact.kind == "knn":
        try:
            return KnnPredictor(artifact, k)
        except ImportError:
            raise ArtifactError(f"router artifact {artifact.version!r} is a knn artifact, which needs numpy") from None
    raise ArtifactError(f"router artifact {artifact.version!r} has unknown kind {artifact.kind!r}")
