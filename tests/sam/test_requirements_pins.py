"""The dependency layer ships exactly the runtime dependencies that pyproject.toml declares, so the
code that runs locally (installed from pyproject) is the code that runs on Lambda."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"not an exact pin: {raw!r}"
        name = _normalise(match.group(1)) + (match.group(2) or "")
        assert name not in pins, f"duplicate requirement {name}"
        pins[name] = match.group(3)
    return pins


def test_layer_requirements_equal_pyproject_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"])
    layer = _pins((ROOT / "layers" / "deps" / "requirements.txt").read_text().splitlines())
    assert layer == declared


def test_streaming_layer_pins_uvicorn_like_pyproject() -> None:
    """The streaming function's extra layer (uvicorn) uses the same pin as the local dev server."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {k: v for k, v in _pins(project["optional-dependencies"]["dev"]).items()}
    streaming = _pins((ROOT / "layers" / "deps" / "streaming-requirements.txt").read_text().splitlines())
    assert streaming == {"uvicorn": dev["uvicorn"]}
