"""The per-model-row scorer that ``router.predictors.LinearPredictor`` replaced: one float32 row
per model, one gather per model.

Kept as the reference the record layout must match bit for bit (``tests/router/test_predictor_layout.py``)
and as the baseline ``bench/router_bench.py`` measures it against in the same run. Not a serving path.
"""
from __future__ import annotations

import math
from operator import itemgetter, mul

from ..artifacts import Artifact
from ..features import hashed_counts, side_features, split_words, sublinear_tf


class RowLayoutPredictor:
    def __init__(self, art: Artifact):
        self.spec = art.feature_spec
        self.models = art.model_names
        WT = art.arrays["WT"]
        self.rows = [WT.row(j) for j in range(len(art.model_names))]
        self.bias = [float(b) for b in art.arrays["bias"].tolist()]
        idf = art.arrays.get("idf")
        self.idf = idf.flat if idf is not None else None

    def predict(self, text: str) -> list[float]:
        text, b, words = split_words(text, self.spec)
        side_idx, side_vals = side_features(text, b, words, self.spec)
        get_side = itemgetter(*side_idx)
        scores = [math.sumprod(get_side(row), side_vals) + bias for row, bias in zip(self.rows, self.bias)]
        counts = hashed_counts(words, self.spec)
        if not counts:
            return scores
        keys = list(counts)
        gather = itemgetter(*keys) if len(keys) > 1 else (lambda seq, k=keys[0]: (seq[k],))
        vals = sublinear_tf(counts)
        if self.idf is not None:
            vals = list(map(mul, vals, gather(self.idf)))
        norm = math.sqrt(math.sumprod(vals, vals))
        if norm == 0:
            return scores
        inv = 1.0 / norm
        return [s + inv * math.sumprod(gather(row), vals) for s, row in zip(scores, self.rows)]
