"""Router artifacts: an immutable directory of ``manifest.json`` + ``.npz``/``.json`` files. Never pickle.

Layout::

    manifest.json   {"schema_version": 1, "kind": "linear"|"knn", "strategy": ..., "version": ...,
                     "created_at": ..., "training_data_sha256": ..., "models": [...], "features": {...},
                     "metrics": {...}, "default_settings": {...},
                     "files": {"weights.npz": "<sha256>", ...},
                     "signature": {"alg": "hmac-sha256", "value": "<hex>"}}   # optional
    weights.npz     numeric arrays; read by ``router.npy`` (no numpy, no pickle: object dtypes are refused)
    *.json          small JSON documents (calibration sample, ...)

The signature is HMAC-SHA256 over the canonical JSON of the manifest without its ``signature`` key
(``json.dumps(sort_keys=True, separators=(",", ":"))``); the manifest pins every file by SHA-256, so
one signature covers the whole directory. The key comes from the ``hmac_key`` argument or the
``ROUTER_ARTIFACT_HMAC_KEY`` environment variable; when a key is configured an unsigned or wrongly
signed artifact is rejected.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import ArtifactError
from .features import FeatureSpec
from .npy import NpyArray, read_npz

SCHEMA_VERSION = 1
HMAC_ENV = "ROUTER_ARTIFACT_HMAC_KEY"
MANIFEST = "manifest.json"
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024  # refuse absurd downloads; the target is <= 10 MB
_REQUIRED = ("schema_version", "kind", "strategy", "version", "created_at", "training_data_sha256",
             "models", "features", "files")


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical_manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_manifest(manifest: Mapping[str, Any], key: str | bytes) -> dict[str, Any]:
    k = key.encode() if isinstance(key, str) else key
    return {"alg": "hmac-sha256", "value": hmac.new(k, canonical_manifest_bytes(manifest), hashlib.sha256).hexdigest()}


def _env_key() -> str | None:
    return os.environ.get(HMAC_ENV) or None


@dataclass(frozen=True, eq=False)
class Artifact:
    """A verified, read-only artifact. Arrays are ``NpyArray`` (read-only memoryviews; ``numpy.asarray``
    works on them in training code)."""

    path: str
    manifest: Mapping[str, Any]
    arrays: Mapping[str, Any]
    documents: Mapping[str, Any] = field(default_factory=dict)
    signature_verified: bool = False

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def strategy(self) -> str:
        return str(self.manifest["strategy"])

    @property
    def model_names(self) -> list[str]:
        return [m["name"] for m in self.manifest["models"]]

    @property
    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.manifest["features"])

    def model_info(self, name: str) -> Mapping[str, Any]:
        for m in self.manifest["models"]:
            if m["name"] == name:
                return m
        raise KeyError(name)

    def describe(self) -> dict[str, Any]:
        """What ``GET /router/info`` shows: no arrays, no paths."""
        m = self.manifest
        return {"version": m["version"], "strategy": m["strategy"], "kind": m["kind"],
                "created_at": m["created_at"], "schema_version": m["schema_version"],
                "training_data_sha256": m["training_data_sha256"],
                "models": list(m["models"]), "metrics": m.get("metrics", {}),
                "signed": "signature" in m, "signature_verified": self.signature_verified}


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") or name == MANIFEST:
        raise ArtifactError(f"artifact manifest lists an invalid file name {name!r}")
    return name


def load_artifact(path: str | os.PathLike[str], hmac_key: str | bytes | None = None) -> Artifact:
    """Read and verify an artifact directory.

    Raises ``ArtifactError`` (with the file and the problem, never data) when the manifest is
    missing/unreadable/incomplete, a listed file is missing, a checksum differs, the signature is
    missing or wrong while a key is configured, or an array file cannot be read without pickle.
    """
    root = Path(path)
    mpath = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"router artifact directory {str(root)!r} does not exist")
    try:
        raw = mpath.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"router artifact {str(root)!r} has no {MANIFEST}") from None
    except OSError as exc:
        raise ArtifactError(f"router artifact manifest {str(mpath)!r} is unreadable: {exc.strerror}") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"router artifact manifest {str(mpath)!r} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"router artifact manifest {str(mpath)!r} must be a JSON object")
    missing = [k for k in _REQUIRED if k not in manifest]
    if missing:
        raise ArtifactError(f"router artifact manifest {str(mpath)!r} lacks {', '.join(missing)}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise ArtifactError(f"router artifact schema_version {manifest['schema_version']!r} is not supported "
                            f"(this code reads {SCHEMA_VERSION})")
    models = manifest["models"]
    if (not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in models)
            or len({m["name"] for m in models}) != len(models)):
        raise ArtifactError(f"router artifact manifest {str(mpath)!r}: 'models' must be a list of objects with "
                            f"unique 'name' strings")
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise ArtifactError(f"router artifact manifest {str(mpath)!r} has an empty or invalid 'files' map")

    key = hmac_key if hmac_key is not None else _env_key()
    verified = False
    if key:
        sig = manifest.get("signature")
        if not isinstance(sig, dict) or sig.get("alg") != "hmac-sha256" or not isinstance(sig.get("value"), str):
            raise ArtifactError(f"router artifact {manifest.get('version')!r} is not signed but an HMAC key "
                                f"is configured ({HMAC_ENV}); refusing it")
        expected = sign_manifest(manifest, key)["value"]
        if not hmac.compare_digest(expected, sig["value"]):
            raise ArtifactError(f"router artifact {manifest.get('version')!r}: HMAC signature does not match "
                                f"(wrong key or the manifest was modified)")
        verified = True

    total = 0
    arrays: dict[str, NpyArray] = {}
    documents: dict[str, Any] = {}
    for name, digest in sorted(files.items()):
        fpath = root / _check_name(name)
        if not fpath.is_file():
            raise ArtifactError(f"router artifact {manifest['version']!r} is missing file {name!r}")
        total += fpath.stat().st_size
        if total > MAX_ARTIFACT_BYTES:
            raise ArtifactError(f"router artifact {manifest['version']!r} is larger than {MAX_ARTIFACT_BYTES} bytes")
        actual = sha256_file(fpath)
        if not hmac.compare_digest(actual, str(digest)):
            raise ArtifactError(f"router artifact {manifest['version']!r}: checksum of {name!r} does not match "
                                f"the manifest (file changed or corrupted)")
        if name.endswith(".npz"):
            try:
                for k, arr in read_npz(str(fpath)).items():
                    if k in arrays:
                        raise ValueError(f"array name {k!r} appears twice")
                    arrays[k] = arr
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
                raise ArtifactError(f"router artifact {manifest['version']!r}: {name!r} is not a readable "
                                    f"pickle-free .npz ({exc})") from None
        elif name.endswith(".json"):
            try:
                documents[name] = json.loads(fpath.read_bytes())
            except (ValueError, UnicodeDecodeError) as exc:
                raise ArtifactError(f"router artifact {manifest['version']!r}: {name!r} is not valid JSON ({exc})") from None
    try:
        FeatureSpec.from_dict(manifest["features"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ArtifactError(f"router artifact {manifest['version']!r}: bad feature spec ({exc})") from None
    return Artifact(path=str(root), manifest=MappingProxyType(manifest), arrays=MappingProxyType(arrays),
                    documents=MappingProxyType(documents), signature_verified=verified)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Training side (numpy available): compressed .npz, numeric dtypes only."""
    import numpy as np

    for k, a in arrays.items():
        if np.asarray(a).dtype.hasobject:
            raise ValueError(f"array {k!r} has an object dtype; artifacts hold numeric arrays only")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    os.close(fd)
    np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_artifact(out_dir: str | os.PathLike[str], manifest: Mapping[str, Any],
                   arrays: Mapping[str, Mapping[str, Any]], documents: Mapping[str, Any] | None = None,
                   extra_files: Mapping[str, bytes] | None = None, hmac_key: str | bytes | None = None) -> dict[str, Any]:
    """Write ``{file.npz: {name: array}}`` (compressed), JSON documents and extra files, then the
    manifest with their SHA-256 (and an HMAC signature when a key is given). Returns the manifest."""
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for fname, group in arrays.items():
        if not _check_name(fname).endswith(".npz"):
            raise ValueError(f"array file {fname!r} must end in .npz")
        write_npz(root / fname, group)
        files[fname] = sha256_file(root / fname)
    for name, doc in (documents or {}).items():
        _atomic_write(root / _check_name(name), json.dumps(doc, sort_keys=True, indent=1).encode())
        files[name] = sha256_file(root / name)
    for name, data in (extra_files or {}).items():
        _atomic_write(root / _check_name(name), data)
        files[name] = sha256_file(root / name)
    full = {k: v for k, v in manifest.items() if k != "signature"}
    full.setdefault("schema_version", SCHEMA_VERSION)
    full.setdefault("created_at", _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat())
    full["files"] = files
    if hmac_key:
        full["signature"] = sign_manifest(full, hmac_key)
    _atomic_write(root / MANIFEST, json.dumps(full, sort_keys=True, indent=1).encode())
    return full


def resign_artifact(path: str | os.PathLike[str], hmac_key: str | bytes | None) -> dict[str, Any]:
    """Recompute file hashes of an existing directory and re-sign (after ``calibrate --write``)."""
    root = Path(path)
    manifest = json.loads((root / MANIFEST).read_bytes())
    manifest["files"] = {n: sha256_file(root / _check_name(n)) for n in manifest["files"]}
    manifest.pop("signature", None)
    if hmac_key:
        manifest["signature"] = sign_manifest(manifest, hmac_key)
    _atomic_write(root / MANIFEST, json.dumps(manifest, sort_keys=True, indent=1).encode())
    return manifest
