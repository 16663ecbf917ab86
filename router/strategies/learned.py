"""Learned strategies over an artifact's quality predictor: ``threshold``, ``cost-aware`` and ``knn``.

``threshold`` (RouteLLM-style cheap vs strong)::

    {"strategy": "threshold", "strong_model": "mock-strong", "weak_model": "mock",
     "strong_fraction": 0.3}            # or "threshold": 0.05 (raw score cut-off)
     # optional "models": {"<artifact model>": "<deployment>"} when deployment names are ambiguous

The score is the predicted quality gain of the strong over the weak model (artifact columns picked
by ``models`` or by the artifact's ``role: strong/weak`` tags). ``strong_fraction`` is turned into a
threshold once, at build time, as the (1 - fraction) quantile of the scores of the artifact's
calibration sample (out-of-fold training prompts, or your own traffic via ``python -m router
calibrate --write``). Score >= threshold -> strong.

``cost-aware`` (multi-model)::

    {"strategy": "cost-aware", "lambda": 0.2,
     "models": {"llama-3.1-8b-instruct": "mock", "llama-3.1-nemotron-51b-instruct": "mock-strong", ...},
     "candidates": ["mock", "mock-strong"],          # optional: restrict the deployments
     "prices": {"mock": {"input_price": 0.2, "output_price": 0.2}},   # optional, USD per 1M tokens
     "expected_output_tokens": 256}                  # optional

Each artifact model m mapped to an allowed deployment gets utility
``q_m - lambda * cost_m / max(cost)`` where ``cost_m = input_price * prompt_tokens +
output_price * expected_output_tokens`` (prices: ``prices`` in the settings, else the request's
candidate price, i.e. the gateway's price for that deployment, else the artifact's). A deployment's utility is the best of the models mapped to it; the best
deployment wins, ties go to the cheaper. ``lambda`` = quality points (0..1) you would give up to
avoid the most expensive candidate's full cost. Without ``models`` the artifact's names are used as
deployment names. With lambda 0 it is the quality-maximising router.

``knn``: the same two rules over a ``knn`` artifact (``strong_model``/``weak_model`` present ->
threshold rule, else cost-aware). Optional ``k`` overrides the artifact's neighbour count.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from ..artifacts import Artifact
from ..budget import BudgetShift
from ..errors import NoCandidateError
from ..predictors import Predictor, make_predictor
from ..settings import as_mapping, check_keys, fail, get_int, get_number, get_str, get_str_list
from ..types import Decision, RouteRequest, ScoredCandidate


def _model_map(s: Mapping[str, Any], art: Artifact, where: str) -> dict[str, str] | None:
    if s.get("models") is None:
        return None
    m = as_mapping(s["models"], f"{where}.models")
    known = set(art.model_names)
    out = {}
    for k, v in m.items():
        if k not in known:
            raise fail(f"{where}.models", f"{k!r} is not a model of artifact {art.version!r} "
                                          f"(it has: {', '.join(art.model_names)})")
        if not isinstance(v, str) or not v:
            raise fail(f"{where}.models.{k}", f"expected a deployment name, got {v!r}")
        out[k] = v
    if not out:
        raise fail(f"{where}.models", "maps no model")
    return out


class ThresholdRouter:
    def __init__(self, name: str, art: Artifact, pred: Predictor, strong: tuple[str, int], weak: tuple[str, int],
                 threshold: float, fraction: float | None, budget: BudgetShift | None = None,
                 calibration: list[float] | None = None):
        self.name = name
        self.artifact_version = art.version
        self.pred = pred
        self.strong_dep, self.si = strong
        self.weak_dep, self.wi = weak
        self.threshold = threshold
        self.fraction = fraction
        self.budget = budget
        self.calibration = calibration  # sorted calibration scores, kept only for the budget shift

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], art: Artifact, where: str, name: str) -> "ThresholdRouter":
        check_keys(s, ("strategy", "strong_model", "weak_model", "threshold", "strong_fraction", "models", "k", "name",
                       "budget"), where)
        strong_dep = get_str(s, "strong_model", where)
        weak_dep = get_str(s, "weak_model", where)
        if strong_dep == weak_dep:
            raise fail(where, f"strong_model and weak_model are both {strong_dep!r}")
        mapping = _model_map(s, art, where)
        names = art.model_names

        def column(dep: str, role: str) -> int:
            if mapping is not None:
                hits = [k for k, v in mapping.items() if v == dep]
                if len(hits) != 1:
                    raise fail(f"{where}.models", f"must map exactly one artifact model to {role}_model {dep!r} "
                                                  f"(found {len(hits)})")
                return names.index(hits[0])
            if dep in names:
                return names.index(dep)
            tagged = [i for i, m in enumerate(art.manifest["models"]) if m.get("role") == role]
            if len(tagged) != 1:
                raise fail(where, f"artifact {art.version!r} has no model tagged role={role!r}; "
                                  f"add a 'models' mapping from its models ({', '.join(names)}) to deployments")
            return tagged[0]

        si, wi = column(strong_dep, "strong"), column(weak_dep, "weak")
        if si == wi:
            raise fail(where, "strong_model and weak_model resolve to the same artifact model")
        has_t, has_f = s.get("threshold") is not None, s.get("strong_fraction") is not None
        if has_t == has_f:
            raise fail(where, "set exactly one of 'threshold' (score cut-off) or 'strong_fraction' (0..1)")
        k = get_int(s, "k", where, lo=1)
        if k is not None and art.kind != "knn":
            raise fail(f"{where}.k", "only applies to knn artifacts")
        pred = make_predictor(art, k)
        budget = BudgetShift.from_settings(s, where, with_lambda=False)
        if has_t:
            if budget is not None:
                raise fail(f"{where}.budget", "needs 'strong_fraction' (the shift lowers the share of strong calls)")
            thr = float(get_number(s, "threshold", where))
            frac, calibration = None, None
        else:
            frac = float(get_number(s, "strong_fraction", where, lo=0.0, hi=1.0))
            calibration = calibration_scores(art, si, wi)
            thr = threshold_for(calibration, frac)
        return cls(name, art, pred, (strong_dep, si), (weak_dep, wi), thr, frac, budget,
                   calibration if budget is not None else None)

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "artifact_version": self.artifact_version, "strong_model": self.strong_dep,
                "weak_model": self.weak_dep, "strong_fraction": self.fraction,
                "threshold": self.threshold if math.isfinite(self.threshold) else str(self.threshold)}

    def route(self, request: RouteRequest) -> Decision:
        q = self.pred.predict(request.prompt)
        score = float(q[self.si] - q[self.wi])
        threshold, fraction, shifted = self.threshold, self.fraction, None
        if self.budget is not None and self.budget.depth(request.budget_share) > 0:
            fraction = self.budget.fraction(self.fraction, request.budget_share)
            threshold = threshold_for(self.calibration, fraction)
            shifted = request.budget_share
        margin = score - threshold
        strong = margin >= 0
        first, second = (self.strong_dep, self.weak_dep) if strong else (self.weak_dep, self.strong_dep)
        cands = (ScoredCandidate(self.strong_dep, margin), ScoredCandidate(self.weak_dep, -margin))
        cands = tuple(sorted(cands, key=lambda c: c.name != first))
        frac = f", strong_fraction {fraction:.3f}" if fraction is not None else ""
        budget = self.budget.note(request.budget_share) if self.budget is not None else ""
        why = (f"{self.name}: score {score:.4f} {'>=' if strong else '<'} threshold {threshold:.4f}{frac}{budget} "
               f"-> {'strong' if strong else 'weak'}")
        numbers = {"qualities": tuple(float(x) for x in q), "score": score, "budget_share": shifted}
        if request.allowed(first):
            return Decision(first, cands, self.name, self.artifact_version, why, **numbers)
        if request.allowed(second):
            return Decision(second, cands, self.name, self.artifact_version,
                            f"{why}; {first} not allowed for this key, using {second}", **numbers)
        raise NoCandidateError(f"{self.name} router: neither {self.strong_dep!r} nor {self.weak_dep!r} "
                               f"is allowed for this key")


def calibration_scores(art: Artifact, si: int, wi: int) -> list[float]:
    """The artifact's calibration sample as threshold scores (strong minus weak), highest first."""
    cal = art.arrays.get("calib_pred")
    shape = tuple(getattr(cal, "shape", ()))
    if len(shape) != 2 or shape[0] == 0 or shape[1] != len(art.model_names):
        raise fail("router_settings.strong_fraction", f"artifact {art.version!r} has no calibration sample; "
                                                      f"use an explicit 'threshold' or run `python -m router calibrate --write`")
    flat = cal.flat if isinstance(cal.flat, memoryview) else cal.ravel().tolist()  # NpyArray or numpy
    m = shape[1]
    return sorted((float(flat[i * m + si]) - float(flat[i * m + wi]) for i in range(shape[0])), reverse=True)


