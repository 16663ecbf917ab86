"""Quality predictors read from an artifact: per-model predicted quality for one prompt.

``linear``: ridge weights over the hashed features, stored transposed as ``WT`` (M, F) float32;
``bias`` (M,); optional ``idf`` (n_hash,). Serving re-lays the hashed block out as one record per
bucket (``idf`` + every model's weight) and scores in pure Python (one ``itemgetter`` gather, one
``math.sumprod`` per model over a strided view), so serving needs no numpy: about 0.25 ms (2
models) / 0.3 ms (9 models) for a 2,000-token prompt (``bench/router_bench.py``). ``knn``: cosine k-nearest neighbours over a folded copy of the same
features (``knn_X`` (N, d) unit rows, ``knn_Y`` (N, M)); a baseline, and the only path that needs
numpy at serving time (imported lazily).
"""
from __future__ import annotations

import math
import weakref
from array import array
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
    vector. The weights are re-laid out once, at build time, as one small ``bytes`` record per
    hash bucket: ``idf, w_model0, w_model1, ...`` (float32). A prompt's buckets are then fetched
    with ONE C-level gather (``itemgetter`` over the record list, no float boxing), joined into
    one buffer; each model's weights are a strided ``memoryview`` slice of it, summed with
    ``math.sumprod``. Why: with one row per model, a 9-model artifact paid
    9 separate gathers, each touching a different 256 KB row (cache misses dominated: ~330 µs at
    2,000 tokens); the interleaved records touch one 40-byte record per bucket. Scores are bit
    for bit those of the per-row layout (same float32 values, same summation order).
    """

    def __init__(self, artifact: Artifact):
        self.spec: FeatureSpec = artifact.feature_spec
        self.models = artifact.model_names
        WT, bias = _get(artifact, "WT"), _get(artifact, "bias")
        m = len(self.models)
        if tuple(WT.shape) != (m, self.spec.dim) or tuple(bias.shape) != (m,):
            raise ArtifactError(f"router artifact {artifact.version!r}: weight shape {tuple(WT.shape)} does not "
                                f"match models ({m}) x features ({self.spec.dim})")
        nh = self.spec.n_hash
        idf = artifact.arrays.get("idf")
        if idf is not None and tuple(idf.shape) != (nh,):
            raise ArtifactError(f"router artifact {artifact.version!r}: idf shape {tuple(idf.shape)} does not "
                                f"match the {nh} hash buckets")
        self.idf = idf.flat if idf is not None else None  # for featurize() callers (training, eval, tests)
        self.has_idf = idf is not None
        self.stride = m + 1
        self.records, self.fmt = bucket_records([WT.row(j)[:nh] for j in range(m)], idf.flat if idf is not None else None)
        # The punctuation + dense block (38 weights per model) as plain floats, indexed from 0.
        self.side_rows = [WT.row(j)[nh:].tolist() for j in range(m)]
        self.bias = [float(b) for b in bias.tolist()]

    def predict(self, text: str) -> list[float]:
        spec = self.spec
        text, b, words = split_words(text, spec)
        side_idx, side_vals = side_features(text, b, words, spec)
        nh = spec.n_hash
        get_side = itemgetter(*[i - nh for i in side_idx])  # N_DENSE > 1 entries: always a tuple
        scores = [sumprod(get_side(row), side_vals) + bias for row, bias in zip(self.side_rows, self.bias)]
        counts = hashed_counts(words, spec)
        if not counts:
            return scores
        keys = list(counts)
        recs = itemgetter(*keys)(self.records) if len(keys) > 1 else (self.records[keys[0]],)
        flat = memoryview(b"".join(recs)).cast(self.fmt)  # idf, w0, w1, ..., idf, w0, ...
        r = self.stride
        vals = sublinear_tf(counts)
        if self.has_idf:
            vals = list(map(mul, vals, flat[0::r]))
        norm = math.sqrt(sumprod(vals, vals))
        if norm == 0:
            return scores
        inv = 1.0 / norm
        # sumprod over a strided view boxes one float at a time (freed at once, so the float free
        # list is reused): about half the cost of unpacking the whole buffer with tolist() first.
        return [s + inv * sumprod(flat[j::r], vals) for j, s in enumerate(scores, 1)]


def bucket_records(rows: Sequence[memoryview], idf: memoryview | None) -> tuple[list[bytes], str]:
    """One ``bytes`` record per hash bucket: ``idf`` (1.0 without one) then each row's weight.

    Records are float32 when every array is float32 (the trained artifacts), else float64, so the
    values are exactly the stored ones. Built with ``array`` extended-slice assignment (C speed):
    about 10 ms for 2**18 buckets. A record costs ~48 bytes of RAM for 2 models, ~80 for 9
    (CPython object header + payload).
    """
    cols = ([idf] if idf is not None else []) + list(rows)
    fmt = "f" if all(c.format == "f" for c in cols) else "d"
    n, r = len(rows[0]), len(rows) + 1
    table = array(fmt, bytes(table_itemsize(fmt) * n * r))
    if idf is None:
        table[0::r] = array(fmt, [1.0]) * n
    for j, c in enumerate(cols, 0 if idf is not None else 1):
        col = array(fmt)
        if c.format == fmt:
            col.frombytes(c.cast("B"))
        else:
            col.fromlist(c.tolist())
        table[j::r] = col
    raw, size = table.tobytes(), table.itemsize * r
    return [raw[i:i + size] for i in range(0, len(raw), size)], fmt


def table_itemsize(fmt: str) -> int:
    return array(fmt).itemsize


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


_LINEAR: "weakref.WeakKeyDictionary[Artifact, LinearPredictor]" = weakref.WeakKeyDictionary()


def make_predictor(artifact: Artifact, k: int | None = None) -> Predictor:
    """The artifact's predictor. A linear one is built once per loaded artifact and shared (its
    record table takes ~25 ms and several MB), so A/B arms and nested rules over one artifact reuse it;
    it is immutable after construction, so sharing is safe."""
    if artifact.kind == "linear":
        pred = _LINEAR.get(artifact)
        if pred is None:
            pred = _LINEAR[artifact] = LinearPredictor(artifact)
        return pred
    if artifact.kind == "knn":
        try:
            return KnnPredictor(artifact, k)
        except ImportError:
            raise ArtifactError(f"router artifact {artifact.version!r} is a knn artifact, which needs numpy") from None
    raise ArtifactError(f"router artifact {artifact.version!r} has unknown kind {artifact.kind!r}")
