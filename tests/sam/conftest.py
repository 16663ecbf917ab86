"""Fixtures for the SAM tests: the SAM CLI, a real python3.12, one `sam build` per session, and an
x86_64 twin of the dependency layer.

Why a twin: the template targets arm64 and this machine is x86_64, so the built layer's extension
modules cannot be loaded here. The twin is built by the same Makefile target with DEPS_ARCH=x86_64 (same
wheels versions, same slimming, same byte-compilation); a test checks that its Python files are
exactly the built layer's, so a request that runs through the twin runs through the slimmed tree.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_CLI = os.environ.get("SAM_CLI", str(ROOT / ".venv-sam" / "bin" / "sam"))
HOST_ARCH = platform.machine()


def find_python312() -> str | None:
    """A real python3.12 (pyenv's shim named python3.12 exists but may refuse to run)."""
    candidates = [shutil.which("python3.12")] + sorted(str(p) for p in Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"], capture_output=True)
        if probe.returncode == 0:
            return candidate
    return None


PYTHON312 = find_python312()


def tool_env() -> dict[str, str]:
    """Environment for sam/make: telemetry off, python3.12 first on PATH, no PYTHONPATH leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["SAM_CLI_TELEMETRY"] = "0"
    if PYTHON312:
        env["PATH"] = f"{Path(PYTHON312).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def require_tools() -> None:
    if not os.access(SAM_CLI, os.X_OK):
        pytest.skip(f"SAM CLI not found at {SAM_CLI} (make sam-cli, or set SAM_CLI)")
    if not PYTHON312:
        pytest.skip("no python3.12 found (sam build targets python3.12)")


def run_sam(*args: str, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([SAM_CLI, *args], cwd=cwd, env=tool_env(), capture_output=True, text=True, timeout=timeout)


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form intrinsics (!Ref, !Sub, ...) as dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@dataclass
class BuildResult:
    build_dir: Path  # sam build output: one folder per function / layer
    twin_python: Path  # deps layer tree that this machine can import (the twin, or the build itself)
    build_seconds: float
    twin_seconds: float
    log: str


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory) -> BuildResult:
    """`sam build` of template.yaml (once per session), and the deps-layer twin built alongside."""
    require_tools()
    base = tmp_path_factory.mktemp("sam")
    build_dir = base / "build"
    build_log, twin_log = base / "sam-build.log", base / "twin.log"
    env = tool_env()
    started = time.monotonic()
    with build_log.open("w") as blog, twin_log.open("w") as tlog:
        build = subprocess.Popen(
            [SAM_CLI, "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir)],
            cwd=ROOT, env=env, stdout=blog, stderr=subprocess.STDOUT,
        )
        twin = None
        if HOST_ARCH not in {"aarch64", "arm64"}:
            twin = subprocess.Popen(
                ["make", "-s", "-f", str(ROOT / "layers" / "deps" / "Makefile"), "build-DepsLayer",
                 f"ARTIFACTS_DIR={base / 'twin'}", f"DEPS_ARCH={HOST_ARCH}"],
                cwd=base, env=env, stdout=tlog, stderr=subprocess.STDOUT,
            )
        twin_seconds = 0.0
        if twin is not None:
            if twin.wait(timeout=600) != 0:
                build.kill()
                pytest.fail(f"twin deps build (DEPS_ARCH={HOST_ARCH}) failed:\n{_tail(twin_log)}")
            twin_seconds = time.monotonic() - started
        if build.wait(timeout=600) != 0:
            pytest.fail(f"sam build failed:\n{_tail(build_log)}")
        build_seconds = time.monotonic() - started
    twin_python = base / "twin" / "python" if twin is not None else build_dir / "DepsLayer" / "python"
    print(f"\nsam build: {build_seconds:.1f} s; deps twin ({HOST_ARCH}): {twin_seconds:.1f} s (in parallel)")
    return BuildResult(build_dir, twin_python, build_seconds, twin_seconds, build_log.read_text(errors="replace"))


def tree_bytes(path: Path) -> int:
    """Unzipped size as Lambda counts it: the sum of file sizes (symlinks not followed)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