def threshold_for(scores: list[float], fraction: float) -> float:
    """Threshold whose share of ``scores`` (highest first) at or above it is ``fraction``."""
    if fraction <= 0:
        return float("inf")
    if fraction >= 1:
        return float("-inf")
    k = int(round(fraction * len(scores)))
    if k <= 0:
        return math.nextafter(scores[0], math.inf)
    return float(scores[k - 1])


def calibrated_threshold(art: Artifact, si: int, wi: int, fraction: float) -> float:
    """Threshold whose share of calibration scores at or above it is ``fraction``."""
    return threshold_for(calibration_scores(art, si, wi), fraction)


class CostAwareRouter:
    def __init__(self, name: str, art: Artifact, pred: Predictor, cols: list[tuple[int, str]], lam: float,
                 prices: dict[str, tuple[float, float]], out_tokens: int, restrict: frozenset[str] | None,
                 budget: BudgetShift | None = None):
        self.name = name
        self.artifact_version = art.version
        self.pred = pred
        self.cols = cols  # (artifact column, deployment)
        self.lam = lam
        self.prices = prices  # deployment-or-model -> (input, output) fallback prices
        self.out_tokens = out_tokens
        self.restrict = restrict
        self.budget = budget

    @classmethod
    def from_settings(cls, s: Mapping[str, Any], art: Artifact, where: str, name: str) -> "CostAwareRouter":
        check_keys(s, ("strategy", "lambda", "models", "candidates", "prices", "expected_output_tokens", "k", "name",
                       "budget"), where)
        lam = float(get_number(s, "lambda", where, lo=0.0, required=True))
        mapping = _model_map(s, art, where) or {m: m for m in art.model_names}
        restrict = get_str_list(s, "candidates", where)
        if restrict is not None:
            missing = [c for c in restrict if c not in mapping.values()]
            if missing:
                raise fail(f"{where}.candidates", f"{', '.join(map(repr, missing))} not reachable: no artifact model "
                                                  f"maps to it (set 'models')")
        names = art.model_names
        cols = [(names.index(k), v) for k, v in mapping.items()]
        prices: dict[str, tuple[float, float]] = {}
        for m in art.manifest["models"]:
            ip, op = m.get("input_price"), m.get("output_price")
            if ip is not None:
                prices["model:" + m["name"]] = (float(ip), float(op if op is not None else ip))
        if s.get("prices") is not None:
            for dep, p in as_mapping(s["prices"], f"{where}.prices").items():
                p = as_mapping(p, f"{where}.prices.{dep}")
                ip = float(get_number(p, "input_price", f"{where}.prices.{dep}", lo=0.0, required=True))
                op = float(get_number(p, "output_price", f"{where}.prices.{dep}", lo=0.0, default=ip))
                prices["dep:" + dep] = (ip, op)
        for i, dep in cols:
            if "dep:" + dep not in prices and "model:" + names[i] not in prices:
                raise fail(f"{where}.prices", f"no price for deployment {dep!r} (artifact model {names[i]!r} has none)")
        k = get_int(s, "k", where, lo=1)
        if k is not None and art.kind != "knn":
            raise fail(f"{where}.k", "only applies to knn artifacts")
        out_tokens = int(get_int(s, "expected_output_tokens", where, lo=0, default=256))
        return cls(name, art, pred=make_predictor(art, k), cols=cols, lam=lam, prices=prices, out_tokens=out_tokens,
                   restrict=frozenset(restrict) if restrict else None,
                   budget=BudgetShift.from_settings(s, where, with_lambda=True))

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "artifact_version": self.artifact_version, "lambda": self.lam,
                "deployments": sorted({d for _, d in self.cols}),
                "candidates": sorted(self.restrict) if self.restrict else None}

    def route(self, request: RouteRequest) -> Decision:
        usable = [(i, d) for i, d in self.cols if request.allowed(d) and (self.restrict is None or d in self.restrict)]
        if not usable:
            raise NoCandidateError(f"{self.name} router: none of its deployments is allowed for this key")
        q = self.pred.predict(request.prompt)
        names = self.pred.models
        costs = []
        for i, dep in usable:
            c = request.candidate(dep)
            if "dep:" + dep in self.prices:  # explicit router setting wins
                ip, op = self.prices["dep:" + dep]
            elif c is not None and c.input_price is not None:  # the gateway's price for the deployment
                ip, op = float(c.input_price), float(c.output_price if c.output_price is not None else c.input_price)
            else:
                ip, op = self.prices["model:" + names[i]]
            costs.append(ip * max(request.tokens, 1) + op * self.out_tokens)
        cmax = max(costs) or 1.0
        lam = self.budget.lam(self.lam, request.budget_share) if self.budget is not None else self.lam
        best: dict[str, tuple[float, float, float]] = {}
        for (i, dep), c in zip(usable, costs):
            u = float(q[i]) - lam * c / cmax
            cur = best.get(dep)
            if cur is None or u > cur[0] or (u == cur[0] and c < cur[2]):
                best[dep] = (u, float(q[i]), c)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][2], kv[0]))
        dep, (u, qq, c) = ranked[0]
        budget = self.budget.note(request.budget_share) if self.budget is not None else ""
        why = (f"{self.name}: lambda {lam:g}{budget}; best utility {u:.4f} (predicted quality {qq:.4f}, "
               f"relative cost {c / cmax:.3f}) among {len(ranked)} deployment(s)")
        shifted = request.budget_share if lam != self.lam else None
        return Decision(dep, tuple(ScoredCandidate(d, v[0]) for d, v in ranked), self.name, self.artifact_version, why,
                        qualities=tuple(float(x) for x in q), budget_share=shifted)
