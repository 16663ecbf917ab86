"""Quality predictors read from an artifact: per-model predicted quality for one prompt.

``linear``: ridge weights over the hashed features, stored transposed as ``WT`` (M, F) float32 so
each model's weights are one contiguous row; ``bias`` (M,); optional ``idf`` (n_hash,). Scoring
is pure Python (``itemgetter(*indices)(row)`` gathers in C, ``math.sumprod`` adds in C), so serving
needs no numpy: about 0.5 ms for a 2,000-token prompt (``bench/router_bench.py``). ``knn``: cosine k-nearest neighbours over a folded copy of the same
features (``knn_X`` (N, d) unit rows, ``knn_Y`` (N, M)); a baseline, and the only path that needs
numpy at serving time (imported lazily).
"""
from __future__ import annotations

import math
from math import sumprod
from operator import itemgetter, mul
from typing import Any, Protocol, Sequence

from .artifacts import Artifact
from .errors import ArtifactError
from .features import FeatureSpec, split_words, featurize, hashed_counts, side_features, sublinear_tf


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
    """Ridge scores of every candidate, computed straight from the sparse parts of the features.

    Same numbers as ``featurize`` followed by a dot product, without building the normalised
    vector: per model, one C-level gather of the weights at the prompt's buckets
    (``itemgetter``) and one ``math.sumprod``, scaled by the n-gram block's inverse norm.
    """

    def __init__(self, artifact: Artifact):
        self.spec: FeatureSpec = artifact.feature_spec
        self.models = artifact.model_names
        WT, bias = _get(artifact, "WT"), _get(artifact, "bias")
        m = len(self.models)
        if tuple(WT.shape) != (m, self.spec.dim) or tuple(bias.shape) != (m,):
            raise ArtifactError(f"router artifact {artifact.version!r}: weight shape {tuple(WT.shape)} does not "
                                f"match models ({m}) x features ({self.spec.dim})")
        # Zero-copy float32 views, one contiguous row per model. Converting them to lists of Python
        # floats makes a gather allocation-free but was slower end to end (32 bytes per weight
        # scattered over the heap: cache misses) and costs ~17 MB of RAM per artifact.
        self.rows = [WT.row(j) for j in range(m)]
        self.bias = [float(b) for b in bias.tolist()]
        idf = artifact.arrays.get("idf")
        self.idf = idf.flat if idf is not None else None

    def predict(self, text: str) -> list[float]:
        text, b, words = split_words(text, self.spec)
        side_idx, side_vals = side_features(text, b, len(words), self.spec)
        get_side = itemgetter(*side_idx)  # the dense block alone has N_DENSE > 1 entries: always a tuple
        scores = [sumprod(get_side(row), side_vals) + bias for row, bias in zip(self.rows, self.bias)]
        counts = hashed_counts(words, self.spec)
        if not counts:
            return scores
        keys = list(counts)
        gather = itemgetter(*keys) if len(keys) > 1 else (lambda seq, k=keys[0]: (seq[k],))
        vals = sublinear_tf(counts)
        if self.idf is not None:
            vals = list(map(mul, vals, gather(self.idf)))
        norm = math.sqrt(sumprod(vals, vals))
        if norm == 0:
            return scores
        inv = 1.0 / norm
        return [s + inv * sumprod(gather(row), vals) for s, row in zip(scores, self.rows)]


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
