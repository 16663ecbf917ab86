import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from router import ArtifactError, load_artifact
from router.artifacts import HMAC_ENV, resign_artifact, sign_manifest, write_artifact


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch):
    monkeypatch.delenv(HMAC_ENV, raising=False)


@pytest.fixture()
def art_dir(binary_artifact, tmp_path) -> Path:
    d = tmp_path / "a"
    shutil.copytree(binary_artifact, d)
    return d


def test_loads_and_is_read_only(art_dir):
    art = load_artifact(art_dir)
    assert art.version == "test-binary" and art.kind == "linear" and art.strategy == "threshold"
    assert set(art.manifest["files"]) == {"weights.npz", "calibration.npz"}
    with pytest.raises(TypeError):  # read-only memoryview
        art.arrays["WT"].flat[0] = 1.0
    assert np.asarray(art.arrays["WT"]).shape == art.arrays["WT"].shape
    info = art.describe()
    assert info["metrics"]["cv"]["router"]["apgr"] > 0.5 and "path" not in info


def test_tampered_file_rejected(art_dir):
    p = art_dir / "weights.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum of 'weights.npz' does not match"):
        load_artifact(art_dir)


def test_missing_file_and_manifest_rejected(art_dir):
    (art_dir / "calibration.npz").unlink()
    with pytest.raises(ArtifactError, match="missing file 'calibration.npz'"):
        load_artifact(art_dir)
    (art_dir / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="has no manifest.json"):
        load_artifact(art_dir)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(art_dir / "nope")


def test_unreadable_manifest_rejected(art_dir):
    (art_dir / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(art_dir)
    (art_dir / "manifest.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(ArtifactError, match="lacks"):
        load_artifact(art_dir)


def test_malformed_models_rejected(art_dir):
    m = json.loads((art_dir / "manifest.json").read_text())
    m["models"] = [{"name": "a"}, {"name": "a"}]
    (art_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="unique 'name'"):
        load_artifact(art_dir)


def test_manifest_edit_caught_by_signature(art_dir):
    resign_artifact(art_dir, "s3cret")
    assert load_artifact(art_dir, hmac_key="s3cret").signature_verified
    with pytest.raises(ArtifactError, match="signature does not match"):
        load_artifact(art_dir, hmac_key="wrong-key")
    m = json.loads((art_dir / "manifest.json").read_text())
    m["version"] = "evil"  # e.g. swap metrics/version but keep the old signature
    (art_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="signature does not match"):
        load_artifact(art_dir, hmac_key="s3cret")


def test_unsigned_artifact_rejected_when_key_configured(art_dir, monkeypatch):
    monkeypatch.setenv(HMAC_ENV, "k")
    with pytest.raises(ArtifactError, match="not signed"):
        load_artifact(art_dir)
    resign_artifact(art_dir, "k")
    assert load_artifact(art_dir).signature_verified


def test_pickled_arrays_are_never_loaded(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    np.savez(d / "weights.npz", W=np.array([{"a": 1}], dtype=object))  # needs pickle to read back
    from router.artifacts import sha256_file

    manifest = {"schema_version": 1, "kind": "linear", "strategy": "threshold", "version": "p", "created_at": "x",
                "training_data_sha256": "0", "models": [], "features": {"hash_bits": 10},
                "files": {"weights.npz": sha256_file(d / "weights.npz")}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="pickle-free"):
        load_artifact(d)
    with pytest.raises(ValueError, match="object dtype"):
        write_artifact(tmp_path / "q", manifest, {"weights.npz": {"W": np.array([None], dtype=object)}})


def test_path_traversal_names_rejected(art_dir):
    m = json.loads((art_dir / "manifest.json").read_text())
    m["files"]["../etc/passwd"] = "0" * 64
    (art_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="invalid file name"):
        load_artifact(art_dir)


def test_signature_helper_is_canonical():
    m = {"b": 1, "a": [1, 2], "signature": {"alg": "x", "value": "y"}}
    assert sign_manifest(m, "k") == sign_manifest({"a": [1, 2], "b": 1}, "k")


def test_cli_sign_and_verify(art_dir, monkeypatch, capsys):
    from router.train.cli import main

    monkeypatch.setenv(HMAC_ENV, "sekrit")
    assert main(["sign", "--artifact", str(art_dir)]) == 0
    assert main(["verify", "--artifact", str(art_dir)]) == 0
    assert '"signature_verified": true' in capsys.readouterr().out
    monkeypatch.setenv(HMAC_ENV, "other")  # the CLI reports an ArtifactError as one line and exit code 2
    assert main(["verify", "--artifact", str(art_dir)]) == 2
    assert "HMAC signature does not match" in capsys.readouterr().err
    # a tampered directory is never signed
    monkeypatch.setenv(HMAC_ENV, "sekrit")
    (art_dir / "calibration.npz").write_bytes(b"junk")
    assert main(["sign", "--artifact", str(art_dir)]) == 2
    assert "checksum" in capsys.readouterr().err
