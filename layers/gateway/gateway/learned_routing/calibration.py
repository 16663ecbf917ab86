"""Calibrate a threshold router on the deployment's own traffic, from its spend logs.

Each routed request's spend log holds the router's decision with the predictor's qualities
(numbers only, never prompt text: ``router.Decision.qualities``). This module reads the decisions
of one virtual model over a recent window, builds a new artifact version whose calibration sample
is that traffic (``router.recalibrate``), and uploads it next to the serving one: the new
calibration file first, then ``manifest.json``, then the old calibration file is deleted. An
instance listing S3 between two writes still finds a manifest that verifies (the old one, or the
new one with every file it names), so no instance ever serves a half-written artifact; every
instance picks the new version up at its next hot-reload check.

One code path for the admin endpoint (``POST /router/calibrate``), the scheduled function
(``functions/router_calibration``) and ``python -m router calibrate --from-spend-logs``.
Only decisions whose artifact carries the same weights count: scores of another predictor would
calibrate nothing.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router import ArtifactError, recalibrate
from router.strategies.learned import ThresholdRouter

from gateway import aws, errors
from gateway.keys.durations import DurationError, parse_duration
from gateway.keys.errors import StoreUnavailable
from gateway.keys.store.dynamodb import default_store

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

#: decisions read from the spend logs at most (the newest first)
MAX_DECISIONS = recalibrate.MAX_SAMPLES
HMAC_ENV = "ROUTER_ARTIFACT_HMAC_KEY"


@dataclass(frozen=True)
class CalibrationRequest:
    router: str  # the virtual model (``router_settings.llm_routers`` key)
    since: str = "7d"  # how far back to read decisions (a duration: ``12h``, ``7d``)
    strong_fraction: float | None = None  # default: the router's own ``strong_fraction``
    dry_run: bool = False  # report only, write nothing
    min_samples: int = recalibrate.MIN_SAMPLES


def _threshold_router(runtime: "Runtime", name: str) -> tuple[ThresholdRouter, str]:
    """The virtual model's threshold router and the name of the artifact it uses."""
    engine = runtime.engine()
    table = runtime.routing_table(engine)
    slot = table.slots.get(name)
    if slot is None:
        raise errors.not_found(f"'{name}' is not a router model; routers: {', '.join(table.names()) or 'none'}",
                               param="router", code="model_not_found")
    if not isinstance(slot.router, ThresholdRouter):
        reason = slot.error or f"its strategy is {slot.settings.get('strategy')!r}"
        raise errors.bad_request(f"Router '{name}' cannot be calibrated: calibration applies to a threshold "
                                 f"router that is serving ({reason}).", param="router", code="router_not_calibratable")
    return slot.router, str(slot.settings.get("artifact") or "default")


def _fraction(req: CalibrationRequest, router: ThresholdRouter) -> float:
    fraction = req.strong_fraction if req.strong_fraction is not None else router.fraction
    if fraction is None:
        raise errors.bad_request(f"Router '{req.router}' uses an explicit threshold; pass strong_fraction to "
                                 "calibrate it.", param="strong_fraction")
    if not 0.0 < float(fraction) < 1.0:
        raise errors.bad_request("strong_fraction must be between 0 and 1 (exclusive).", param="strong_fraction")
    return float(fraction)


def _since_seconds(since: str) -> int:
    try:
        seconds = parse_duration(since).seconds()
    except DurationError as err:
        raise errors.bad_request(f"since: {err}", param="since") from None
    if not 60 <= seconds <= 90 * 86400:
        raise errors.bad_request("since must be between 1m and 90d.", param="since")
    return seconds


def logged_qualities(router_name: str, since_seconds: int, *, now: float | None = None) -> list[tuple[str | None, list[float]]]:
    """(artifact version, qualities) of the virtual model's logged decisions, newest first."""
    now = time.time() if now is None else now
    try:
        logs = default_store().query_logs(key_hash=None, start=now - since_seconds, end=now + 1, limit=MAX_DECISIONS,
                                          with_payload=False, router=router_name)
    except StoreUnavailable as err:
        raise errors.unavailable(f"The spend logs cannot be read: {err}", code="key_store_unavailable") from None
    out = []
    for entry in logs:
        decision = entry.router or {}
        qualities = decision.get("qualities")
        if isinstance(qualities, list) and all(isinstance(q, (int, float)) for q in qualities):
            out.append((decision.get("artifact_version"), [float(q) for q in qualities]))
    return out


def calibrate(runtime: "Runtime", req: CalibrationRequest) -> dict[str, Any]:
    """Compute (and unless ``dry_run`` upload) the calibrated version; returns the report."""
    router, artifact_name = _threshold_router(runtime, req.router)
    fraction = _fraction(req, router)
    since_seconds = _since_seconds(req.since)
    artifact = runtime.artifacts.artifacts.get(artifact_name)
    if artifact is None:
        raise errors.unavailable(f"Artifact '{artifact_name}' is not loaded.", code="router_unavailable")
    decisions = logged_qualities(req.router, since_seconds)
    rows = [q for version, q in decisions if recalibrate.same_weights(artifact, version)]
    try:
        result = recalibrate.recalibrate(
            artifact, rows, strong=router.si, weak=router.wi, strong_fraction=fraction,
            source={"kind": "spend-logs", "router": req.router, "since": req.since},
            hmac_key=os.environ.get(HMAC_ENV) or None, min_samples=req.min_samples)
    except ArtifactError as err:
        raise errors.conflict(str(err), code="calibration_not_possible") from None
    report = {"router": req.router, "artifact": artifact_name, "decisions_read": len(decisions),
              **result.report, "written": False, "location": None}
    if req.dry_run:
        return report
    folder = runtime.artifacts.folders.get(artifact_name)
    if not runtime.artifacts.configured or folder is None:
        raise errors.unavailable("The router artifacts do not come from S3 (LLMROUTER_MODEL_S3_BUCKET), so there "
                                 "is nowhere to write the calibrated version; use dry_run.", code="router_unavailable")
    prefix = runtime.artifacts.prefix + folder
    s3 = aws.client("s3")
    try:
        for name, body in result.files.items():  # the new calibration file, then the manifest
            s3.put_object(Bucket=runtime.artifacts.bucket, Key=prefix + name, Body=body)
        for name in result.stale:
            s3.delete_object(Bucket=runtime.artifacts.bucket, Key=prefix + name)
    except Exception as err:  # AccessDenied when the deployment did not enable calibration writes
        log.error("calibrated router artifact not written: %s", type(err).__name__)
        raise errors.unavailable(f"The calibrated artifact could not be written to s3://{runtime.artifacts.bucket}/"
                                 f"{prefix} ({type(err).__name__}); the deployment must allow it "
                                 "(template parameter RouterCalibration).", code="router_calibration_failed") from None
    log.info("router %r calibrated: artifact %s, %d decisions, strong share %.3f -> %.3f", req.router,
             result.version, report["samples"], report["fraction_before"], report["fraction_after"])
    runtime.artifacts.force_check()  # this instance reloads at its next request; the others at their interval
    return {**report, "written": True, "location": f"s3://{runtime.artifacts.bucket}/{prefix}"}

