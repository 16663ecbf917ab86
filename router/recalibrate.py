"""A new artifact version whose calibration sample is the deployment's own traffic.

A threshold router turns ``strong_fraction`` into a threshold on the artifact's calibration sample
(``strategies.learned.calibration_scores``). A sample from one task family gives the wrong share on
another (a threshold set on MMLU sent 15% of another family's prompts to the strong model, for a
target of 30%). Every routed request's spend log carries the predictor's qualities (numbers only,
``Decision.qualities``), so the gateway can rebuild the sample from production without storing any
prompt, and every instance picks the new version up by hot reload.

Pure standard library, like serving: the gateway runs this on Lambda, where numpy is not shipped.
The ``.npy`` layout written here is numpy's documented format 1.0
(https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): magic, version, a
little-endian header length, a Python-literal header dict padded with spaces to a multiple of 64
bytes and ending in a newline, then the C-order data.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import sys
import zipfile
from array import array
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .artifacts import MANIFEST, Artifact, canonical_manifest_bytes, sign_manifest
from .errors import ArtifactError
from .strategies.learned import calibration_scores, threshold_for

#: fewer logged decisions than this give a threshold that is mostly noise
MIN_SAMPLES = 100
#: the sample kept in the artifact (the training side keeps up to 4,000 too)
MAX_SAMPLES = 20_000
CALIBRATION_PREFIX = "calibration"


@dataclass(frozen=True)
class Recalibration:
    """The new version: ``files`` to upload (the new calibration file first, ``manifest.json`` last,
    so an instance listing in between still verifies the old manifest) and ``stale`` old files the
    new manifest no longer lists (delete them after the manifest)."""

    version: str
    files: dict[str, bytes]
    stale: tuple[str, ...]
    report: dict[str, Any] = field(default_factory=dict)


def npy_bytes(values: Sequence[float], shape: tuple[int, int]) -> bytes:
    data = array("f", values)
    if sys.byteorder != "little":
        data.byteswap()
    header = repr({"descr": "<f4", "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * (pad % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data.tobytes()


def npz_bytes(arrays: Mapping[str, tuple[Sequence[float], tuple[int, int]]]) -> bytes:
    """A deflated ``.npz`` with fixed member timestamps, so the same numbers give the same SHA-256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (values, shape) in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, npy_bytes(values, shape))
    return buffer.getvalue()


def _share_at_or_above(scores: Sequence[float], threshold: float) -> float:
    return sum(1 for s in scores if s >= threshold) / len(scores) if scores else 0.0


def base_version(art: Artifact) -> str:
    """The version whose weights this artifact carries (a recalibrated one keeps its base's weights)."""
    calibration = art.manifest.get("calibration")
    if isinstance(calibration, Mapping) and isinstance(calibration.get("base_version"), str):
        return calibration["base_version"]
    return art.version


def same_weights(art: Artifact, version: str | None) -> bool:
    """Whether scores logged under ``version`` came from this artifact's predictor."""
    base = base_version(art)
    return version is not None and (version in (art.version, base) or version.startswith(base + "+cal."))


def recalibrate(art: Artifact, qualities: Sequence[Sequence[float]], *, strong: int, weak: int,
                strong_fraction: float, source: Mapping[str, Any], hmac_key: str | bytes | None = None,
                now: _dt.datetime | None = None, min_samples: int = MIN_SAMPLES) -> Recalibration:
    """A new version of ``art`` calibrated on ``qualities`` (one row of per-model qualities per
    logged decision, newest first). Raises ``ArtifactError`` for too few rows or rows that do not
    fit the artifact."""
    m = len(art.model_names)
    rows = [row for row in qualities if len(row) == m][:MAX_SAMPLES]
    if len(rows) < min_samples:
        raise ArtifactError(f"only {len(rows)} logged decisions of artifact {base_version(art)!r} to calibrate on; "
                            f"at least {min_samples} are needed")
    if art.manifest.get("signature") is not None and not hmac_key:
        raise ArtifactError(f"artifact {art.version!r} is signed; set ROUTER_ARTIFACT_HMAC_KEY to sign its new version")
    scores = sorted((float(r[strong]) - float(r[weak]) for r in rows), reverse=True)
    before = threshold_for(calibration_scores(art, strong, weak), strong_fraction)
    after = threshold_for(scores, strong_fraction)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    version = f"{base_version(art)}+cal.{stamp}"
    calibration_file = f"{CALIBRATION_PREFIX}-{stamp}.npz"
    blob = npz_bytes({"calib_pred": ([float(x) for r in rows for x in r], (len(rows), m))})

    old_files = dict(art.manifest["files"])
    stale = tuple(n for n in old_files if n.startswith(CALIBRATION_PREFIX) and n.endswith(".npz"))
    files = {n: d for n, d in old_files.items() if n not in stale}
    files[calibration_file] = hashlib.sha256(blob).hexdigest()
    report = {
        "version": version, "previous_version": art.version, "samples": len(rows),
        "strong_fraction": strong_fraction,
        "threshold_before": before, "threshold_after": after,
        "fraction_before": _share_at_or_above(scores, before),
        "fraction_after": _share_at_or_above(scores, after),
    }
    manifest = {k: v for k, v in art.manifest.items() if k != "signature"}
    manifest.update(version=version, files=files, created_at=now.replace(microsecond=0).isoformat(),
                    calibration={"base_version": base_version(art), "source": dict(source), **report})
    if hmac_key:
        manifest["signature"] = sign_manifest(manifest, hmac_key)
    canonical_manifest_bytes(manifest)  # JSON-safe, or this raises before anything is written
    body = json.dumps(manifest, sort_keys=True, indent=1).encode()
    return Recalibration(version, {calibration_file: blob, MANIFEST: body}, stale, report)
